"""Colours of detected things: the dominant colour names inside a detection's box.

"What colour is the lecturer's shirt?" asks about a region, not the whole frame; the whole-frame
``dominant colours`` line of ``visual-stats`` answers it only when the shirt happens to fill the
picture. The ``objects`` extractor already has the box, so the region costs a crop and a
histogram over the palette of :func:`~vqa_pipeline.extractors.visual.color_names` (the same
names the rest of the index uses).

Regions:
- a person: the torso, where clothes are. In a standing figure (box at least
  :data:`STANDING_ASPECT` times taller than wide) that is 20-50 % of the box's height; in a
  head-and-shoulders shot (the talking head) the lower 40 %. The middle half of the width in both
  (less background and arms).
- anything else: the middle 60 % of the box both ways.

The evidence line names, per class, the colours of its best-scoring box in the window:
``colours: person (clothes): red, gray; car: white``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from vqa_pipeline.extractors.visual import dominant_colors

STANDING_ASPECT = 1.8
"""Box height / width (in pixels) from which a person box is a standing figure, not a bust."""
MIN_SHARE = 0.2
"""A colour is named when it covers at least this share of the region."""
MIN_PIXELS = 64
"""Regions smaller than this (in pixels) are too small to name a colour."""
LINE_PREFIX = "colours: "
PART_NAMES = {"person": "person (clothes)"}
"""How the line names the region of a class whose region is a part of the box."""


def region(rgb: np.ndarray, label: str, box: Sequence[float]) -> np.ndarray:
    """The pixels of ``rgb`` (``[H, W, 3]``) whose colour stands for a ``label`` box (``box`` in frame
    fractions x0, y0, x1, y1)."""
    h, w = rgb.shape[:2]
    x0, y0, x1, y1 = (float(v) for v in box)
    x0, x1 = sorted((min(max(x0, 0.0), 1.0), min(max(x1, 0.0), 1.0)))
    y0, y1 = sorted((min(max(y0, 0.0), 1.0), min(max(y1, 0.0), 1.0)))
    bw, bh = (x1 - x0) * w, (y1 - y0) * h
    if label == "person":
        top, bottom = (0.2, 0.5) if bh >= STANDING_ASPECT * max(bw, 1e-6) else (0.6, 1.0)
        left, right = 0.25, 0.75
    else:
        top, bottom, left, right = 0.2, 0.8, 0.2, 0.8
    r0, r1 = int(round((y0 + top * (y1 - y0)) * h)), int(round((y0 + bottom * (y1 - y0)) * h))
    c0, c1 = int(round((x0 + left * (x1 - x0)) * w)), int(round((x0 + right * (x1 - x0)) * w))
    return rgb[r0:r1, c0:c1]


def box_colours(rgb: np.ndarray, dets: Iterable[Any], labels: Iterable[str], min_score: float) -> dict[str, tuple[float, list[str]]]:
    """``{label: (score, colour names)}`` of each class in ``labels``, from its best-scoring detection of
    at least ``min_score`` in this frame (``dets``: objects with ``label``, ``score``, ``box``)."""
    wanted = set(labels)
    best: dict[str, Any] = {}
    for d in dets:
        if d.label in wanted and d.score >= min_score and (d.label not in best or d.score > best[d.label].score):
            best[d.label] = d
    out: dict[str, tuple[float, list[str]]] = {}
    for label, d in best.items():
        pixels = region(rgb, label, d.box)
        if pixels.shape[0] * pixels.shape[1] < MIN_PIXELS:
            continue
        names = dominant_colors(pixels, min_share=MIN_SHARE, top=2)
        if names:
            out[label] = (float(d.score), names)
    return out


def colours_line(per_label: dict[str, tuple[float, list[str]]]) -> str:
    """``colours: person (clothes): red, gray; car: white`` (best-scoring class first), or ""."""
    order = sorted(per_label.items(), key=lambda kv: (-kv[1][0], kv[0]))
    parts = [f"{PART_NAMES.get(label, label)}: {', '.join(names)}" for label, (_, names) in order]
    return LINE_PREFIX + "; ".join(parts) if parts else ""


def parse_colours(text: str) -> dict[str, list[str]]:
    """``{label: colour names}`` of a colours line (``{}`` for any other line)."""
    text = text.strip()
    if not text.startswith(LINE_PREFIX):
        return {}
    out: dict[str, list[str]] = {}
    for part in text[len(LINE_PREFIX):].split(";"):
        name, _, colours = part.rpartition(":")
        label = name.strip().removesuffix(" (clothes)")
        if label:
            out[label] = [c.strip() for c in colours.split(",") if c.strip()]
    return out
