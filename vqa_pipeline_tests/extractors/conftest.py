"""Synthetic, fully known media for the extractor tests, built directly as ``DecodedMedia``.

Timeline of the main fixture (16 s, 2 s windows, keyframes every 1 s, 1280x720):

====== ========== =========================================================================
window  time (s)   content
====== ========== =========================================================================
0       0-2        blue background, silence
1       2-4        "PLATFORM 9" on screen; speech "set the oven to 180 degrees, then wait ten minutes" from 2.2 s
2       4-6        "PLATFORM 9"; end of the sentence
3       6-8        "PLATFORM 9"; silence
4       8-10       blue, 1 kHz beep 8.3-9.7 s
5       10-12      red background (cut at 10.0 s), silence
6       12-14      red, pink noise 12.3-13.7 s
7       14-16      red, a white square moving fast; silence
====== ========== =========================================================================
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
import pytest
from PIL import Image

from vqa_pipeline.corpus import synth
from vqa_pipeline.corpus.synth import mix_in, pink_noise, tone
from vqa_pipeline.media.types import (
    DecodedMedia,
    Keyframe,
    MediaInfo,
    Window,
    WindowingOptions,
)

SR = synth.SR
SENTENCE = "Set the oven to 180 degrees, then wait ten minutes."
SPEECH_AT_S = 2.2
BEEP_S = (8.3, 9.7)
NOISE_S = (12.3, 13.7)
CUT_AT_S = 10.0
TEXT = "PLATFORM 9"
TEXT_S = (2.0, 8.0)
MOTION_S = (14.0, 16.0)
DURATION_S = 16.0
FRAME_W, FRAME_H = 1280, 720

BLUE = (20, 60, 200)
RED = (200, 30, 30)

HAS_ESPEAK = synth.espeak_available()
# Tests that hear the spoken sentence: skipped without espeak-ng, failed under CI (see ``needs.py``).
needs_espeak = pytest.mark.usefixtures("espeak_ng")


# ---------------------------------------------------------------------------------------------
# audio (primitives from vqa_pipeline.corpus.synth)


def espeak(text: str) -> np.ndarray:
    """``text`` in the fixtures' voice: espeak-ng's default voice at 150 wpm, peak 0.8, float32."""
    return synth.speech(text, voice=None, speed_wpm=150, peak=0.8, fade_ms=0).astype(np.float32)


def beep(seconds: float, amp: float = 0.5) -> np.ndarray:
    """The fixtures' beep: 1 kHz with 10 ms fades."""
    return tone(1000.0, seconds, amp=amp, fade_ms=10).astype(np.float32)


def noise_burst(seconds: float, amp: float = 0.3, seed: int = 0) -> np.ndarray:
    return pink_noise(seconds, amp=amp, seed=seed).astype(np.float32)


# ---------------------------------------------------------------------------------------------
# video


def render_frame(t: float, width: int = FRAME_W, height: int = FRAME_H) -> Image.Image:
    im = synth.solid_frame(BLUE if t < CUT_AT_S else RED, size=(width, height))
    s = width / 1280
    if TEXT_S[0] <= t < TEXT_S[1]:
        synth.draw_text_box(im, TEXT, font_size=int(96 * s), center_xy=(width // 2, int(height * 0.45)),
                            text_rgb=(10, 10, 10), box_rgb=(250, 250, 250), pad_px=int(30 * s))
    if MOTION_S[0] <= t < MOTION_S[1]:
        # a big white square sweeping across the frame (fast motion, 1.7 sweeps per second)
        side = int(300 * s)
        phase = (t - MOTION_S[0]) * 1.7
        x = int((phase - np.floor(phase)) * (width - side))
        synth.draw_shape(im, "square", (x + side / 2, int(height * 0.3) + side / 2), side / 2, (255, 255, 255))
    return im


def jpeg(im: Image.Image, quality: int = 90) -> bytes:
    buf = io.BytesIO()
    im.save(buf, format="JPEG", quality=quality)
    return buf.getvalue()


# ---------------------------------------------------------------------------------------------
# DecodedMedia


def make_windows(video_id: str, duration_s: float, length_s: float = 2.0) -> list[Window]:
    out = []
    i = 0
    start = 0.0
    while start < duration_s - 1e-9:
        end = min(duration_s, start + length_s)
        out.append(Window(f"{video_id}-w{i}", video_id, i, round(start, 3), round(end, 3)))
        i += 1
        start += length_s
    return out


def make_media(
    *,
    video_id: str = "synthetic",
    duration_s: float = DURATION_S,
    audio: np.ndarray | None = None,
    with_video: bool = True,
    keyframe_every_s: float = 1.0,
    thumb_fps: float = 4.0,
    frame=render_frame,
    width: int = FRAME_W,
    height: int = FRAME_H,
) -> DecodedMedia:
    """A ``DecodedMedia`` with 2 s windows; frames from ``frame(t)``, audio as given."""
    opts = WindowingOptions(length_s=2.0, stride_s=2.0, keyframe_every_s=keyframe_every_s, thumb_fps=thumb_fps)
    windows = make_windows(video_id, duration_s)
    keyframes: list[Keyframe] = []
    thumbs = np.zeros((0, 18, 32, 3), np.uint8)
    thumb_times = np.zeros(0, np.float64)
    if with_video:
        for w in windows:
            n = max(1, int(round((w.end_s - w.start_s) / keyframe_every_s)))
            step = (w.end_s - w.start_s) / n
            for k in range(n):
                t = w.start_s + (k + 0.5) * step
                im = frame(t)
                keyframes.append(Keyframe(t_s=t, window_index=w.index, jpeg=jpeg(im), width=im.width, height=im.height))
        thumb_times = np.arange(0.0, duration_s, 1.0 / thumb_fps)
        thumbs = np.stack(
            [np.asarray(frame(t, 320, 180).resize((32, 18), Image.BILINEAR)) for t in thumb_times]
        ).astype(np.uint8)
    info = MediaInfo(
        duration_s=duration_s,
        has_video=with_video,
        has_audio=audio is not None and audio.size > 0,
        width=width if with_video else 0,
        height=height if with_video else 0,
        fps=25.0 if with_video else 0.0,
    )
    return DecodedMedia(
        video_id=video_id,
        info=info,
        options=opts,
        windows=windows,
        keyframes=keyframes,
        audio=np.zeros(0, np.float32) if audio is None else audio.astype(np.float32),
        thumbs=thumbs,
        thumb_times_s=thumb_times,
    )


def main_audio(duration_s: float = DURATION_S) -> np.ndarray:
    # a faint noise floor (real recordings are never digitally silent)
    track = synth.noise_floor(duration_s, std=1e-4, seed=1).astype(np.float32)
    if HAS_ESPEAK:
        mix_in(track, espeak(SENTENCE), SPEECH_AT_S)
    mix_in(track, beep(BEEP_S[1] - BEEP_S[0]), BEEP_S[0])
    mix_in(track, noise_burst(NOISE_S[1] - NOISE_S[0]), NOISE_S[0])
    return track


@dataclass
class Scenario:
    media: DecodedMedia
    speech_end_s: float


@pytest.fixture(scope="session")
def scenario() -> Scenario:
    audio = main_audio()
    speech_len = len(espeak(SENTENCE)) / SR if HAS_ESPEAK else 0.0
    return Scenario(media=make_media(audio=audio), speech_end_s=SPEECH_AT_S + speech_len)


@pytest.fixture(scope="session")
def media(scenario: Scenario) -> DecodedMedia:
    return scenario.media


@pytest.fixture(scope="session")
def no_audio_media() -> DecodedMedia:
    return make_media(video_id="silent-video", duration_s=6.0, audio=None)


@pytest.fixture(scope="session")
def audio_only_media() -> DecodedMedia:
    track = np.zeros(int(6.0 * SR), np.float32)
    mix_in(track, beep(1.0), 2.5)
    return make_media(video_id="audio-only", duration_s=6.0, audio=track, with_video=False)


@pytest.fixture(scope="session")
def tiny_media() -> DecodedMedia:
    """A 0.3 s clip: one window, one keyframe, digital silence."""
    return make_media(
        video_id="tiny",
        duration_s=0.3,
        audio=np.zeros(int(0.3 * SR), np.float32),
        keyframe_every_s=1.0,
    )


@pytest.fixture(scope="session")
def tiny_loud_media() -> DecodedMedia:
    """A 0.3 s clip with content: the start of the sentence plus a beep, and on-screen text."""
    audio = np.zeros(int(0.3 * SR), np.float32)
    if HAS_ESPEAK:
        mix_in(audio, espeak(SENTENCE)[: int(0.25 * SR)], 0.0)
    mix_in(audio, beep(0.3, amp=0.2), 0.0)
    return make_media(
        video_id="tiny-loud",
        duration_s=0.3,
        audio=audio,
        frame=lambda t, w=FRAME_W, h=FRAME_H: render_frame(3.0, w, h),
    )


@pytest.fixture(scope="session")
def blank_media() -> DecodedMedia:
    """4 s of black frames and digital silence."""
    return make_media(
        video_id="blank",
        duration_s=4.0,
        audio=np.zeros(int(4.0 * SR), np.float32),
        frame=lambda t, w=FRAME_W, h=FRAME_H: synth.solid_frame((0, 0, 0), size=(w, h)),
    )


def window_of(media: DecodedMedia, t: float) -> int:
    for w in media.windows:
        if w.start_s <= t < w.end_s:
            return w.index
    return media.windows[-1].index


@pytest.fixture(scope="session")
def lite_outputs(media: DecodedMedia) -> dict:
    """Outputs of the four upstream lite extractors on the main fixture, keyed by group."""
    from vqa_pipeline.extractors.registry import create_extractor

    outs = {}
    for name in ("whisper-base", "rapidocr", "yamnet", "visual-stats"):
        ex = create_extractor(name)
        ex.load()
        outs[ex.group] = ex.extract(media, outs)
    return outs


@pytest.fixture(scope="session")
def nanodet_objects():
    """The lite ``objects`` extractor (NanoDet) with its model loaded, once per session; skipped
    (failing under CI) where the converted model is not installed."""
    from vqa_pipeline.extractors.objects import Objects
    from vqa_pipeline_tests.models.conftest import installed

    installed("nanodet")
    ex = Objects()
    ex.load()
    return ex
