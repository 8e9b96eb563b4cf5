"""Per-column centering (:class:`~vqa_pipeline.vectors.ColumnTransform`), kept with the column.

The transform is fitted at index time on the column's vectors and stored in the vector field's
metadata (key :data:`META_KEY`) together with the model tag of the rows it was fitted on, so it
travels with the table (a copy, an object store) and survives reopening. Questions are
transformed only when :func:`centering_enabled` and the tag matches the encoder's: a transform
fitted on another checkpoint's vectors is never applied.
"""

from __future__ import annotations

import logging
import os

import numpy as np

from vqa_pipeline.store.errors import plain_reason
from vqa_pipeline.vectors import ColumnTransform

log = logging.getLogger(__name__)

META_KEY = "vqa.centering"
ENV = "VQA_CENTERING"
DEFAULT_ON = False
"""Off by default: on the 1,536-window e5 corpus of docs/benchmarks.md ("Hubness") it raised recall@10
by 3 questions of 300, within noise, while every vector score the fusion weights were tuned on changes."""
REMOVE = 0
"""Top principal directions removed besides the mean (0: centering only)."""
FIT_ROWS = 50_000
"""The transform is fitted on at most this many rows with a vector (the first ones)."""
REFIT_SHARE = 0.2
"""Refitted once the column has this share more (or fewer) rows than it was fitted on."""


def centering_enabled() -> bool:
    """``VQA_CENTERING=1`` / ``0`` overrides :data:`DEFAULT_ON`."""
    raw = os.environ.get(ENV, "").strip().lower()
    return DEFAULT_ON if raw == "" else raw in ("1", "true", "yes", "on")


def stored_transform(table, column: str) -> ColumnTransform | None:
    """The transform stored with ``column``, or ``None`` (none stored, or unreadable)."""
    if column not in table.schema.names:
        return None
    raw = (table.schema.field(column).metadata or {}).get(META_KEY.encode())
    if not raw:
        return None
    try:
        return ColumnTransform.from_json(raw.decode())
    except (ValueError, KeyError, TypeError) as exc:
        log.warning("ignoring the unreadable centering of %s in 'windows': %s", column, exc)
        return None


def fit_column_transform(table, column: str, model_column: str, remove: int = REMOVE,
                         fit_rows: int = FIT_ROWS) -> ColumnTransform | None:
    """Fit (or keep) the transform of ``column`` and store it in the field's metadata.

    Kept while the column's main model tag is the one it was fitted on and the table has about as
    many rows as then (:data:`REFIT_SHARE`), so a re-run reads no vectors. Returns the transform
    in force afterwards (``None``: no vectors).
    """
    from vqa_pipeline.store.search import column_model_tags

    tags = column_model_tags(table, column, model_column)
    if not tags:
        return None
    tag = max(tags, key=lambda t: tags[t])
    n = table.count_rows()
    old = stored_transform(table, column)
    if old is not None and old.model_tag == tag and abs(n - old.table_rows) <= REFIT_SHARE * old.table_rows:
        return old
    vec = (table.search().where(f"{column} IS NOT NULL").select([column]).limit(fit_rows).to_arrow()
           .column(column).combine_chunks())
    x = np.asarray(vec.values.to_numpy(zero_copy_only=False), np.float32).reshape(len(vec), -1)
    t = ColumnTransform.fit(x, tag, remove=remove, table_rows=n)
    meta = {k.decode(): v.decode() for k, v in (table.schema.field(column).metadata or {}).items()}
    try:
        table.replace_field_metadata(column, {**meta, META_KEY: t.to_json()})
    except Exception as exc:  # noqa: BLE001 - centering is an option; search works without it
        log.warning("could not store the centering of %s in 'windows': %s", column, plain_reason(exc))
        return old
    return t


def question_transform(table, column: str, model_tag: str) -> ColumnTransform | None:
    """The transform to apply to questions searched in ``column`` with ``model_tag``, if any."""
    t = stored_transform(table, column)
    if t is None:
        return None
    if t.model_tag != model_tag:
        log.info("the centering of %s was fitted on %s vectors, not %s; not applied (re-index to refit)",
                 column, t.model_tag or "unknown", model_tag)
        return None
    return t


def fit_column_transforms(table) -> dict[str, ColumnTransform]:
    """Fit (or keep) the transform of every searchable vector column (the registry's ``query_columns``)."""
    from vqa_pipeline.extractors.registry import get_extractor_class, query_column_owners

    out = {}
    for column, name in query_column_owners().items():
        t = fit_column_transform(table, column, f"{get_extractor_class(name).group}_model")
        if t is not None:
            out[column] = t
    return out
