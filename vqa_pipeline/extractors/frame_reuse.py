"""Reuse a model's result for a frame that barely differs from the last frame it looked at.

The detectors (``objects``, ``people``) run a model per sampled frame; consecutive samples of a
static shot are nearly the same picture, so the last result stands for them. "Barely differs":
the mean absolute difference (0-1) of tiny thumbnails is under a threshold. The reference is the
last frame the model actually *looked at*, not the last one sampled, so a slow pan cannot drift
away from it unnoticed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

import numpy as np

R = TypeVar("R")


def thumbnail(rgb: np.ndarray, size: tuple[int, int], grey: bool = False) -> np.ndarray:
    """``rgb`` shrunk to ``size`` (width, height) by box filtering, as float32 in 0-1."""
    from PIL import Image

    im = Image.fromarray(rgb)
    if grey:
        im = im.convert("L")
    return np.asarray(im.resize(size, Image.Resampling.BOX), np.float32) / 255.0


class ReuseUnchanged(Generic[R]):
    """``look(rgb)`` for each frame, or the last result when the frame barely changed.

    Args:
        look: the model call.
        max_mad: a frame whose thumbnail differs from the last looked-at one by less than this
            (mean absolute difference, 0-1) reuses its result.
        size: the thumbnail's (width, height); ``grey``: compare grey levels instead of colours.

    ``looked`` and ``reused`` count the calls of each sort.
    """

    def __init__(self, look: Callable[[np.ndarray], R], max_mad: float, size: tuple[int, int] = (32, 18),
                 grey: bool = False) -> None:
        self.look = look
        self.max_mad = max_mad
        self.size = size
        self.grey = grey
        self.looked = 0
        self.reused = 0
        self._thumb: np.ndarray | None = None
        self._result: R | None = None

    def __call__(self, rgb: np.ndarray) -> R:
        thumb = thumbnail(rgb, self.size, self.grey)
        if (self._thumb is not None and self._thumb.shape == thumb.shape
                and float(np.abs(thumb - self._thumb).mean()) < self.max_mad):
            self.reused += 1
            return self._result  # type: ignore[return-value]  # set together with _thumb
        result = self.look(rgb)
        self.looked += 1
        self._thumb, self._result = thumb, result
        return result
