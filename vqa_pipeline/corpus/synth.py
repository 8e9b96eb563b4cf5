"""Primitives for synthetic media with a known timeline: speech, tones and noise, frames with drawn
text and shapes, and WAV / MP4 (H.264 + AAC) writing.

(About 450 lines: audio, drawing and encoding primitives that every generator shares; splitting
them would only spread one small toolbox over three files.)

One set of building blocks for the sample-corpus generator (``corpus/generate.py``), the test
fixtures (``vqa_pipeline_tests/``) and the benchmarks, so every synthetic clip is made the same way.

Conventions:

- audio is mono float64 at :data:`SR` (16 kHz), nominally in [-1, 1]; lengths are
  ``round(seconds * SR)`` samples; clips are mixed into a track with :func:`mix_in`;
- frames are Pillow RGB images (:func:`solid_frame`, then :func:`draw_text_box` / :func:`draw_shape`);
- times are in seconds, colours are ``(r, g, b)`` tuples, positions are pixel ``(x, y)``;
- nothing is random without a seed, so the same call gives the same samples and pixels.

Tools: espeak-ng (speech, run as a subprocess), NumPy, Pillow, PyAV; soundfile and scipy for
speech. Heavy imports are local to the functions that need them.

Example:
    >>> track = noise_floor(6.0, std=0.002, seed=1)
    >>> mix_in(track, speech("Mind the gap."), at_s=1.0)           # doctest: +SKIP
    >>> mix_in(track, sound_event("beep"), at_s=4.5)
    (4.5, 4.75)
    >>> frame = solid_frame((20, 60, 200), size=(640, 360))
    >>> draw_text_box(frame, "PLATFORM 9", font_size=48, center_xy=(320, 150))
    (...)
    >>> encode_mp4("clip.mp4", [frame] * 72, fps=12, audio=track)  # doctest: +SKIP
"""

from __future__ import annotations

import functools
import itertools
import shutil
import subprocess
import tempfile
import zlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from fractions import Fraction
from pathlib import Path
from typing import Any, cast

import numpy as np

from vqa_pipeline.media.types import AUDIO_SAMPLE_RATE

SR = AUDIO_SAMPLE_RATE  # every synthetic audio track: 16 kHz mono
RGB = tuple[int, int, int]
Box = tuple[int, int, int, int]  # (x0, y0, x1, y1) in pixels
FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")


def seed_of(*parts: object) -> int:
    """A stable 32-bit seed from any values (``zlib.crc32`` of their ``str``, joined by ``|``)."""
    return zlib.crc32("|".join(map(str, parts)).encode())


# ----------------------------------------------------------------------------------------------
# Audio
# ----------------------------------------------------------------------------------------------


def n_samples(seconds: float) -> int:
    """Samples in ``seconds`` at :data:`SR` (rounded)."""
    return int(round(seconds * SR))


def fade(x: np.ndarray, ms: float = 10.0) -> np.ndarray:
    """A copy of ``x`` with raised-cosine fade-in and fade-out of ``ms`` each (no clicks)."""
    n = min(int(SR * ms / 1000), len(x) // 2)
    if n > 0:
        ramp = 0.5 - 0.5 * np.cos(np.linspace(0.0, np.pi, n))
        x = x.copy()
        x[:n] *= ramp
        x[-n:] *= ramp[::-1]
    return x


def tone(freq_hz: float, seconds: float, *, amp: float = 0.5, fade_ms: float = 0.0,
         decay_per_s: float = 0.0) -> np.ndarray:
    """A sine of ``freq_hz``; ``decay_per_s`` > 0 makes it a struck note (``exp(-decay_per_s * t)``)."""
    t = np.arange(n_samples(seconds)) / SR
    if decay_per_s:
        x = amp * np.exp(-t * decay_per_s) * np.sin(2 * np.pi * freq_hz * t)
    else:
        x = amp * np.sin(2 * np.pi * freq_hz * t)
    return fade(x, fade_ms) if fade_ms else x


def chord(freqs_hz: Sequence[float], seconds: float, *, amp: float = 0.3, fade_ms: float = 8.0) -> np.ndarray:
    """Sines of ``freqs_hz`` played together, their mean at ``amp`` (a dial tone, ringback, DTMF)."""
    t = np.arange(n_samples(seconds)) / SR
    # a sum of arrays is an array (sum()'s stubs allow the int start value 0)
    x = cast(np.ndarray, amp * sum(np.sin(2 * np.pi * f * t) for f in freqs_hz) / len(freqs_hz))
    return fade(x, fade_ms) if fade_ms else x


def warble(center_hz: float, depth_hz: float, rate_hz: float, seconds: float, *, amp: float = 0.4,
           fade_ms: float = 0.0) -> np.ndarray:
    """A frequency-modulated tone: ``center_hz ± depth_hz`` at ``rate_hz`` (a whistle, a siren)."""
    t = np.arange(n_samples(seconds)) / SR
    freq = center_hz + depth_hz * np.sin(2 * np.pi * rate_hz * t)
    x = amp * np.sin(2 * np.pi * np.cumsum(freq) / SR)
    return fade(x, fade_ms) if fade_ms else x


def pink_noise(seconds: float, *, amp: float = 0.45, seed: int = 0, fade_ms: float = 0.0) -> np.ndarray:
    """Pink (1/f power) noise without DC, peak-normalized to ``amp``."""
    n = n_samples(seconds)
    spec = np.fft.rfft(np.random.default_rng(seed).standard_normal(n))
    f = np.fft.rfftfreq(n, 1.0 / SR)
    spec[0] = 0.0
    spec[1:] /= np.sqrt(f[1:])
    x = np.fft.irfft(spec, n)
    x = amp * x / np.abs(x).max()
    return fade(x, fade_ms) if fade_ms else x


def noise_floor(seconds: float, *, std: float = 0.002, seed: int = 0) -> np.ndarray:
    """Faint white noise (``std`` 0.002 is about -54 dBFS): real recordings are never digitally silent."""
    return std * np.random.default_rng(seed).standard_normal(n_samples(seconds))


SOUND_KINDS = ("beep", "tone", "whistle", "noise", "chime", "alarm")


def sound_event(kind: str, *, seed: int = 0) -> tuple[np.ndarray, float | None]:
    """Samples of one named sound event and its main frequency (``None`` when it has no single one).

    ``beep`` 1 kHz 0.25 s; ``tone`` steady 440 Hz 2 s; ``whistle`` 2.5 kHz with vibrato 0.8 s;
    ``noise`` a pink-noise burst 1.5 s (``seed``); ``chime`` a two-note doorbell 1.2 s; ``alarm`` a
    siren sweeping 700-1300 Hz twice a second, 3 s.

    Raises:
        ValueError: an unknown ``kind`` (the known ones are :data:`SOUND_KINDS`).
    """
    if kind == "beep":
        return tone(1000.0, 0.25, amp=0.5, fade_ms=5), 1000.0
    if kind == "tone":
        return tone(440.0, 2.0, amp=0.4, fade_ms=20), 440.0
    if kind == "whistle":
        return warble(2500.0, 60.0, 25.0, 0.8, amp=0.4, fade_ms=15), 2500.0
    if kind == "noise":
        return pink_noise(1.5, amp=0.45, seed=seed, fade_ms=30), None
    if kind == "chime":
        notes = [tone(f, 0.6, amp=0.5, fade_ms=5, decay_per_s=3.0) for f in (660.0, 550.0)]
        return np.concatenate(notes), None
    if kind == "alarm":
        return warble(1000.0, 300.0, 2.0, 3.0, amp=0.4, fade_ms=20), None
    raise ValueError(f"unknown sound kind {kind!r}; known: {', '.join(SOUND_KINDS)}")


def trim_silence(x: np.ndarray, *, level: float = 0.01) -> tuple[np.ndarray, float]:
    """``x`` without the leading/trailing samples quieter than ``level`` x its peak; and the seconds cut at the start.

    Raises:
        ValueError: ``x`` is silent.
    """
    loudness = np.abs(x)
    loud = np.flatnonzero(loudness > level * loudness.max())
    if loud.size == 0:
        raise ValueError("nothing to trim to: the audio is silent")
    return x[loud[0] : loud[-1] + 1], loud[0] / SR


def normalize_peak(x: np.ndarray, peak: float = 0.6) -> np.ndarray:
    """``x`` scaled so its peak is ``peak`` (float64)."""
    return (peak * x / max(float(np.abs(x).max()), 1e-9)).astype(np.float64)


def espeak_available() -> bool:
    return shutil.which("espeak-ng") is not None


def speech(text: str, *, voice: str | None = "en-us", speed_wpm: int = 150, peak: float = 0.6,
           trim_level: float = 0.01, fade_ms: float = 3.0, workdir: Path | None = None) -> np.ndarray:
    """``text`` spoken by espeak-ng at :data:`SR`, silence trimmed, peak-normalized.

    Args:
        text: what is said.
        voice: espeak-ng voice (``-v``); ``None`` for espeak-ng's default voice.
        speed_wpm: words per minute (``-s``).
        peak: the peak amplitude after normalization.
        trim_level: leading/trailing samples quieter than this fraction of the peak are cut, so the
            placement time is the speech onset.
        fade_ms: raised-cosine fades at both ends.
        workdir: where the intermediate WAV goes (default: a temporary folder).

    Raises:
        RuntimeError: espeak-ng is not on PATH, or it produced silence.
    """
    import soundfile as sf
    from scipy.signal import resample_poly

    exe = shutil.which("espeak-ng")
    if exe is None:
        raise RuntimeError("espeak-ng is not on PATH; install it (Debian: apt-get install espeak-ng)")
    with tempfile.TemporaryDirectory(prefix="vqa_speech_") as tmp:
        wav = Path(workdir or tmp) / f"speech_{seed_of(text, voice, speed_wpm):08x}.wav"
        cmd = [exe, *(["-v", voice] if voice else []), "-s", str(speed_wpm), "-w", str(wav), text]
        subprocess.run(cmd, check=True, capture_output=True)
        data, rate = sf.read(str(wav), dtype="float64", always_2d=True)
    mono = data.mean(axis=1)
    if rate != SR:
        from math import gcd

        g = gcd(SR, int(rate))
        mono = resample_poly(mono, SR // g, int(rate) // g)
    try:
        trimmed, _ = trim_silence(mono, level=trim_level)
    except ValueError:
        raise RuntimeError(f"espeak-ng produced silence for {text!r}") from None
    return fade(normalize_peak(trimmed, peak), fade_ms)


def mix_in(track: np.ndarray, clip: np.ndarray, at_s: float) -> tuple[float, float]:
    """Add ``clip`` into ``track`` (in place) from ``at_s``; returns the span it covers, in seconds.

    Raises:
        ValueError: the clip would run past the end of the track.
    """
    i0 = n_samples(at_s)
    i1 = i0 + len(clip)
    if i0 < 0 or i1 > len(track):
        raise ValueError(f"a {len(clip) / SR:.2f} s clip at {at_s:.2f} s does not fit a {len(track) / SR:.2f} s track")
    track[i0:i1] += clip
    return i0 / SR, i1 / SR


def write_audio(path: str | Path, audio: np.ndarray, *, sample_rate: int = SR) -> Path:
    """``audio`` (float, clipped to [-1, 1]) as 16-bit PCM mono; the format follows the suffix (.wav, .flac)."""
    import soundfile as sf

    path = Path(path)
    sf.write(str(path), np.clip(np.asarray(audio), -1.0, 1.0), sample_rate, subtype="PCM_16")
    return path


# ----------------------------------------------------------------------------------------------
# Frames
# ----------------------------------------------------------------------------------------------


FONT_FAMILIES = {"sans": "DejaVuSans", "mono": "DejaVuSansMono", "serif": "DejaVuSerif"}


@functools.lru_cache(maxsize=128)
def font(size: int, *, bold: bool = True, family: str = "sans"):
    """DejaVu ``family`` (``sans``, ``mono`` or ``serif``; bold or regular) at ``size`` px.

    Falls back to the other weight of the family, then to Pillow's default font at that size.
    """
    from PIL import ImageFont

    stem = FONT_FAMILIES[family]
    weights = ("-Bold", "") if bold else ("", "-Bold")
    for weight in weights:
        path = FONT_DIR / f"{stem}{weight}.ttf"
        if path.exists():
            return ImageFont.truetype(str(path), size)
    return ImageFont.load_default(size=size)


def solid_frame(rgb: RGB, *, size: tuple[int, int]):
    """A ``size = (width, height)`` Pillow RGB image filled with ``rgb``."""
    from PIL import Image

    return Image.new("RGB", size, tuple(rgb))


def text_box_layout(text: str, *, font_size: int, center_xy: tuple[int, int], pad_px: int = 10,
                    max_text_width: int | None = None, min_font_size: int = 20, bold: bool = True
                    ) -> tuple[int, tuple[int, int, int, int], tuple[int, int]]:
    """Where :func:`draw_text_box` puts ``text``: ``(font size, box (x0, y0, x1, y1), text origin)``.

    The font shrinks in 2 px steps (not below ``min_font_size``) until the text is at most
    ``max_text_width`` wide; the box is the text's ink bounds plus ``pad_px``, centred on ``center_xy``.
    """
    from PIL import Image, ImageDraw

    draw = ImageDraw.Draw(Image.new("RGB", (8, 8)))
    size = font_size
    while True:
        # a FreeType font's box is whole pixels; Pillow's stubs say float for every kind of font
        x0, y0, x1, y1 = cast(Box, draw.textbbox((0, 0), text, font=font(size, bold=bold)))
        if max_text_width is None or x1 - x0 <= max_text_width or size <= min_font_size:
            break
        size -= 2
    tw, th = x1 - x0, y1 - y0
    cx, cy = center_xy
    box = (cx - tw // 2 - pad_px, cy - th // 2 - pad_px, cx + (tw + 1) // 2 + pad_px, cy + (th + 1) // 2 + pad_px)
    return size, box, (cx - tw // 2 - x0, cy - th // 2 - y0)


def draw_text_box(img, text: str, *, font_size: int, center_xy: tuple[int, int], text_rgb: RGB = (255, 255, 255),
                  box_rgb: RGB | None = (20, 20, 20), pad_px: int = 10, max_text_width: int | None = None,
                  min_font_size: int = 20, bold: bool = True) -> tuple[int, int, int, int]:
    """Draw ``text`` on ``img`` in a filled box (a caption, a sign, a slide line); returns the box.

    ``box_rgb=None`` draws the text alone. See :func:`text_box_layout` for sizes and placement.
    """
    from PIL import ImageDraw

    size, box, origin = text_box_layout(text, font_size=font_size, center_xy=center_xy, pad_px=pad_px,
                                        max_text_width=max_text_width, min_font_size=min_font_size, bold=bold)
    draw = ImageDraw.Draw(img)
    if box_rgb is not None:
        draw.rectangle(box, fill=tuple(box_rgb))
    draw.text(origin, text, font=font(size, bold=bold), fill=tuple(text_rgb))
    return box


def draw_text(img, text: str, xy: tuple[int, int], *, font_size: int, text_rgb: RGB = (255, 255, 255),
              bold: bool = True, family: str = "sans", anchor: str = "la") -> None:
    """Draw ``text`` at ``xy`` with a Pillow text ``anchor`` (``"mm"``: its middle at ``xy``; ``"la"``: top left)."""
    from PIL import ImageDraw

    ImageDraw.Draw(img).text(xy, text, font=font(font_size, bold=bold, family=family), fill=tuple(text_rgb),
                             anchor=anchor)


def draw_box(img, xyxy: tuple[int, int, int, int], rgb: RGB) -> None:
    """A filled rectangle ``(x0, y0, x1, y1)`` (a panel, a screen, a highlight under text)."""
    from PIL import ImageDraw

    ImageDraw.Draw(img).rectangle(xyxy, fill=tuple(rgb))


def draw_text_line(img, text: str, *, font_size: int, top_y: int, x: int | None = None,
                   text_rgb: RGB = (255, 255, 255), bold: bool = True) -> tuple[int, int, int, int]:
    """Draw ``text`` without a box, its top at ``top_y``, centred across ``img`` (or from ``x``).

    The building block of credits cards and slides (a label line above a value line). Returns the
    text's ink box.
    """
    from PIL import ImageDraw

    draw = ImageDraw.Draw(img)
    f = font(font_size, bold=bold)
    x0, _, x1, _ = draw.textbbox((0, 0), text, font=f)
    origin = ((img.width - (x1 - x0)) // 2 if x is None else x, top_y)
    draw.text(origin, text, font=f, fill=tuple(text_rgb))
    return cast(Box, draw.textbbox(origin, text, font=f))  # whole pixels, as in text_box_layout


def draw_shape(img, shape: str, center_xy: tuple[float, float], radius: float, rgb: RGB) -> None:
    """A filled ``"ball"`` (circle) or ``"square"`` of half-size ``radius`` centred on ``center_xy``."""
    from PIL import ImageDraw

    x, y = center_xy
    box = (x - radius, y - radius, x + radius, y + radius)
    if shape == "ball":
        ImageDraw.Draw(img).ellipse(box, fill=tuple(rgb))
    elif shape == "square":
        ImageDraw.Draw(img).rectangle(box, fill=tuple(rgb))
    else:
        raise ValueError(f"unknown shape {shape!r}; known: ball, square")


def glide(from_xy: tuple[float, float], to_xy: tuple[float, float], start_s: float, end_s: float,
          t: float) -> tuple[float, float] | None:
    """Position at ``t`` of something moving in a straight line at constant speed (``None`` outside)."""
    if not start_s <= t <= end_s:
        return None
    a = (t - start_s) / (end_s - start_s)
    return from_xy[0] + a * (to_xy[0] - from_xy[0]), from_xy[1] + a * (to_xy[1] - from_xy[1])


# ----------------------------------------------------------------------------------------------
# Encoding
# ----------------------------------------------------------------------------------------------


def encode_mp4(
    path: str | Path,
    frames: Iterable[Any],
    *,
    fps: float,
    audio: np.ndarray | None = None,
    frame_times_s: Sequence[float] | None = None,
    start_s: float = 0.0,
    time_base: Fraction | None = None,
    x264_options: Mapping[str, str] | None = None,
    audio_bitrate: int | None = None,
    container_format: str | None = None,
) -> Path:
    """Write frames (and mono audio at :data:`SR`) as H.264 (+ AAC) into ``path``.

    Args:
        frames: Pillow RGB images or ``[H, W, 3]`` uint8 arrays, all the same size (even width and height).
        fps: the nominal frame rate; frame ``i`` shows at ``i / fps`` unless ``frame_times_s`` is given.
        audio: mono float samples at :data:`SR`, interleaved with the video as it is written.
        frame_times_s: the time of each frame (variable frame rate).
        start_s: shifts every timestamp (a container that does not start at zero).
        time_base: of the video stream (default ``1 / round(fps)``; give ``1/1000`` for odd times).
        x264_options: libx264 options, e.g. ``{"crf": "28", "preset": "medium", "g": "24"}``.
        audio_bitrate: AAC bits per second (default: the encoder's).
        container_format: e.g. ``"mp4"`` (default: from the file name).
    """
    import av

    def to_frame(img) -> av.VideoFrame:
        if isinstance(img, np.ndarray):
            return av.VideoFrame.from_ndarray(np.ascontiguousarray(img, dtype=np.uint8), format="rgb24")
        return av.VideoFrame.from_image(img)

    path = Path(path)
    rate = int(round(fps))
    tb = time_base or Fraction(1, rate)
    times = list(frame_times_s) if frame_times_s is not None else None
    samples = None if audio is None else np.asarray(audio, dtype=np.float32).reshape(-1)
    a_offset = n_samples(start_s)
    it = iter(frames)
    first = next(it, None)
    if first is None:
        raise ValueError(f"{path}: no frames to encode")
    first = to_frame(first)
    with av.open(str(path), "w", format=container_format) as out:
        vs = out.add_stream("libx264", rate=rate)
        vs.width, vs.height, vs.pix_fmt = first.width, first.height, "yuv420p"
        vs.codec_context.time_base = tb
        vs.options = dict(x264_options or {})
        as_ = None
        if samples is not None:
            as_ = out.add_stream("aac", rate=SR, layout="mono")
            if audio_bitrate:
                as_.bit_rate = audio_bitrate
        a_pos = 0

        def write_audio(limit: int) -> None:
            nonlocal a_pos
            while as_ is not None and a_pos < limit:
                assert samples is not None  # as_ exists only for samples
                chunk = samples[a_pos : min(a_pos + 1024, len(samples))]
                af = av.AudioFrame.from_ndarray(chunk[None, :], format="fltp", layout="mono")
                af.sample_rate, af.pts, af.time_base = SR, a_offset + a_pos, Fraction(1, SR)
                out.mux(as_.encode(af))
                a_pos += len(chunk)

        for i, img in enumerate(itertools.chain([first], it)):
            vf = img if i == 0 else to_frame(img)
            t = times[i] if times is not None else i / fps
            vf.pts, vf.time_base = int(round((start_s + t) / tb)), tb
            out.mux(vs.encode(vf))
            # keep the audio up to the current video time (interleaved writing)
            write_audio(int(t * SR) if times is not None else int(i * SR / fps))
        write_audio(len(samples) if samples is not None else 0)
        out.mux(vs.encode(None))
        if as_ is not None:
            out.mux(as_.encode(None))
    return path


def render_frames(render: Callable[[float], Any], *, duration_s: float, fps: float) -> Iterable[Any]:
    """``render(t)`` for every frame time ``i / fps`` in ``[0, duration_s)``: the input of :func:`encode_mp4`."""
    return (render(i / fps) for i in range(int(round(duration_s * fps))))
