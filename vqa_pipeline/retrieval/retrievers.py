"""Which retrievers an index offers, and the question encoder of each: derived from the registry.

Every extractor declares the vector columns questions can search (``query_columns``) and embeds a
question into their space (``embed_query``). The index records, per row, the model tag that wrote
each column group (``{group}_model``). :func:`index_retrievers` pairs the two: a column is searched
with the extractor instance configured here (environment, Hugging Face cache) only when that
instance's ``model_tag`` is the tag stored in the column, so a column built by one checkpoint is
never queried with another checkpoint's text tower; such a column is left out with a notice.

Retriever names are the column names (``emb_text``, ``emb_clip``, ...) plus :data:`BM25`; they
name the weights in ``fusion.json``, and :meth:`IndexRetrievers.tags` gives the model tags a tuned
config is checked against (a different checkpoint makes it stale).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from vqa_pipeline.store.search import FTS_MODEL_TAG, column_model_tags

if TYPE_CHECKING:
    from vqa_pipeline.extractors.base import Extractor

log = logging.getLogger(__name__)

BM25 = "bm25"


@dataclass(frozen=True, slots=True)
class QueryEncoder:
    """Embeds a question into the space of one or more vector columns.

    Attributes:
        name: the extractor's registry name (``"e5-small"``); columns sharing an encoder embed the
            question once.
        model_tag: the model that wrote the column (and embeds the question).
        encode: ``text -> 1-D float32 vector`` (normalized by the caller).
    """

    name: str
    model_tag: str
    encode: Callable[[str], np.ndarray]


@dataclass(frozen=True, slots=True)
class IndexRetrievers:
    """The vector retrievers of one index state, and why any column is not searched.

    Attributes:
        encoders: ``{vector column: question encoder}`` for every searchable column with values.
        notices: one line per column left out (built by another checkpoint than the one configured).
        mismatched: ``{column: configured model tag}`` of the columns left out for that reason.
    """

    encoders: dict[str, QueryEncoder] = field(default_factory=dict)
    notices: tuple[str, ...] = ()
    mismatched: dict[str, str] = field(default_factory=dict)

    def tags(self) -> dict[str, str]:
        """``{retriever: model tag}``, BM25 included: what a tuned fusion config must match. A column
        left out because another checkpoint is configured counts with the configured tag, so a
        config tuned with the old checkpoint is stale."""
        return {**self.mismatched, **{c: e.model_tag for c, e in self.encoders.items()}, BM25: FTS_MODEL_TAG}


_encoders: dict[tuple[str, str], QueryEncoder] = {}
"""One encoder per (extractor, model tag) per process, so a model loads once for every query."""


def index_retrievers(table) -> IndexRetrievers:
    """The registry's searchable columns present in ``table``, each with the matching encoder.

    The stored tags are read once per table version; the extractors are configured afresh on every
    call (cheap: constructors only read options and the environment), so a changed configuration
    is seen at once, while encoders and the models behind them are reused across queries.
    """
    from vqa_pipeline.extractors.registry import create_extractor, get_extractor_class, query_column_owners

    encoders: dict[str, QueryEncoder] = {}
    notices: list[str] = []
    mismatched: dict[str, str] = {}
    configured: dict[str, Extractor] = {}
    for column, name in query_column_owners().items():
        stored = column_model_tags(table, column, f"{get_extractor_class(name).group}_model")
        if not stored:
            continue
        if name not in configured:
            try:
                configured[name] = create_extractor(name)
            except Exception as exc:  # noqa: BLE001 - a model family that cannot even be configured here
                notices.append(f"{column} is not searched: {name} cannot be set up here ({exc})")
                continue
        ex = configured[name]
        tag, model = ex.model_tag, ex.model_id
        # The question encoder is the model (checkpoint); a column written by an older version of
        # the extractor's logic with the same model is still searched with it (and the re-index
        # that a version bump asks for brings it up to date).
        same_model = {t for t in stored if _model_of(t) == model}
        if not same_model:
            built = ", ".join(sorted(t or "unknown" for t in stored))
            notices.append(f"{column} was built by {built} but {name} is configured as {tag} here; "
                           "not searched (re-index, or configure the same weights)")
            mismatched[column] = tag
            continue
        if len(same_model) < len(stored):
            others = ", ".join(sorted(t or "unknown" for t in stored if t not in same_model))
            notices.append(f"{column}: {sum(n for t, n in stored.items() if t not in same_model)} window(s) built by "
                           f"{others} are searched with {tag}; re-index them")
        if tag not in stored:
            tag = max(same_model, key=lambda t: stored[t])  # what the column holds: the tag a fusion config must match
        key = (name, tag)
        if key not in _encoders:
            _encoders[key] = QueryEncoder(name, tag, ex.embed_query)
        encoders[column] = _encoders[key]
    for line in notices:
        log.info(line)
    return IndexRetrievers(encoders, tuple(notices), mismatched)


def _model_of(tag: str) -> str:
    """``multilingual-e5-small-q4@2`` -> ``multilingual-e5-small-q4`` (the model without the logic version)."""
    return tag.rsplit("@", 1)[0]


def usable_vector_columns(table, retrievers: Mapping[str, QueryEncoder]) -> tuple[str, ...]:
    """The columns of ``retrievers`` present in ``table`` with at least one vector."""
    return tuple(c for c in retrievers if column_model_tags(table, c, ""))
