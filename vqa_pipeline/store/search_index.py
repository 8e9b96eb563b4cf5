"""The full-text (BM25) index over ``evidence_text``, kept fresh by the indexer."""

from __future__ import annotations

import logging

log = logging.getLogger(__name__)

FTS_COLUMN = "evidence_text"


def _fts_index(table):
    for idx in table.list_indices():
        if list(idx.columns) == [FTS_COLUMN] and str(idx.index_type).upper() == "FTS":
            return idx
    return None


def ensure_fts_index(table) -> bool:
    """Create the BM25 index on ``evidence_text`` if missing, rebuild it if rows are unindexed.

    Returns:
        Whether an index is available afterwards (creation can fail on a read-only store; the
        caller then skips BM25). Unindexed rows are still searched by LanceDB (flat), so a failed
        refresh only costs speed.
    """
    from lancedb.index import FTS

    if FTS_COLUMN not in table.schema.names:
        return False
    idx = _fts_index(table)
    if idx is not None and not getattr(idx, "num_unindexed_rows", 0):
        return True
    try:
        table.create_index(FTS_COLUMN, config=FTS(), replace=True)
        return True
    except Exception as exc:  # noqa: BLE001 - any store failure degrades to "no BM25"
        log.warning("could not %s the full-text index: %s", "refresh" if idx else "create", exc)
        return idx is not None
