"""Per-column search over the LanceDB ``windows`` table: vector columns and BM25 full text.

Each vector column is paired with the text encoder that embeds questions into its space
(:data:`VECTOR_RETRIEVERS`); adding a model is one entry there. Full text uses LanceDB's native
FTS (BM25) index on ``evidence_text``, created or refreshed when missing or stale.

User input never reaches a filter string: video values are resolved against the table's own
``video_id``/``source`` values in Python and the resolved ids must match :data:`ID_PATTERN`; times are
checked finite and formatted here. An unknown video therefore yields no rows, not an error.

Example:
    >>> table = open_windows_table(".vqa/lance")
    >>> ranked = search_columns(table, "what temperature is the oven?", k=20)
    >>> ranked["emb_text"][:1]
    [('3f2a...-00006', 0.87)]
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vqa_pipeline.extractors.text_embed import E5Small
from vqa_pipeline.store.schema import EVIDENCE_GROUPS
from vqa_pipeline.store.search_index import FTS_COLUMN, ensure_fts_index

ANN_NPROBES = 20
ANN_REFINE_FACTOR = 10

log = logging.getLogger(__name__)

TABLE_NAME = "windows"
BM25 = "bm25"
ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$")
MAX_QUERY_CHARS = 1000
"""Questions are cut to this many characters before embedding / BM25 (e5 reads 512 tokens anyway)."""


class QueryError(Exception):
    """A query that cannot run (no database, no table, bad arguments). ``str(err)`` is one line."""


@dataclass(frozen=True, slots=True)
class QueryEncoder:
    """Embeds a question into the space of one or more vector columns.

    Attributes:
        name: short name, e.g. ``"e5-small"``; columns sharing an encoder embed the question once.
        model_tag: provenance; a fusion config tuned for other tags is stale.
        encode: ``text -> 1-D float32 vector`` (normalized by the caller).
    """

    name: str
    model_tag: str
    encode: Callable[[str], np.ndarray]


def _e5_query(text: str) -> np.ndarray:
    from vqa_pipeline.extractors.text_embed import embed_query

    return embed_query(text)


E5_SMALL = QueryEncoder("e5-small", f"{E5Small.model_id}@{E5Small.version}", _e5_query)
"""The ``query:`` side of the e5-small model that wrote ``emb_text`` and ``emb_audio_labels``."""

def _full_text_tower(module: str) -> Callable[[str], np.ndarray]:
    """The text tower of a full-profile model (loaded on first use, from the same weights the
    extractor found: its environment variables or the Hugging Face cache)."""

    def encode(text: str) -> np.ndarray:
        import importlib

        return importlib.import_module(f"vqa_pipeline.extractors.full.{module}").embed_text([text])[0]

    return encode


VECTOR_RETRIEVERS: dict[str, QueryEncoder] = {
    # e5-small passage embedding of the window's evidence text.
    "emb_text": E5_SMALL,
    # Score-weighted mean of e5 embeddings of the window's top sound labels; questions use e5 too.
    "emb_audio_labels": E5_SMALL,
    # Full profile (searched only where the column exists and holds vectors): each model's own text
    # tower embeds the question into its image/video/audio space.
    "emb_clip": QueryEncoder("clip-text", "open_clip-text@1", _full_text_tower("clip")),
    "emb_videoprism": QueryEncoder("videoprism-text", "videoprism-text@1", _full_text_tower("videoprism")),
    "emb_clap": QueryEncoder("clap-text", "laion-clap-text@1", _full_text_tower("clap")),
}
"""``{vector column: question encoder}``. The column name is also the retriever (model) name."""

FTS_MODEL_TAG = "lance-fts-bm25:english-stem"


def retriever_tags(names: Iterable[str] | None = None) -> dict[str, str]:
    """``{retriever: model tag}`` for the given retrievers (all known ones by default)."""
    tags = {col: enc.model_tag for col, enc in VECTOR_RETRIEVERS.items()}
    tags[BM25] = FTS_MODEL_TAG
    return tags if names is None else {n: tags[n] for n in names if n in tags}


def clip_question(question: str, max_chars: int = MAX_QUERY_CHARS) -> str:
    """Whitespace-normalized question, cut to ``max_chars`` at a word boundary when possible."""
    q = " ".join(question.split())
    if len(q) <= max_chars:
        return q
    cut = q[:max_chars]
    space = cut.rfind(" ")
    return cut[:space] if space > max_chars // 2 else cut


# ----------------------------------------------------------------------------------------------
# Opening the table


def open_windows_table(db: str | Path):
    """Open ``db``/``windows`` read-only in spirit (the FTS index may be refreshed later).

    Raises:
        QueryError: the directory or the table does not exist, or the table is empty.
    """
    import lancedb

    path = Path(db).expanduser()
    if not path.exists():
        raise QueryError(f"no index database at {path}; run `vqa index PATH --db {path}` first")
    try:
        conn = lancedb.connect(str(path))
        table = conn.open_table(TABLE_NAME)
    except (ValueError, FileNotFoundError) as exc:
        raise QueryError(f"no '{TABLE_NAME}' table in {path}; run `vqa index PATH --db {path}` first") from exc
    if table.count_rows() == 0:
        raise QueryError(f"the '{TABLE_NAME}' table in {path} is empty; index some videos first")
    return table


# ----------------------------------------------------------------------------------------------
# Filters


@dataclass(frozen=True, slots=True)
class SearchFilter:
    """Resolved, safe restrictions: video ids (``None`` = all) and a time range in seconds."""

    video_ids: tuple[str, ...] | None = None
    time_range: tuple[float, float] | None = None

    @property
    def empty(self) -> bool:
        """True when a video restriction resolved to nothing: no row can match."""
        return self.video_ids is not None and not self.video_ids

    def where(self) -> str | None:
        """SQL predicate built only from validated ids and numbers formatted here."""
        parts = []
        if self.video_ids is not None:
            ids = [v for v in self.video_ids if ID_PATTERN.match(v)]
            parts.append("video_id IN (" + ", ".join(f"'{v}'" for v in ids) + ")" if ids else "FALSE")
        if self.time_range is not None:
            t0, t1 = self.time_range
            parts.append(f"end_s > {t0:.6f} AND start_s < {t1:.6f}")
        return " AND ".join(f"({p})" for p in parts) if parts else None


def video_catalog(table) -> dict[str, str]:
    """``{video_id: source}`` of every indexed video (reads only those two columns)."""
    rows = table.search().select(["video_id", "source"]).limit(None).to_arrow()
    return {v: s for v, s in zip(rows.column("video_id").to_pylist(), rows.column("source").to_pylist()) if v and s}


def resolve_videos(table, values: Sequence[str]) -> tuple[str, ...]:
    """Video ids for user-given values: a video id, an absolute source path, or a unique path suffix.

    Values that match nothing (or match several videos by suffix) are dropped with a log message;
    nothing the user typed is ever put into a query string.
    """
    catalog = video_catalog(table)
    by_source = {src: vid for vid, src in catalog.items()}
    out: list[str] = []
    for raw in values:
        value = raw.strip()
        if not value:
            continue
        if value in catalog:
            out.append(value)
            continue
        resolved = str(Path(value).expanduser().resolve()) if value.startswith(("/", "~", ".")) else value
        if resolved in by_source:
            out.append(by_source[resolved])
            continue
        suffix = value.replace("\\", "/").lstrip("/")
        matches = [vid for src, vid in by_source.items() if src == suffix or src.endswith("/" + suffix)]
        if len(matches) == 1:
            out.append(matches[0])
        else:
            log.info("video %r matches %d indexed videos; ignored", value[:80], len(matches))
    return tuple(dict.fromkeys(v for v in out if ID_PATTERN.match(v)))


def make_filter(table, videos: Sequence[str] | None = None,
                time_range: tuple[float, float] | None = None) -> SearchFilter:
    """Validate and resolve user restrictions into a :class:`SearchFilter`.

    Raises:
        QueryError: a time range that is not two finite numbers with start < end.
    """
    if isinstance(videos, str):
        videos = [videos]
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


def _normalize(v: np.ndarray) -> np.ndarray:
    v = np.asarray(v, dtype=np.float32).ravel()
    n = float(np.linalg.norm(v))
    return v / n if n > 0 else v


_usable_cache: dict[tuple[str, int, tuple[str, ...]], tuple[str, ...]] = {}


def usable_vector_columns(table, retrievers: Mapping[str, QueryEncoder] = VECTOR_RETRIEVERS) -> tuple[str, ...]:
    """Registered vector columns present in the table with at least one non-null value."""
    # The retriever names are part of the key: a call with more retrievers must not see the
    # columns cached for fewer.
    key = (str(getattr(table, "uri", id(table))), int(table.version), tuple(retrievers))
    if key not in _usable_cache:
        names = set(table.schema.names)
        _usable_cache[key] = tuple(
            c for c in retrievers if c in names and table.count_rows(f"{c} IS NOT NULL") > 0
        )
    return _usable_cache[key]


def encode_question(question: str, columns: Iterable[str],
                    retrievers: Mapping[str, QueryEncoder] = VECTOR_RETRIEVERS) -> dict[str, np.ndarray]:
    """Normalized question vector per column, each encoder run once."""
    by_encoder: dict[str, np.ndarray] = {}
    out = {}
    for col in columns:
        enc = retrievers[col]
        if enc.name not in by_encoder:
            by_encoder[enc.name] = _normalize(enc.encode(question))
        out[col] = by_encoder[enc.name]
    return out


def vector_search(table, column: str, vector: np.ndarray, limit: int,
                  flt: SearchFilter | None = None) -> list[tuple[str, float]]:
    """Top ``limit`` windows by cosine similarity in ``column``: ``[(window_id, cosine)]`` best first."""
    if flt is not None and flt.empty:
        return []
    q = (table.search(_normalize(vector), vector_column_name=column)
         .distance_type("cosine").select(["window_id", "_distance"]).limit(limit))
    # With an ANN index (large tables): probe enough partitions and re-rank with exact vectors.
    q = q.nprobes(ANN_NPROBES).refine_factor(ANN_REFINE_FACTOR)
    where = flt.where() if flt is not None else None
    if where:
        q = q.where(where, prefilter=True)
    # No "IS NOT NULL" prefilter: it scans every row (4x the search at 100k windows); windows
    # without a vector come back with no finite distance and are dropped below.
    rows = q.to_arrow()
    ids = rows.column("window_id").to_pylist()
    dist = rows.column("_distance").to_pylist()
    return [(w, 1.0 - float(d)) for w, d in zip(ids, dist) if d is not None and math.isfinite(d)]


def fts_search(table, question: str, limit: int, flt: SearchFilter | None = None) -> list[tuple[str, float]]:
    """Top ``limit`` windows by BM25 over ``evidence_text``: ``[(window_id, bm25)]`` best first."""
    if (flt is not None and flt.empty) or not question.strip() or not ensure_fts_index(table):
        return []
    q = table.search(question, query_type="fts", fts_columns=FTS_COLUMN).select(["window_id", "_score"]).limit(limit)
    where = flt.where() if flt is not None else None
    if where:
        q = q.where(where, prefilter=True)
    try:
        rows = q.to_arrow()
    except Exception as exc:  # noqa: BLE001 - a query the FTS parser rejects is "no BM25 hits"
        log.info("full-text search failed: %s", exc)
        return []
    return list(zip(rows.column("window_id").to_pylist(), (float(s) for s in rows.column("_score").to_pylist())))


def search_columns(table, question: str, k: int = 50, flt: SearchFilter | None = None,
                   retrievers: Mapping[str, QueryEncoder] = VECTOR_RETRIEVERS,
                   use_bm25: bool = True,
                   question_vectors: Mapping[str, np.ndarray] | None = None) -> dict[str, list[tuple[str, float]]]:
    """Ranked ``(window_id, score)`` lists per retriever: each usable vector column, plus ``"bm25"``.

    Args:
        table: the LanceDB windows table.
        question: the user's question (clipped to :data:`MAX_QUERY_CHARS`).
        k: candidates per retriever.
        flt: restrictions (see :func:`make_filter`).
        retrievers: vector columns to search and their question encoders.
        use_bm25: also run full-text BM25.
        question_vectors: precomputed :func:`encode_question` output (computed here when ``None``).

    Returns:
        ``{retriever: [(window_id, score), ...]}`` best first; cosine similarity for vectors, BM25
        score for text. Absent or all-null columns are left out.
    """
    question = clip_question(question)
    out: dict[str, list[tuple[str, float]]] = {}
    cols = usable_vector_columns(table, retrievers)
    if question_vectors is None:
        question_vectors = encode_question(question, cols, retrievers)
    # LanceDB releases the GIL: the column searches and BM25 run side by side.
    with ThreadPoolExecutor(max_workers=len(cols) + 1) as pool:
        futures = {col: pool.submit(vector_search, table, col, question_vectors[col], k, flt) for col in cols}
        if use_bm25 and FTS_COLUMN in table.schema.names:
            futures[BM25] = pool.submit(fts_search, table, question, k, flt)
        for name, fut in futures.items():
            out[name] = fut.result()
    return out


# ----------------------------------------------------------------------------------------------
# Fetching rows


_ROW_COLUMNS = ("window_id", "video_id", "source", "window_index", "start_s", "end_s")


def _in_list(ids: Iterable[str]) -> str:
    safe = [i for i in dict.fromkeys(ids) if ID_PATTERN.match(i)]
    return ", ".join(f"'{i}'" for i in safe)


def fetch_windows(table, window_ids: Sequence[str], vector_columns: Sequence[str] = ()) -> dict[str, dict]:
    """Rows (as dicts) of the given windows: ids, times, ``{g}_lines`` and the given vector columns."""
    if not window_ids:
        return {}
    names = set(table.schema.names)
    cols = [c for c in (*_ROW_COLUMNS, *(f"{g}_lines" for g in EVIDENCE_GROUPS), *vector_columns) if c in names]
    in_list = _in_list(window_ids)
    if not in_list:
        return {}
    rows = table.search().where(f"window_id IN ({in_list})").select(cols).limit(None).to_arrow().to_pylist()
    return {r["window_id"]: r for r in rows}


def fetch_neighbours(table, rows: Iterable[Mapping], offsets: Sequence[int] = (-1, 1)) -> dict[str, dict]:
    """Rows of the windows at ``window_index + offset`` in the same video as each given row."""
    wanted: dict[str, set[int]] = {}
    for r in rows:
        if r.get("window_index") is None or not r.get("video_id"):
            continue
        for o in offsets:
            if r["window_index"] + o >= 0:
                wanted.setdefault(r["video_id"], set()).add(int(r["window_index"]) + o)
    names = set(table.schema.names)
    cols = [c for c in (*_ROW_COLUMNS, *(f"{g}_lines" for g in EVIDENCE_GROUPS)) if c in names]
    out: dict[str, dict] = {}
    for vid, idxs in wanted.items():
        if not ID_PATTERN.match(vid):
            continue
        pred = f"video_id = '{vid}' AND window_index IN ({', '.join(str(int(i)) for i in sorted(idxs))})"
        for r in table.search().where(pred).select(cols).limit(None).to_arrow().to_pylist():
            out[r["window_id"]] = r
    return out


def row_vector_scores(row: Mapping, question_vectors: Mapping[str, np.ndarray]) -> dict[str, float]:
    """Cosine similarity of the question to each of the row's non-null vectors."""
    out = {}
    for col, q in question_vectors.items():
        v = row.get(col)
        if v is not None:
            out[col] = float(_normalize(np.asarray(v, dtype=np.float32)) @ q)
    return out
