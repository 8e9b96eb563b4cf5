"""Cutting a timeline into windows with stable ids."""

from __future__ import annotations

from vqa_pipeline.media.types import Window, WindowingOptions


def window_id(video_id: str, index: int) -> str:
    """Stable id of a window: the content id of its file plus its index."""
    return f"{video_id}-{index:05d}"


def make_windows(video_id: str, duration_s: float, options: WindowingOptions) -> list[Window]:
    """Windows of ``options.length_s`` every ``options.stride_s`` covering ``[0, duration_s]``.

    The last window is cut at the end of the media; a window shorter than a quarter of the
    stride at the end is folded into the previous one. Media shorter than one window
    (a 0.3 s clip) gets a single window.

    Example:
        >>> [(w.start_s, w.end_s) for w in make_windows("v", 5.0, WindowingOptions())]
        [(0.0, 2.0), (2.0, 4.0), (4.0, 5.0)]
    """
    duration_s = max(float(duration_s), 0.0)
    length, stride = options.length_s, options.stride_s
    starts: list[float] = [0.0]
    while True:
        nxt = round(starts[-1] + stride, 6)
        # Stop when the previous window already reaches the end, or the next would be a sliver.
        if starts[-1] + length >= duration_s or duration_s - nxt < min(0.25 * stride, 0.5):
            break
        starts.append(nxt)
    windows = []
    for i, s in enumerate(starts):
        e = duration_s if i == len(starts) - 1 else min(s + length, duration_s)
        windows.append(Window(window_id(video_id, i), video_id, i, round(s, 6), round(max(e, s), 6)))
    return windows


def keyframe_times(window: Window, every_s: float) -> list[float]:
    """Times at which to take keyframes in a window: centres of ``every_s``-long slices (>= 1)."""
    span = max(window.end_s - window.start_s, 0.0)
    n = max(1, round(span / every_s))
    step = span / n
    return [round(window.start_s + step * (k + 0.5), 6) for k in range(n)]
