"""Small real media files for tests, written with PyAV (libx264 + AAC), plus ffmpeg remuxes."""

from __future__ import annotations

import subprocess
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

SR = 16_000


def frame_color(t: float, scenes: list[tuple[float, tuple[int, int, int]]]) -> tuple[int, int, int]:
    color = scenes[0][1]
    for start, c in scenes:
        if t >= start:
            color = c
    return color


def make_clip(
    path: Path,
    duration_s: float = 4.0,
    fps: float = 10.0,
    size: tuple[int, int] = (320, 240),
    audio: bool = True,
    tone_hz: float = 440.0,
    start_s: float = 0.0,
    vfr: bool = False,
    scenes: list[tuple[float, tuple[int, int, int]]] | None = None,
    marker: bool = False,
) -> Path:
    """Write an H.264 clip whose frames are flat colours (per ``scenes``) and whose audio is a tone.

    ``start_s`` shifts every timestamp (a non-zero container start time); ``vfr`` alternates
    frame durations of 1x and 3x the nominal frame period; ``marker`` paints a white square in
    the top-left corner (to check rotation).
    """
    scenes = scenes or [(0.0, (0, 0, 200))]
    w, h = size
    tb = Fraction(1, 1000)
    with av.open(str(path), "w") as c:
        v = c.add_stream("libx264", rate=int(round(fps)))
        v.width, v.height, v.pix_fmt = w, h, "yuv420p"
        v.codec_context.time_base = tb
        v.options = {"preset": "ultrafast"}
        a = None
        if audio:
            a = c.add_stream("aac", rate=SR)
            a.layout = "mono"
        t, i = 0.0, 0
        while t < duration_s - 1e-9:
            img = np.empty((h, w, 3), np.uint8)
            img[:] = frame_color(t, scenes)
            if marker:
                img[: h // 6, : w // 6] = 255
            frame = av.VideoFrame.from_ndarray(img, format="rgb24")
            frame.pts = int(round((start_s + t) * 1000))
            frame.time_base = tb
            for p in v.encode(frame):
                c.mux(p)
            step = (1.0 if not vfr or i % 2 == 0 else 3.0) / fps
            t += step
            i += 1
        for p in v.encode():
            c.mux(p)
        if a is not None:
            n = int(duration_s * SR)
            samples = (0.3 * np.sin(2 * np.pi * tone_hz * np.arange(n) / SR)).astype(np.float32)
            offset = int(round(start_s * SR))
            for k in range(0, n, 1024):
                fr = av.AudioFrame.from_ndarray(samples[None, k : k + 1024], format="flt", layout="mono")
                fr.sample_rate = SR
                fr.pts = offset + k
                for p in a.encode(fr):
                    c.mux(p)
            for p in a.encode():
                c.mux(p)
    return path


def make_wav(path: Path, duration_s: float = 3.0, tone_hz: float = 1000.0) -> Path:
    import wave

    n = int(duration_s * SR)
    pcm = (0.3 * np.sin(2 * np.pi * tone_hz * np.arange(n) / SR) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as wf:
        wf.setnchannels(1)
        wf.setsampwidth(2)
        wf.setframerate(SR)
        wf.writeframes(pcm.tobytes())
    return path


def ffmpeg(*args: str) -> None:
    import imageio_ffmpeg

    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y", *args], check=True)
