"""The read side of the ``windows`` table: open it, search a vector column or BM25, fetch rows.

Retrieval and tuning call these functions with the table handle :func:`open_windows_table` returns
and never touch LanceDB themselves. User input never reaches a filter string: a
:class:`SearchFilter` holds video ids (checked against :data:`ID_PATTERN`) and finite numbers, and
only it writes SQL.

Example:
    >>> table = open_windows_table(".vqa/lance")
    >>> vector_search(table, "emb_text", question_vector, limit=20)[:1]
    [('3f2a...-00006', 0.87)]
"""

from __future__ import annotations

import logging
import math
import os
import re
import threading
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vqa_pipeline.store.errors import describe, is_damage
from vqa_pipeline.store.schema import EVIDENCE_GROUPS, THUMB_COLUMN
from vqa_pipeline.store.search_index import FTS_COLUMN, ann_params, ensure_fts_index, fts_index_current
from vqa_pipeline.store.tables import StoreError
from vqa_pipeline.vectors import ColumnTransform, l2_normalize

log = logging.getLogger(__name__)

TABLE_NAME = "windows"
ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}\Z")  # \Z: "$" would accept a final newline
FTS_MODEL_TAG = "lance-fts-bm25:english-stem"
"""Provenance of BM25 scores (LanceDB's default tokenizer: English stemming)."""
ROW_COLUMNS = ("window_id", "video_id", "source", "window_index", "start_s", "end_s")


def open_windows_table(db: str | Path):
    """The ``windows`` table of the index at ``db``.

    Raises:
        StoreError: the folder or the table does not exist, or the table is empty (the message
            says which command to run).
    """
    from vqa_pipeline.store.errors import raise_object_store_error
    from vqa_pipeline.store.location import DbLocation, is_uri

    path = db if is_uri(db) else Path(db).expanduser()
    if not is_uri(path) and not Path(path).exists():
        raise StoreError(f"no index database at {path}; run `vqa index PATH --db {path}` first")
    try:
        table = _connection(DbLocation.of(path)).open_table(TABLE_NAME)
    except (ValueError, FileNotFoundError, OSError, RuntimeError) as exc:
        raise_object_store_error(exc, path, StoreError)
        if not isinstance(exc, (ValueError, FileNotFoundError)):
            raise
        raise StoreError(f"no '{TABLE_NAME}' table in {path}; run `vqa index PATH --db {path}` first") from exc
    if table.count_rows() == 0:
        raise StoreError(f"the '{TABLE_NAME}' table in {path} is empty; index some videos first")
    return table


MAX_CONNECTIONS = 8
"""Databases whose LanceDB connection a process keeps open for queries (least recently used go)."""
_connections: OrderedDict[tuple, object] = OrderedDict()
_connections_lock = threading.Lock()


def _connection(loc):
    """One LanceDB connection per database per process, reused by every query.

    The connection's session caches the opened index files (IVF centroids, PQ codebooks, the BM25
    and B-tree pages): a fresh connection per query read them again each time, which was 40-50 ms
    of a search at 1M windows (docs/benchmarks.md, "Search at 1M windows"). The table itself is
    opened per call, so every query reads the latest version. A local folder is keyed by its
    identity on disk too: a database deleted and created again under the same name gets a new
    connection, so nothing cached for the old one can be served (a cheap precaution; LanceDB read
    such a database correctly through a reused connection in our test as well).
    """
    key = (loc.uri, tuple(sorted(loc.storage_options().items())), _folder_identity(loc))
    with _connections_lock:
        conn = _connections.get(key)
        if conn is not None:
            _connections.move_to_end(key)
            return conn
    conn = loc.connect()
    with _connections_lock:
        _connections[key] = conn
        while len(_connections) > MAX_CONNECTIONS:
            _connections.popitem(last=False)
    return conn


def _folder_identity(loc) -> tuple[int, int, int] | None:
    """The ``windows`` table folder's identity on disk (``None`` on an object store, or none there)."""
    return _path_identity(Path(loc.uri) / f"{TABLE_NAME}.lance") if loc.is_local else None


def _path_identity(path: str | Path) -> tuple[int, int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_dev, st.st_ino, st.st_ctime_ns


def table_key(table) -> tuple:
    """Identity of a table state (location, version, and a local table folder's identity on disk),
    for caches of derived facts: a database deleted and built again under the same path (or a
    ``windows`` table moved aside by a repair) starts again at version 1, and a long-running
    ``vqa serve`` must not take its facts from the old one (e.g. "its BM25 index is ready")."""
    from vqa_pipeline.store.location import is_uri

    uri = getattr(table, "uri", None)
    if uri is None:
        return str(id(table)), int(table.version), None
    uri = str(uri)
    return uri, int(table.version), None if is_uri(uri) else _path_identity(uri)


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
            parts.append(f"video_id IN ({_in_list(self.video_ids)})" if _in_list(self.video_ids) else "FALSE")
        if self.time_range is not None:
            t0, t1 = self.time_range
            if not (math.isfinite(t0) and math.isfinite(t1)):
                raise ValueError("time range must be finite")
            parts.append(f"end_s > {t0:.6f} AND start_s < {t1:.6f}")
        return " AND ".join(f"({p})" for p in parts) if parts else None


def _in_list(ids: Iterable[str]) -> str:
    return ", ".join(f"'{i}'" for i in dict.fromkeys(ids) if ID_PATTERN.match(i))


# ----------------------------------------------------------------------------------------------
# What the table holds


_catalog_cache: dict[tuple, dict[str, str]] = {}


def video_catalog(table) -> dict[str, str]:
    """``{video_id: source}`` of every indexed video (reads only those two columns; cached per table
    version: ``ask`` looks for a named video, then resolves it, on the same table)."""
    key = table_key(table)
    if key not in _catalog_cache:
        rows = table.search().select(["video_id", "source"]).limit(None).to_arrow()
        _catalog_cache.clear()  # one table state at a time: a new version makes the old one useless
        _catalog_cache[key] = {v: s for v, s in zip(rows.column("video_id").to_pylist(),
                                                    rows.column("source").to_pylist()) if v and s}
    return dict(_catalog_cache[key])


def window_spans(table) -> list[tuple[str, str, str, float, float]]:
    """``(window_id, video_id, source, start_s, end_s)`` of every window with complete values."""
    cols = ["window_id", "video_id", "source", "start_s", "end_s"]
    rows = table.search().select(cols).limit(None).to_arrow().to_pydict()
    return [(w, v, s, float(a), float(b)) for w, v, s, a, b in zip(*(rows[c] for c in cols))
            if w and s is not None and a is not None and b is not None]


_tags_cache: dict[tuple, dict[str, int]] = {}


def column_model_tags(table, column: str, model_column: str) -> dict[str, int]:
    """``{model tag: rows}`` of the rows holding a value in ``column`` (cached per table version).

    ``model_column`` is the column group's ``{group}_model``; an absent column gives ``{}``.
    """
    names = set(table.schema.names)
    if column not in names:
        return {}
    key = (*table_key(table), column, model_column)
    if key not in _tags_cache:
        if model_column in names:
            rows = (table.search().where(f"{column} IS NOT NULL").select([model_column]).limit(None)
                    .to_arrow().column(model_column).to_pylist())
        else:  # an index written before model tags were stored
            rows = [""] * table.count_rows(f"{column} IS NOT NULL")
        counts: dict[str, int] = {}
        for tag in rows:
            counts[tag or ""] = counts.get(tag or "", 0) + 1
        _tags_cache[key] = counts
    return dict(_tags_cache[key])


# ----------------------------------------------------------------------------------------------
# Searching


_rows_cache: dict[tuple, int] = {}


def _row_count(table) -> int:
    key = table_key(table)
    if key not in _rows_cache:
        _rows_cache[key] = table.count_rows()
    return _rows_cache[key]


RERANK_POOL = 4
"""With a column transform, the ``RERANK_POOL * limit`` nearest windows by plain cosine are re-scored."""


def vector_search(table, column: str, vector: np.ndarray, limit: int,
                  flt: SearchFilter | None = None, transform: ColumnTransform | None = None) -> list[tuple[str, float]]:
    """Top ``limit`` windows by cosine similarity in ``column``: ``[(window_id, cosine)]`` best first.

    With ``transform`` (the column's centering, :mod:`vqa_pipeline.store.centering`) the nearest
    windows by plain cosine are re-scored by the cosine of the transformed row and question; the
    index itself holds the plain vectors.
    """
    if flt is not None and flt.empty:
        return []
    if transform is not None:
        return _transformed_search(table, column, vector, limit, flt, transform)
    q = (table.search(l2_normalize(np.asarray(vector, np.float32).ravel()), vector_column_name=column)
         .distance_type("cosine").select(["window_id", "_distance"]).limit(limit))
    # With an ANN index (large tables): probe the share of partitions the index rule sets and
    # re-rank with exact vectors. (A small table is searched exactly; the values are then unused.)
    params = ann_params(_row_count(table), len(np.asarray(vector).ravel()), min_rows=0)
    if params is not None:
        q = q.nprobes(params.nprobes).refine_factor(params.refine_factor)
    where = flt.where() if flt is not None else None
    if where:
        q = q.where(where, prefilter=True)
    # No "IS NOT NULL" prefilter: it scans every row (4x the search at 100k windows); windows
    # without a vector come back with no finite distance and are dropped below.
    rows = q.to_arrow()
    ids = rows.column("window_id").to_pylist()
    dist = rows.column("_distance").to_pylist()
    return [(w, 1.0 - float(d)) for w, d in zip(ids, dist) if d is not None and math.isfinite(d)]


def _transformed_search(table, column: str, vector: np.ndarray, limit: int, flt: SearchFilter | None,
                        transform: ColumnTransform) -> list[tuple[str, float]]:
    pool = vector_search(table, column, vector, RERANK_POOL * limit, flt)
    if not pool:
        return []
    rows = fetch_windows(table, [w for w, _ in pool], [column])
    ids = [w for w, _ in pool if rows.get(w, {}).get(column) is not None]
    x = transform.apply(np.asarray([rows[w][column] for w in ids], np.float32))
    scores = x @ transform.apply(np.asarray(vector, np.float32).ravel())
    order = np.argsort(-scores, kind="stable")[:limit]
    return [(ids[i], float(scores[i])) for i in order]


_fts_ready_versions: set[tuple] = set()


def _fts_ready(table) -> bool:
    """:func:`ensure_fts_index`, skipped for a table version whose index was found up to date
    (listing the indexes on every query cost a few ms at 1M windows; a version's indexes do not
    change). A version whose index is due a refresh that this reader could not do (a writer held
    the lock) is checked again by the next query."""
    if table_key(table) in _fts_ready_versions:
        return True
    if not ensure_fts_index(table):
        return False
    if fts_index_current(table):
        if len(_fts_ready_versions) > 10_000:  # a long-lived server over many versions
            _fts_ready_versions.clear()
        _fts_ready_versions.add(table_key(table))  # the version after a rebuild, if there was one
    return True


def has_full_text(table) -> bool:
    return FTS_COLUMN in table.schema.names


def fts_search(table, text: str, limit: int, flt: SearchFilter | None = None) -> list[tuple[str, float]]:
    """Top ``limit`` windows by BM25 over ``evidence_text``: ``[(window_id, bm25)]`` best first."""
    if (flt is not None and flt.empty) or not text.strip() or not _fts_ready(table):
        return []
    q = table.search(text, query_type="fts", fts_columns=FTS_COLUMN).select(["window_id", "_score"]).limit(limit)
    where = flt.where() if flt is not None else None
    if where:
        q = q.where(where, prefilter=True)
    try:
        rows = q.to_arrow()
    except Exception as exc:  # noqa: BLE001 - a query the FTS parser rejects is "no BM25 hits"
        if is_damage(exc):  # ... but a lost or garbled data or index file is a damaged table, not "no hits"
            raise StoreError(describe(exc, Path(table.uri).parent if getattr(table, "uri", None) else None,
                                      TABLE_NAME)) from None
        log.info("full-text search failed: %s", exc)
        return []
    return list(zip(rows.column("window_id").to_pylist(), (float(s) for s in rows.column("_score").to_pylist())))


def hybrid_search(table, text: str, vector: np.ndarray, column: str, limit: int) -> list[tuple[str, float]]:
    """LanceDB's own hybrid search (``column`` vectors + BM25, ``RRFReranker`` K=60): a baseline."""
    from lancedb.rerankers import RRFReranker

    if not ensure_fts_index(table):
        return []
    q = (table.search(query_type="hybrid", vector_column_name=column, fts_columns=FTS_COLUMN)
         .vector(vector).text(text).distance_type("cosine").rerank(RRFReranker())
         .where(f"{column} IS NOT NULL", prefilter=True).select(["window_id"]).limit(limit))
    try:
        rows = q.to_arrow()
    except Exception as exc:  # noqa: BLE001 - a question the FTS parser rejects has no hybrid result
        log.info("hybrid search failed: %s", exc)
        return []
    return list(zip(rows.column("window_id").to_pylist(), (float(s) for s in rows.column("_relevance_score").to_pylist())))


# ----------------------------------------------------------------------------------------------
# Fetching rows


def _line_columns(names: set[str]) -> list[str]:
    return [c for c in (*ROW_COLUMNS, *(f"{g}_lines" for g in EVIDENCE_GROUPS), "units") if c in names]


def fetch_windows(table, window_ids: Sequence[str], vector_columns: Sequence[str] = ()) -> dict[str, dict]:
    """Rows (as dicts) of the given windows: ids, times, ``{g}_lines`` and the given vector columns."""
    in_list = _in_list(window_ids)
    if not in_list:
        return {}
    names = set(table.schema.names)
    cols = _line_columns(names) + [c for c in vector_columns if c in names]
    rows = table.search().where(f"window_id IN ({in_list})").select(cols).limit(None).to_arrow().to_pylist()
    return {r["window_id"]: r for r in rows}


def fetch_thumbnails(table, window_ids: Sequence[str]) -> dict[str, bytes]:
    """``{window_id: JPEG bytes}`` of the given windows that have a thumbnail (reads only that
    column: the pictures are never loaded by the other fetches)."""
    in_list = _in_list(window_ids)
    if not in_list or THUMB_COLUMN not in table.schema.names:
        return {}
    rows = (table.search().where(f"window_id IN ({in_list})").select(["window_id", THUMB_COLUMN])
            .limit(None).to_arrow().to_pydict())
    return {w: b for w, b in zip(rows["window_id"], rows[THUMB_COLUMN]) if b}


def fetch_span(table, video_id: str, start_s: float, end_s: float, limit: int | None = None) -> list[dict]:
    """Rows of one video's windows overlapping ``[start_s, end_s]``, in time order (the first
    ``limit`` of them when given)."""
    if not ID_PATTERN.match(video_id) or not (math.isfinite(start_s) and math.isfinite(end_s)):
        return []
    pred = f"video_id = '{video_id}' AND end_s > {start_s:.6f} AND start_s < {end_s:.6f}"
    rows = table.search().where(pred).select(_line_columns(set(table.schema.names))).limit(None).to_arrow().to_pylist()
    rows.sort(key=lambda r: (r["start_s"], r["window_index"]))
    return rows[:limit] if limit is not None else rows


def fetch_neighbours(table, rows: Iterable[Mapping], offsets: Sequence[int] = (-1, 1)) -> dict[str, dict]:
    """Rows of the windows at ``window_index + offset`` in the same video as each given row."""
    wanted: dict[str, set[int]] = {}
    for r in rows:
        if r.get("window_index") is None or not r.get("video_id"):
            continue
        for o in offsets:
            if r["window_index"] + o >= 0:
                wanted.setdefault(r["video_id"], set()).add(int(r["window_index"]) + o)
    cols = _line_columns(set(table.schema.names))
    out: dict[str, dict] = {}
    for vid, idxs in wanted.items():
        if not ID_PATTERN.match(vid):
            continue
        pred = f"video_id = '{vid}' AND window_index IN ({', '.join(str(int(i)) for i in sorted(idxs))})"
        for r in table.search().where(pred).select(cols).limit(None).to_arrow().to_pylist():
            out[r["window_id"]] = r
    return out
