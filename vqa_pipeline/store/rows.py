"""Rows of the ``windows`` table as the store writes them: a decoded file's base rows, and one
extractor group's column values (its evidence lines as structs, its model tag, its vectors/tags)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import numpy as np
import pyarrow as pa

from vqa_pipeline.media.types import DecodedMedia


def window_rows(media: DecodedMedia, source: str, digest: str) -> pa.Table:
    """Base rows of the windows table for a decoded file, or the windows a segment owns (no model
    columns yet)."""
    kts: dict[int, list[float]] = {}
    for k in media.keyframes:
        kts.setdefault(k.window_index, []).append(k.t_s)
    lo, hi = media.core_range
    ws = media.windows[lo:hi]
    return pa.table(
        {
            "window_id": [w.window_id for w in ws],
            "video_id": [media.video_id] * len(ws),
            "source": [source] * len(ws),
            "content_hash": [digest] * len(ws),
            "window_index": pa.array([w.index for w in ws], pa.int32()),
            "start_s": [w.start_s for w in ws],
            "end_s": [w.end_s for w in ws],
            "keyframe_ts": [kts.get(w.index, []) for w in ws],
            "windowing": [media.options.tag] * len(ws),
        }
    )


def _plain(value):
    """A value LanceDB/Arrow accepts: NumPy arrays and scalars become lists and Python numbers."""
    if isinstance(value, np.ndarray):
        return value.astype(np.float32).tolist() if value.dtype.kind == "f" else value.tolist()
    if isinstance(value, (np.floating, np.integer, np.bool_)):
        return value.item()
    return value


def group_columns(group: str, model_tag: str, lines: Sequence[Iterable], columns: Mapping[str, Sequence],
                  declared: Iterable[str]) -> dict[str, list]:
    """One extractor group's column values for a video's windows.

    Args:
        group: the column group (``asr``, ``ocr``, ...).
        model_tag: what produced them (``{group}_model``).
        lines: per window, its evidence lines (objects with ``start_s``, ``end_s``, ``text``).
        columns: extra column values per window; only ``declared`` ones are kept.
        declared: the extractor's declared extra columns.
    """
    keep = set(declared)
    out: dict[str, list] = {
        f"{group}_lines": [
            [{"start_s": float(ln.start_s), "end_s": float(ln.end_s), "text": ln.text} for ln in window] or None
            for window in lines
        ],
        f"{group}_model": [model_tag] * len(lines),
    }
    for name, values in columns.items():
        if name in keep:
            out[name] = [_plain(v) for v in values]
    return out
