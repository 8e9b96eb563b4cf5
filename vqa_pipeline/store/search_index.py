"""The full-text (BM25) index over ``evidence_text``, kept fresh by the indexer."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from vqa_pipeline.store.errors import plain_reason

log = logging.getLogger(__name__)

FTS_COLUMN = "evidence_text"


def _fts_index(table):
    for idx in table.list_indices():
        if list(idx.columns) == [FTS_COLUMN] and str(idx.index_type).upper() == "FTS":
            return idx
    return None


FTS_SMALL_TABLE_ROWS = 5_000
"""Below this many rows a rebuild is cheap (well under a second): the index is kept complete."""
FTS_STALE_FRACTION = float(os.environ.get("VQA_FTS_STALE_FRACTION", "0.1"))
"""Above ``FTS_SMALL_TABLE_ROWS``, the index is rebuilt once the unindexed rows exceed this fraction of
the indexed ones (or ``FTS_MAX_UNINDEXED_ROWS``). Rebuilding after every video made a corpus built one
video at a time (a Dagster run per video) cost O(N^2); rebuilding at geometric steps costs O(N) in
all. ``0`` rebuilds after every write (the former behaviour)."""
FTS_MAX_UNINDEXED_ROWS = 50_000
"""Unindexed rows are searched flat by LanceDB: bound how many a query scans on a very large table."""


def fts_needs_rebuild(indexed: int, unindexed: int) -> bool:
    """Whether the BM25 index with ``indexed`` rows in it and ``unindexed`` rows outside is due a rebuild."""
    if unindexed <= 0:
        return False
    if indexed + unindexed < FTS_SMALL_TABLE_ROWS:
        return True
    return unindexed > min(FTS_STALE_FRACTION * indexed, FTS_MAX_UNINDEXED_ROWS)


def fts_index_current(table) -> bool:
    """Whether the BM25 index exists and is not due a rebuild (:func:`fts_needs_rebuild`)."""
    idx = _fts_index(table)
    return idx is not None and not fts_needs_rebuild(int(getattr(idx, "num_indexed_rows", 0) or 0),
                                                     int(getattr(idx, "num_unindexed_rows", 0) or 0))


def ensure_fts_index(table) -> bool:
    """Create the BM25 index on ``evidence_text`` if missing; rebuild it when too many rows are unindexed.

    Rows written since the last build are searched too (LanceDB scans them flat), so the index only
    has to be rebuilt when that scan would cost more than the rebuild saves (``fts_needs_rebuild``).

    Returns:
        Whether an index is available afterwards (creation can fail on a read-only store; the
        caller then skips BM25). Unindexed rows are still searched by LanceDB (flat), so a failed
        refresh only costs speed.
    """
    from lancedb.index import FTS

    if FTS_COLUMN not in table.schema.names:
        return False
    idx = _fts_index(table)
    if idx is not None and not fts_needs_rebuild(int(getattr(idx, "num_indexed_rows", 0) or 0),
                                                 int(getattr(idx, "num_unindexed_rows", 0) or 0)):
        return True
    with writer_lock_if_free(table) as free:
        if not free:  # a writer is at work and refreshes it when done; a reader does not wait
            return idx is not None
        try:
            table.create_index(FTS_COLUMN, config=FTS(), replace=True)
            return True
        except Exception as exc:  # noqa: BLE001 - any store failure degrades to "no BM25"
            log.warning("could not %s the full-text index of 'windows': %s", "refresh" if idx else "create",
                        plain_reason(exc))
            return idx is not None


@contextmanager
def writer_lock_if_free(table) -> Iterator[bool]:
    """Hold the writer lock of ``table``'s database for the block if no other process holds it.

    Yields whether writing is allowed: true as well when this process holds the lock already, or
    when the database has no lock (an object-store URI).
    """
    from vqa_pipeline.store.location import is_uri
    from vqa_pipeline.store.lock import WriterLock

    uri = str(getattr(table, "uri", "") or "")
    if not uri or is_uri(uri):
        yield True
        return
    with WriterLock(Path(uri).parent).hold_if_free() as taken:
        yield taken is not None


ANN_MIN_ROWS = int(os.environ.get("VQA_ANN_MIN_ROWS", "50000"))
"""Vector columns get an ANN index from this many rows on; below it exact search is fast enough."""
ANN_REBUILD_SHARE = 0.2
"""An index is rebuilt (retrained) once this share of the rows is unindexed; fewer new rows are
added to the existing partitions (``optimize``), a small fraction of a full build's cost."""
ANN_MERGE_SHARE = 0.02
"""New rows stay outside the index (LanceDB scans them exactly beside the ANN hits) until they pass
this share, so a small run (one Dagster partition) pays no merge: ``optimize`` took 51 s for 1 % of
1M rows here."""


@dataclass(frozen=True, slots=True)
class AnnParams:
    """How a vector column of a given size is indexed and probed (see :func:`ann_params`)."""

    index_type: str
    num_partitions: int
    num_sub_vectors: int
    nprobes: int
    refine_factor: int


def ann_params(n_rows: int, dim: int = 384, min_rows: int = ANN_MIN_ROWS) -> AnnParams | None:
    """The index rule: ``None`` (exact search) below ``min_rows``; IVF-PQ cosine above it.

    - partitions: ``clamp(sqrt(n) / 4, 16, 1024)`` (about 4*sqrt(n) rows each: 250 at 1M rows);
    - sub-vectors: ``dim / 8`` (8 dimensions per 8-bit code: 48 for 384-d);
    - probes: 8 % of the partitions, at least 20 (20 at 1M rows);
    - refine factor 10: the ``10 * limit`` best PQ candidates are re-ranked with the exact vectors,
      which is what lifts recall@10 to exact-search levels (docs/benchmarks.md, "Search at 1M windows").
    """
    if n_rows < min_rows:
        return None
    partitions = max(16, min(1024, int(n_rows ** 0.5) // 4))
    sub = next(d for d in (dim // 8, 48, 32, 24, 16, 8, 4, 2, 1) if d >= 1 and dim % d == 0)
    return AnnParams("IVF_PQ", partitions, sub, max(20, round(0.08 * partitions)), 10)


def vector_columns(table) -> list[str]:
    import pyarrow as pa

    return [
        f.name for f in table.schema
        if pa.types.is_fixed_size_list(f.type) and pa.types.is_floating(f.type.value_type)
    ]


def ensure_vector_index(table, column: str, min_rows: int = ANN_MIN_ROWS) -> bool:
    """An ANN index (:func:`ann_params`) on ``column`` once the table is large.

    A missing index is built; rows added since are merged into it incrementally while they are
    fewer than :data:`ANN_REBUILD_SHARE` of the table, and the index is rebuilt from scratch beyond.
    Below :data:`ANN_MERGE_SHARE` new rows are left unindexed (searched exactly, so still found).
    Returns whether the column has an index afterwards.
    """
    n = table.count_rows()
    existing = next((i for i in table.list_indices() if list(i.columns) == [column]), None)
    params = ann_params(n, table.schema.field(column).type.list_size, min_rows)
    if params is None:
        return existing is not None
    unindexed = unindexed_rows(table, existing) if existing is not None else n
    try:
        if existing is not None and unindexed <= ANN_REBUILD_SHARE * n:
            if unindexed > ANN_MERGE_SHARE * n:
                table.optimize()  # adds the new rows to the existing partitions (and compacts)
            return True
        table.create_index(metric="cosine", vector_column_name=column, index_type=params.index_type,
                           num_partitions=params.num_partitions, num_sub_vectors=params.num_sub_vectors,
                           replace=True)
        return True
    except Exception as exc:  # noqa: BLE001 - an index is an optimization; exact search still works
        log.warning("could not build the vector index on %s of 'windows': %s", column, plain_reason(exc))
        return existing is not None


def unindexed_rows(table, index) -> int:
    """Rows of ``table`` that ``index`` (a ``list_indices`` entry) does not cover yet."""
    n = getattr(index, "num_unindexed_rows", None)
    if n is None:
        stats = table.index_stats(index.name)
        n = stats.num_unindexed_rows if stats is not None else 0
    return int(n or 0)


def ensure_id_index(table, min_rows: int = ANN_MIN_ROWS) -> None:
    """A B-tree on ``window_id`` for large tables, so fetching the top hits does not scan every row."""
    if table.count_rows() < min_rows or any(list(i.columns) == ["window_id"] for i in table.list_indices()):
        return
    try:
        table.create_scalar_index("window_id", index_type="BTREE", replace=True)
    except Exception as exc:  # noqa: BLE001 - an optimization only
        log.warning("could not build the window_id index of 'windows': %s", plain_reason(exc))
