"""The only code that talks to LanceDB: tables, idempotent upserts, staleness records.

(About 480 lines, over our ~350 norm: every write to the four tables lives here, each behind the
writer lock and the conflict retries of one decorator; the read-side search is in ``search.py``,
the lock, retries and repairs in their own modules.)
"""

from __future__ import annotations

import functools
import json
import logging
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import ParamSpec, TypeVar

import lancedb
import pyarrow as pa

from vqa_pipeline.evidence import is_nothing_seen
from vqa_pipeline.store.commits import is_ambiguous_merge, retry_conflicts, unique_by
from vqa_pipeline.store.duplicates import drop_duplicate_keys
from vqa_pipeline.store.errors import raise_object_store_error
from vqa_pipeline.store.location import DbLocation
from vqa_pipeline.store.lock import Holder, WriterLock
from vqa_pipeline.store.schema import (
    EVIDENCE_GROUPS,
    EXTRACTIONS_SCHEMA,
    FILES_SCHEMA,
    KEYS,
    VIDEOS_SCHEMA,
    WINDOWS_BASE_SCHEMA,
    group_fields,
)

_ID_RE = re.compile(r"^[A-Za-z0-9_\-]{1,80}\Z")  # \Z: "$" would accept a final newline

log = logging.getLogger(__name__)

P = ParamSpec("P")
R = TypeVar("R")

KEYS_CHECKED = "vqa-keys-checked"
"""In a database folder: its keys were found unique by a version that writes under the lock."""


class StoreError(Exception):
    """A store problem with a one-line reason (missing database, foreign schema, ...)."""


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _sql_str(value: str) -> str:
    """A SQL string literal (quotes doubled), for values such as paths that may hold any character."""
    return "'" + value.replace("'", "''") + "'"


def _sql_id(value: str) -> str:
    """Quote an id for a LanceDB filter; ids are generated here, so anything else is refused."""
    if not _ID_RE.match(value):
        raise ValueError(f"not a valid id: {value!r}")
    return f"'{value}'"


def _writes(method: Callable[P, R]) -> Callable[P, R]:
    """A ``Store`` method that writes: under the writer lock, retried after a commit conflict.

    A merge refused for a duplicate key in the table (left by an old concurrent run) repairs the
    tables and is tried once more. Nested writes run inside the outer one's lock and retries.
    """

    @functools.wraps(method)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        store = args[0]
        assert isinstance(store, Store)
        if store._write_depth:
            return method(*args, **kwargs)
        with store.writing():
            store._write_depth += 1
            try:
                try:
                    return retry_conflicts(lambda: method(*args, **kwargs), before_retry=store._checkout_latest)
                except Exception as exc:
                    if not is_ambiguous_merge(exc) or not store.repair_duplicates():
                        raise
                    return retry_conflicts(lambda: method(*args, **kwargs), before_retry=store._checkout_latest)
            finally:
                store._write_depth -= 1

    return wrapper


@dataclass(frozen=True, slots=True)
class ExtractionRecord:
    video_id: str
    group: str
    extractor: str
    model_tag: str
    input_tag: str
    status: str  # "ok" | "failed" | "empty"
    error: str
    seconds: float


class Store:
    """A LanceDB database folder holding the ``videos``, ``files``, ``windows`` and ``extractions`` tables.

    Args:
        db_dir: database folder (created if missing) or any URI ``lancedb.connect`` accepts.
        create: create missing tables; with ``False`` a missing database raises ``StoreError``.
        writer: what this process is, shown to writers that wait for it (``vqa index``, ...).

    Every write takes the database's writer lock (:mod:`vqa_pipeline.store.lock`), waiting for
    another process that holds it; :meth:`writing` holds it across many writes (a whole run) and
    chooses how to wait. Reads never take it. A database given as a URI has no lock.

    Example:
        >>> store = Store("/tmp/vqa-db")            # doctest: +SKIP
        >>> store.windows_for("3f2a9c0d1e2b4a5c")   # doctest: +SKIP
    """

    def __init__(self, db_dir: str | Path | DbLocation, create: bool = True, writer: str | None = None) -> None:
        self.location = DbLocation.of(db_dir)
        self.uri = self.location.uri
        if not create and self.location.is_local and not Path(self.uri).is_dir():
            raise StoreError(f"no index at {self.uri} (run `vqa index` first)")
        try:
            self.db = self.location.connect()
        except (OSError, RuntimeError, ValueError) as exc:
            raise_object_store_error(exc, self.uri, StoreError)
            raise
        self._tables: dict[str, lancedb.table.Table] = {}
        self._create = create
        # An object store cannot hold a file lock: writers there rely on LanceDB's commits
        # (conflicts retried; s3+ddb:// serializes them through DynamoDB).
        self.lock = WriterLock(self.uri, writer) if self.location.is_local else None
        self._write_depth = 0
        if create and not self.location.is_local:
            # Two writers that both find a table missing both create it, and the later create lands
            # as an overwrite (LanceDB lets it win): harmless while the table is still empty, so every
            # table is made now, before this writer's first row (decoding alone takes longer).
            for name in ("videos", "files", "windows", "extractions"):
                getattr(self, name)

    # -- the writer lock ----------------------------------------------------------------------
    @contextmanager
    def writing(self, wait: bool = True, timeout: float | None = None,
                on_wait: Callable[[Holder | None], None] | None = None,
                notice: Callable[[str], None] | None = None, break_lock: bool = False) -> Iterator[None]:
        """Hold the writer lock for the ``with`` block (arguments: :meth:`WriterLock.acquire`).

        Raises:
            DatabaseBusy: another process writes and ``wait`` is false or ``timeout`` ran out.
            StoreError: the database folder cannot hold a lock file.
        """
        if self.lock is None:
            yield
            return
        if on_wait is None:
            def on_wait(holder: Holder | None) -> None:
                who = holder.describe() if holder else "another process"
                log.warning("database %s is busy: %s; waiting ...", self.uri, who)
        try:
            fresh = self.lock.acquire(wait, timeout, on_wait, notice, break_lock)
        except OSError as exc:
            if Path(self.uri).exists() and not Path(self.uri).is_dir():
                raise StoreError(f"the database {self.uri} is a file, not a folder") from None
            raise StoreError(f"cannot lock the database {self.uri} for writing: {exc.strerror or exc}") from None
        try:
            if fresh:
                self._checkout_latest()
            yield
        finally:
            self.lock.release()

    def _checkout_latest(self) -> None:
        """Let open tables see what other processes committed (a handle stays at its version)."""
        for table in self._tables.values():
            table.checkout_latest()

    # -- tables -----------------------------------------------------------------------------
    def _table(self, name: str, schema: pa.Schema) -> lancedb.table.Table:
        if name in self._tables:
            return self._tables[name]
        try:
            table = self.db.open_table(name)
        except (ValueError, FileNotFoundError, OSError, RuntimeError) as exc:
            raise_object_store_error(exc, self.uri, StoreError)
            if not isinstance(exc, (ValueError, FileNotFoundError)):
                raise
            if not self._create:
                raise StoreError(f"the index at {self.uri} has no {name!r} table (run `vqa index` first)") from exc
            with self.writing():
                try:
                    table = self.db.create_table(name, schema=schema)
                except (ValueError, OSError, RuntimeError) as exc2:
                    # created meanwhile by another process (on an object store: a lost commit race)
                    try:
                        table = self.db.open_table(name)
                    except (ValueError, FileNotFoundError, OSError, RuntimeError):
                        raise_object_store_error(exc2, self.uri, StoreError)
                        raise exc2 from None
        missing = [f for f in schema if f.name not in table.schema.names]
        if missing:
            # An index made by an older version: add the new columns (null-filled). A reader only
            # does so when no writer is at work (readers never wait; the writer adds them anyway).
            with self.writing() if self._create else self._if_free() as free:
                if free is not False and any(f.name not in table.schema.names for f in missing):
                    table.add_columns([f for f in missing if f.name not in table.schema.names])
        self._tables[name] = table
        return table

    @contextmanager
    def _if_free(self) -> Iterator[bool]:
        """Hold the writer lock for the block if nobody else does; yields whether it is held."""
        if self.lock is None:
            yield True
            return
        with self.lock.hold_if_free() as fresh:
            if fresh:  # taken now: others may have written since our tables were opened
                self._checkout_latest()
            yield fresh is not None

    def forget_tables(self) -> None:
        """Open the tables afresh on next use (after a repair moved one aside)."""
        self._tables.clear()

    @property
    def videos(self) -> lancedb.table.Table:
        return self._table("videos", VIDEOS_SCHEMA)

    @property
    def files(self) -> lancedb.table.Table:
        return self._table("files", FILES_SCHEMA)

    @property
    def extractions(self) -> lancedb.table.Table:
        return self._table("extractions", EXTRACTIONS_SCHEMA)

    @property
    def windows(self) -> lancedb.table.Table:
        return self._table("windows", WINDOWS_BASE_SCHEMA)

    @_writes
    def ensure_group_columns(self, group: str, extra: Sequence[pa.Field]) -> None:
        """Add a model group's columns to ``windows`` if this index does not have them yet."""
        table = self.windows
        have = set(table.schema.names)
        missing = [f for f in group_fields(group, list(extra)) if f.name not in have]
        if missing:
            table.add_columns(missing)

    # -- files and videos ---------------------------------------------------------------------
    def file_records(self) -> dict[str, dict]:
        """Every known source path -> its last seen (size, mtime, video id, status)."""
        return {r["path"]: r for r in self.files.to_arrow().to_pylist()}

    @_writes
    def upsert_files(self, rows: Iterable[dict]) -> None:
        rows = list(rows)
        if rows:
            data = unique_by(pa.Table.from_pylist(rows, schema=FILES_SCHEMA), "path")
            self.files.merge_insert("path").when_matched_update_all().when_not_matched_insert_all().execute(data)

    @_writes
    def delete_file(self, path: str) -> None:
        self.files.delete(f"path = {_sql_str(path)}")

    @_writes
    def set_source(self, video_id: str, source: str) -> None:
        """Point a video's window rows at another of its source files."""
        ids = [r["window_id"] for r in self.windows_for(video_id, columns=["window_id"])]
        self.write_group(video_id, "", {"source": [source] * len(ids)}, ids)

    def video_records(self) -> dict[str, dict]:
        return {r["video_id"]: r for r in self.videos.to_arrow().to_pylist()}

    def get_video(self, video_id: str) -> dict | None:
        rows = self.videos.search().where(f"video_id = {_sql_id(video_id)}").limit(1).to_list()
        return rows[0] if rows else None

    @_writes
    def upsert_video(self, row: dict) -> None:
        self.upsert_videos([row])

    @_writes
    def upsert_videos(self, rows: Iterable[dict]) -> None:
        """Insert or update video rows (one commit; ids must be distinct)."""
        full = [{f.name: row.get(f.name) for f in VIDEOS_SCHEMA} for row in rows]
        if full:
            data = pa.Table.from_pylist(full, schema=VIDEOS_SCHEMA)
            self.videos.merge_insert("video_id").when_matched_update_all().when_not_matched_insert_all().execute(data)

    @_writes
    def delete_video(self, video_id: str) -> None:
        """Remove a video and everything derived from it."""
        cond = f"video_id = {_sql_id(video_id)}"
        self.windows.delete(cond)
        self.extractions.delete(cond)
        self.videos.delete(cond)

    # -- windows ------------------------------------------------------------------------------
    @_writes
    def replace_windows(self, video_id: str, rows: pa.Table) -> None:
        """Write a video's base window rows, replacing all its old rows in one commit.

        Windows whose id is unchanged keep their model columns only if the caller passes them;
        callers re-run extractors after a re-windowing, so old per-model values are dropped.
        """
        table = self.windows
        rows = unique_by(_conform(rows, table.schema), "window_id")
        (
            table.merge_insert("window_id")
            .when_matched_update_all()
            .when_not_matched_insert_all()
            .when_not_matched_by_source_delete(f"video_id = {_sql_id(video_id)}")
            # New rows carry all-null vector columns, which LanceDB's vector check would refuse.
            .execute(rows, on_bad_vectors="null")
        )

    @_writes
    def delete_windows(self, video_id: str) -> None:
        """Remove a video's window rows (a long file that failed half-way through)."""
        self.windows.delete(f"video_id = {_sql_id(video_id)}")

    @_writes
    def add_windows(self, rows: pa.Table) -> None:
        """Write more base window rows of a video (a later segment of a long file); rows with an
        id already stored are replaced, so writing a segment twice leaves no duplicate."""
        table = self.windows
        rows = unique_by(_conform(rows, table.schema), "window_id")
        (
            table.merge_insert("window_id")
            .when_matched_update_all()
            .when_not_matched_insert_all()
            .execute(rows, on_bad_vectors="null")
        )

    @_writes
    def write_group(self, video_id: str, group: str, columns: dict[str, list], window_ids: list[str]) -> None:
        """Update one model group's columns of a video's windows (other columns untouched)."""
        if not window_ids:
            return
        table = self.windows
        data = {"window_id": window_ids, **columns}
        schema = pa.schema([table.schema.field(name) for name in data])
        batch = unique_by(pa.Table.from_pydict(data, schema=schema), "window_id")
        # Windows without a vector (no text to embed) hold nulls, which LanceDB's check calls "bad".
        table.merge_insert("window_id").when_matched_update_all().execute(batch, on_bad_vectors="null")

    @_writes
    def refresh_evidence_text(self, video_id: str, index_range: tuple[int, int] | None = None) -> None:
        """Recompute ``evidence_text`` (all lines of a window joined) for a video's windows (or
        those with ``lo <= window_index < hi``)."""
        table = self.windows
        groups = [g for g in EVIDENCE_GROUPS if f"{g}_lines" in table.schema.names]
        rows = self.windows_for(video_id, columns=["window_id", *[f"{g}_lines" for g in groups]],
                                index_range=index_range)
        if not rows:
            return
        texts = []
        for r in rows:
            parts = [line["text"] for g in groups for line in (r.get(f"{g}_lines") or [])
                     if not is_nothing_seen(line["text"])]  # the detector's absence line is not search text
            texts.append(" | ".join(parts) if parts else None)
        self.write_group(video_id, "", {"evidence_text": texts}, [r["window_id"] for r in rows])

    def windows_for(self, video_id: str, columns: list[str] | None = None,
                    index_range: tuple[int, int] | None = None) -> list[dict]:
        """A video's window rows in time order (those with ``lo <= window_index < hi`` if given)."""
        table = self.windows
        names = table.schema.names
        cols = [c for c in columns if c in names] if columns else None
        if cols is not None and "window_index" not in cols:
            cols = [*cols, "window_index"]
        where = f"video_id = {_sql_id(video_id)}"
        if index_range is not None:
            where += f" AND window_index >= {int(index_range[0])} AND window_index < {int(index_range[1])}"
        q = table.search().where(where).limit(None)
        if cols is not None:
            q = q.select(cols)
        rows = q.to_list()
        rows.sort(key=lambda r: r["window_index"])
        return rows

    def count_windows(self, video_id: str | None = None) -> int:
        if video_id is None:
            return self.windows.count_rows()
        return self.windows.count_rows(f"video_id = {_sql_id(video_id)}")

    # -- extraction records ---------------------------------------------------------------------
    def extraction_records(self, video_id: str | None = None) -> dict[tuple[str, str], ExtractionRecord]:
        q = self.extractions.search()
        if video_id is not None:
            q = q.where(f"video_id = {_sql_id(video_id)}")
        out = {}
        for r in q.limit(None).to_list():
            out[(r["video_id"], r["group"])] = ExtractionRecord(
                r["video_id"], r["group"], r["extractor"] or "", r["model_tag"] or "", r["input_tag"] or "",
                r["status"] or "", r["error"] or "", r["seconds"] or 0.0,
            )
        return out

    @_writes
    def record_extraction(
        self,
        video_id: str,
        group: str,
        extractor: str,
        model_tag: str,
        input_tag: str,
        status: str,
        error: str = "",
        seconds: float = 0.0,
        n_lines: int = 0,
        stats: dict | None = None,
    ) -> None:
        row = {
            "key": f"{video_id}/{group}",
            "video_id": video_id,
            "group": group,
            "extractor": extractor,
            "model_tag": model_tag,
            "input_tag": input_tag,
            "status": status,
            "error": error,
            "seconds": float(seconds),
            "n_lines": int(n_lines),
            "stats_json": json.dumps(stats or {}, default=float),
            "updated_at": now_iso(),
        }
        data = pa.Table.from_pylist([row], schema=EXTRACTIONS_SCHEMA)
        self.extractions.merge_insert("key").when_matched_update_all().when_not_matched_insert_all().execute(data)

    @_writes
    def clear_extractions(self, video_id: str) -> None:
        self.extractions.delete(f"video_id = {_sql_id(video_id)}")

    @_writes
    def refresh_search_index(self) -> bool:
        """Bring the BM25 index (and, for large tables, the vector indexes) up to date after a run."""
        from vqa_pipeline.store.centering import fit_column_transforms
        from vqa_pipeline.store.search_index import (
            ensure_fts_index,
            ensure_id_index,
            ensure_vector_index,
            vector_columns,
        )

        table = self.windows
        ensure_id_index(table)
        for column in vector_columns(table):
            ensure_vector_index(table, column)
        fit_column_transforms(table)
        return ensure_fts_index(table)

    # -- maintenance ----------------------------------------------------------------------------
    @_writes
    def optimize(self) -> None:
        """Compact the small fragments that many small upserts leave behind."""
        for table in (self.videos, self.files, self.windows, self.extractions):
            table.optimize()

    @_writes
    def repair_duplicates(self, once: bool = False) -> dict[str, int]:
        """Keep one row per key in every table (see :mod:`vqa_pipeline.store.duplicates`).

        Args:
            once: skip a local database already checked by this version (its writes since were
                all made under the writer lock; the check reads every key: 0.3-0.9 s per 200k windows).

        Returns:
            Table name -> rows deleted, for the tables that had duplicates.
        """
        marker = Path(self.uri) / KEYS_CHECKED if self.location.is_local else None
        if once and marker is not None and marker.exists():
            return {}
        removed = {}
        for name, key in KEYS.items():
            n = drop_duplicate_keys(getattr(self, name), key)
            if n:
                log.warning("the %r table of %s held %d duplicate rows (left by an earlier run that did "
                            "not finish); removed them", name, self.uri, n)
                removed[name] = n
        if marker is not None:
            marker.write_text(now_iso() + "\n", encoding="utf-8")
        return removed


def _conform(rows: pa.Table, schema: pa.Schema) -> pa.Table:
    """Cast ``rows`` to ``schema``: same column order, missing columns as nulls."""
    cols = []
    for f in schema:
        if f.name in rows.column_names:
            cols.append(rows.column(f.name).cast(f.type))
        else:
            cols.append(pa.nulls(rows.num_rows, f.type))
    return pa.Table.from_arrays(cols, schema=schema)
