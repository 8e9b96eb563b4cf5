"""Per-column search for a question: every searchable vector column of the index, plus BM25.

The columns and their question encoders come from the extractor registry and the model tags the
index stores (:mod:`vqa_pipeline.retrieval.retrievers`); the searches themselves are store
functions (:mod:`vqa_pipeline.store.search`), run side by side.

User input never reaches a filter string: video values are resolved against the table's own
``video_id``/``source`` values in Python (:func:`vqa_pipeline.store.catalog.match_videos`, the rule
every VIDEO argument follows) and times are checked finite here. An unknown video therefore yields
no rows, not an error.

Example:
    >>> table = open_index(".vqa/lance")
    >>> ranked = search_columns(table, "what temperature is the oven?", k=20)
    >>> ranked["emb_text"][:1]
    [('3f2a...-00006', 0.87)]
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from vqa_pipeline.retrieval.retrievers import BM25, QueryEncoder, index_retrievers, usable_vector_columns
from vqa_pipeline.store.catalog import match_videos, ref_problem
from vqa_pipeline.store.centering import centering_enabled, question_transform
from vqa_pipeline.store.search import (
    ID_PATTERN,
    SearchFilter,
    fetch_neighbours,
    fetch_span,
    fetch_thumbnails,
    fetch_windows,
    fts_search,
    has_full_text,
    open_windows_table,
    vector_search,
    video_catalog,
)
from vqa_pipeline.store.tables import StoreError
from vqa_pipeline.vectors import ColumnTransform, l2_normalize

log = logging.getLogger(__name__)

MAX_QUERY_CHARS = 1000
"""Questions are cut to this many characters before embedding / BM25 (e5 reads 512 tokens anyway)."""
MIN_CANDIDATES = 50
"""Candidates per retriever: ``max(MIN_CANDIDATES, 5 * k)`` for ``k`` hits (:func:`candidate_depth`).

The same depth at query and tuning time matters: z-score fusion standardizes each model's scores
over its returned list, so a config tuned on deeper lists would rank differently at query time."""

__all__ = [
    "BM25", "MAX_QUERY_CHARS", "MIN_CANDIDATES", "QueryEncoder", "QueryError", "SearchFilter", "candidate_depth",
    "check_videos", "clip_question", "encode_and_search", "encode_question", "fetch_neighbours", "fetch_span",
    "fetch_thumbnails", "fetch_windows", "make_filter", "open_index",
    "resolve_videos", "row_vector_scores", "search_columns", "usable_vector_columns",
]


class QueryError(Exception):
    """A query that cannot run (no database, no table, bad arguments). ``str(err)`` is one line."""


class IndexUnavailable(QueryError):
    """The index cannot be read: no database, no or an empty table, a damaged one (not the question's fault)."""


def candidate_depth(k: int) -> int:
    """Per-retriever candidate depth for ``k`` hits (the same for ``vqa search`` and tuning)."""
    return max(MIN_CANDIDATES, 5 * k)


def clip_question(question: str, max_chars: int = MAX_QUERY_CHARS) -> str:
    """Whitespace-normalized question, cut to ``max_chars`` at a word boundary when possible."""
    q = " ".join(question.split())
    if len(q) <= max_chars:
        return q
    cut = q[:max_chars]
    space = cut.rfind(" ")
    return cut[:space] if space > max_chars // 2 else cut


def open_index(db: str | Path):
    """The index's ``windows`` table (an opaque handle for the functions here and in the store).

    Raises:
        QueryError: no database, no table, or an empty one (the message says what to run).
    """
    try:
        return open_windows_table(db)
    except StoreError as exc:
        raise IndexUnavailable(str(exc)) from None



# ----------------------------------------------------------------------------------------------
# Filters


def resolve_videos(table, values: Sequence[str]) -> tuple[str, ...]:
    """Video ids for user-given values (a video id, an indexed path, or a unique path suffix).

    Values that match nothing, or several videos, are dropped with a log message; nothing the user
    typed is ever put into a query string.
    """
    catalog = {vid: (src,) for vid, src in video_catalog(table).items()}
    out: list[str] = []
    for raw in values:
        matches = match_videos(raw, catalog)
        if len(matches) == 1:
            out.append(matches[0])
        elif raw.strip():
            log.info("video %r matches %d indexed videos; ignored", raw[:80], len(matches))
    return tuple(dict.fromkeys(v for v in out if ID_PATTERN.match(v)))


def check_videos(table, values: Sequence[str]) -> None:
    """Refuse a value that names no indexed video, or several (the message lists near matches).

    Raises:
        QueryError: for the first such value.
    """
    catalog = {vid: (src,) for vid, src in video_catalog(table).items()}
    for raw in values:
        matches = match_videos(raw, catalog)
        if len(matches) != 1:
            raise QueryError(ref_problem(raw, matches, catalog))


def make_filter(table, videos: Sequence[str] | None = None,
                time_range: tuple[float, float] | None = None, strict: bool = False) -> SearchFilter:
    """Validate and resolve user restrictions into a :class:`SearchFilter`.

    With ``strict``, a video value that names no indexed video or several is an error (the CLI);
    otherwise it is dropped and matches nothing (the Python API, dev sets).

    Raises:
        QueryError: a time range that is not two finite numbers with start < end; with ``strict``,
            an unknown or ambiguous video.
    """
    if isinstance(videos, str):
        videos = [videos]
    if strict and videos:
        check_videos(table, videos)
    ids = resolve_videos(table, videos) if videos is not None else None
    tr = None
    if time_range is not None:
        try:
            t0, t1 = (float(x) for x in time_range)
        except (TypeError, ValueError):
            raise QueryError("time range must be two numbers: start and end in seconds") from None
        if not (math.isfinite(t0) and math.isfinite(t1)) or t1 <= t0:
            raise QueryError(f"bad time range {t0:g}-{t1:g}: need finite start < end")
        tr = (t0, t1)
    return SearchFilter(ids, tr)


# ----------------------------------------------------------------------------------------------
# Search


def encode_question(question: str, columns: Iterable[str],
                    retrievers: Mapping[str, QueryEncoder]) -> dict[str, np.ndarray]:
    """Normalized question vector per column, each encoder run once."""
    by_encoder: dict[str, np.ndarray] = {}
    out = {}
    for col in columns:
        enc = retrievers[col]
        if enc.name not in by_encoder:
            by_encoder[enc.name] = l2_normalize(np.asarray(enc.encode(question), np.float32).ravel())
        out[col] = by_encoder[enc.name]
    return out


def search_columns(table, question: str, k: int = 50, flt: SearchFilter | None = None,
                   retrievers: Mapping[str, QueryEncoder] | None = None,
                   use_bm25: bool = True,
                   question_vectors: Mapping[str, np.ndarray] | None = None) -> dict[str, list[tuple[str, float]]]:
    """Ranked ``(window_id, score)`` lists per retriever: each usable vector column, plus ``"bm25"``.

    Args:
        table: the index (:func:`open_index`).
        question: the user's question (clipped to :data:`MAX_QUERY_CHARS`).
        k: candidates per retriever.
        flt: restrictions (see :func:`make_filter`).
        retrievers: vector columns to search and their question encoders (default: the index's,
            :func:`~vqa_pipeline.retrieval.retrievers.index_retrievers`).
        use_bm25: also run full-text BM25.
        question_vectors: precomputed :func:`encode_question` output (computed here when ``None``).

    Returns:
        ``{retriever: [(window_id, score), ...]}`` best first; cosine similarity for vectors, BM25
        score for text. Absent or all-null columns are left out.
    """
    return encode_and_search(table, question, k, flt, retrievers, use_bm25, question_vectors)[1]


def encode_and_search(table, question: str, k: int = 50, flt: SearchFilter | None = None,
                      retrievers: Mapping[str, QueryEncoder] | None = None, use_bm25: bool = True,
                      question_vectors: Mapping[str, np.ndarray] | None = None,
                      ) -> tuple[dict[str, np.ndarray], dict[str, list[tuple[str, float]]]]:
    """:func:`search_columns`, also returning the question vectors it searched with.

    When it embeds the question itself, BM25 (which needs no vector) runs while the question is
    embedded; the column searches start once the vectors are there.
    """
    question = clip_question(question)
    if retrievers is None:
        retrievers = index_retrievers(table).encoders
    cols = usable_vector_columns(table, retrievers)
    transforms = column_transforms(table, retrievers, cols)
    out: dict[str, list[tuple[str, float]]] = {}
    # LanceDB releases the GIL: the column searches and BM25 run side by side.
    with ThreadPoolExecutor(max_workers=len(cols) + 1) as pool:
        bm25 = pool.submit(fts_search, table, question, k, flt) if use_bm25 and has_full_text(table) else None
        vectors = dict(question_vectors) if question_vectors is not None else encode_question(question, cols, retrievers)
        futures = {col: pool.submit(vector_search, table, col, vectors[col], k, flt, transforms.get(col))
                   for col in cols}
        for name, fut in futures.items():
            out[name] = fut.result()
        if bm25 is not None:
            out[BM25] = bm25.result()
    return vectors, out


def column_transforms(table, retrievers: Mapping[str, QueryEncoder], cols: Iterable[str]) -> dict[str, ColumnTransform]:
    """The stored centering of each column, when centering is on (``VQA_CENTERING``) and the
    transform's model tag is the encoder's (:mod:`vqa_pipeline.store.centering`)."""
    if not centering_enabled():
        return {}
    out = {}
    for c in cols:
        t = question_transform(table, c, retrievers[c].model_tag)
        if t is not None:
            out[c] = t
    return out


def row_vector_scores(row: Mapping, question_vectors: Mapping[str, np.ndarray]) -> dict[str, float]:
    """Cosine similarity of the question to each of the row's non-null vectors."""
    out = {}
    for col, q in question_vectors.items():
        v = row.get(col)
        if v is not None:
            out[col] = float(l2_normalize(np.asarray(v, dtype=np.float32)) @ q)
    return out
