"""Small real media files for tests (PyAV: libx264 + AAC, via ``vqa_pipeline.corpus.synth``), plus ffmpeg remuxes."""

from __future__ import annotations

import subprocess
from fractions import Fraction
from pathlib import Path

import numpy as np

from vqa_pipeline.corpus import synth

SR = synth.SR


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
    times, t, i = [], 0.0, 0
    while t < duration_s - 1e-9:
        times.append(t)
        t += (1.0 if not vfr or i % 2 == 0 else 3.0) / fps
        i += 1

    def frame(t: float) -> np.ndarray:
        img = np.empty((h, w, 3), np.uint8)
        img[:] = frame_color(t, scenes)
        if marker:
            img[: h // 6, : w // 6] = 255
        return img

    track = synth.tone(tone_hz, duration_s, amp=0.3) if audio else None
    return synth.encode_mp4(path, (frame(t) for t in times), fps=fps, audio=track, frame_times_s=times,
                            start_s=start_s, time_base=Fraction(1, 1000), x264_options={"preset": "ultrafast"})


def make_wav(path: Path, duration_s: float = 3.0, tone_hz: float = 1000.0) -> Path:
    """A 16-bit mono WAV of a tone."""
    return synth.write_audio(path, synth.tone(tone_hz, duration_s, amp=0.3))


def ffmpeg(*args: str) -> None:
    import imageio_ffmpeg

    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y", *args], check=True)
