"""Repairing a table that holds two rows for one key (left by concurrent writers before the lock).

LanceDB refuses every later merge on such a key, so one row per key is kept and the rest are
deleted by row id, in one commit: a crash midway leaves either the old rows or the repaired table.
The row kept is the most complete one (most non-null columns), the later one on a tie.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

# Small batches of keys per read, so a badly damaged table is not read whole into memory.
_KEYS_PER_READ = 500


def duplicate_keys(table, key: str) -> list:
    """Keys that occur more than once in ``table`` (reads only the key column)."""
    keys = table.search().select([key]).limit(None).to_arrow().column(key)
    counts = pc.value_counts(keys)
    return [v.as_py() for v, n in zip(counts.field("values"), counts.field("counts")) if n.as_py() > 1]


def _sql_list(values: list) -> str:
    return ", ".join("'" + str(v).replace("'", "''") + "'" for v in values)


def drop_duplicate_keys(table, key: str) -> int:
    """Keep one row per ``key`` value; returns the number of rows deleted."""
    dups = duplicate_keys(table, key)
    if not dups:
        return 0
    drop: list[int] = []
    for i in range(0, len(dups), _KEYS_PER_READ):
        chunk = dups[i:i + _KEYS_PER_READ]
        rows = table.search().with_row_id(True).where(f"{key} IN ({_sql_list(chunk)})").limit(None).to_arrow()
        drop.extend(_rows_to_drop(rows, key))
    if drop:
        table.delete(f"_rowid IN ({', '.join(str(r) for r in drop)})")
    return len(drop)


def _rows_to_drop(rows: pa.Table, key: str) -> list[int]:
    filled = [0] * rows.num_rows
    for name in rows.column_names:
        if name != "_rowid":
            for i, valid in enumerate(pc.is_valid(rows.column(name)).to_pylist()):
                filled[i] += bool(valid)
    best: dict = {}
    ids = rows.column("_rowid").to_pylist()
    for i, k in enumerate(rows.column(key).to_pylist()):
        rank = (filled[i], ids[i])
        if k not in best or rank > best[k][0]:
            best[k] = (rank, ids[i])
    keep = {rid for _, rid in best.values()}
    return [r for r in ids if r not in keep]


__all__ = ["drop_duplicate_keys", "duplicate_keys"]
