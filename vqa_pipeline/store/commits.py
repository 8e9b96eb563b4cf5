"""Commits that can still collide: retried a few times, and never fed duplicate keys.

With the writer lock, our own writers no longer race; a conflict can still come from a writer that
does not take it (an object-store database, an older version, a reader refreshing the search
index), and LanceDB then asks to retry the commit. A merge with two source rows for one key is
refused by LanceDB ("ambiguous merge"), so batches are made unique first (the last row wins).
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from typing import TypeVar

import pyarrow as pa
import pyarrow.compute as pc

log = logging.getLogger(__name__)

T = TypeVar("T")

ATTEMPTS = 5
BACKOFF_S = 0.2


def is_conflict(exc: BaseException) -> bool:
    """A commit LanceDB says may succeed when tried again; or one it refused because another writer
    replaced the table meanwhile (two object-store writers creating a table at once), which our
    writes, all upserts and deletes by key, redo correctly on the latest version."""
    text = str(exc).lower()
    return "commit conflict" in text or "incompatible transaction" in text


def is_ambiguous_merge(exc: BaseException) -> bool:
    """A merge refused because a key matches several rows (duplicate keys in the table)."""
    return "ambiguous merge" in str(exc).lower()


def retry_conflicts(write: Callable[[], T], attempts: int = ATTEMPTS, backoff_s: float = BACKOFF_S,
                    before_retry: Callable[[], object] | None = None) -> T:
    """Run ``write``, again after a commit conflict (up to ``attempts`` times, backing off).

    ``before_retry`` runs before each new attempt (the store moves its tables to their latest version).
    """
    for attempt in range(1, attempts + 1):
        try:
            return write()
        except Exception as exc:
            if attempt == attempts or not is_conflict(exc):
                raise
            delay = backoff_s * 2 ** (attempt - 1) * (0.5 + random.random())
            log.info("commit conflict (attempt %d of %d); retrying in %.2f s", attempt, attempts, delay)
            time.sleep(delay)
            if before_retry is not None:
                before_retry()
    raise AssertionError("unreachable")


def unique_by(rows: pa.Table, key: str) -> pa.Table:
    """``rows`` with one row per ``key`` value, the last one (a later row is the newer value)."""
    if rows.num_rows < 2:
        return rows
    keys = rows.column(key)
    if pc.count_distinct(keys).as_py() == rows.num_rows:
        return rows
    last: dict = {}
    for i, k in enumerate(keys.to_pylist()):
        last[k] = i
    return rows.take(sorted(last.values()))


__all__ = ["is_ambiguous_merge", "is_conflict", "retry_conflicts", "unique_by"]
