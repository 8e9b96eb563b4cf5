"""The only code that talks to LanceDB: tables, idempotent upserts, staleness records."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import lancedb
import pyarrow as pa

from vqa_pipeline.store.schema import (
    EVIDENCE_GROUPS,
    EXTRACTIONS_SCHEMA,
    FILES_SCHEMA,
    VIDEOS_SCHEMA,
    WINDOWS_BASE_SCHEMA,
    group_fields,
)

_ID_RE = re.compile(r"^[A-Za-z0-9_\-]{1,80}$")


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

    Example:
        >>> store = Store("/tmp/vqa-db")            # doctest: +SKIP
        >>> store.windows_for("3f2a9c0d1e2b4a5c")   # doctest: +SKIP
    """

    def __init__(self, db_dir: str | Path, create: bool = True) -> None:
        self.uri = str(db_dir)
        if not create and "://" not in self.uri and not Path(self.uri).is_dir():
            raise StoreError(f"no index at {self.uri} (run `vqa index` first)")
        self.db = lancedb.connect(self.uri)
        self._tables: dict[str, lancedb.table.Table] = {}
        self._create = create

    # -- tables -----------------------------------------------------------------------------
    def _table(self, name: str, schema: pa.Schema) -> lancedb.table.Table:
        if name in self._tables:
            return self._tables[name]
        try:
            table = self.db.open_table(name)
        except (ValueError, FileNotFoundError) as exc:
            if not self._create:
                raise StoreError(f"the index at {self.uri} has no {name!r} table (run `vqa index` first)") from exc
            try:
                table = self.db.create_table(name, schema=schema)
            except ValueError:  # created meanwhile by another process
                table = self.db.open_table(name)
        missing = [f for f in schema if f.name not in table.schema.names]
        if missing:
            # An index made by an older version: add the new columns (null-filled).
            table.add_columns(missing)
        self._tables[name] = table
        return table

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

    def upsert_files(self, rows: Iterable[dict]) -> None:
        rows = list(rows)
        if rows:
            data = pa.Table.from_pylist(rows, schema=FILES_SCHEMA)
            self.files.merge_insert("path").when_matched_update_all().when_not_matched_insert_all().execute(data)

    def delete_file(self, path: str) -> None:
        self.files.delete(f"path = {_sql_str(path)}")

    def set_source(self, video_id: str, source: str) -> None:
        """Point a video's window rows at another of its source files."""
        ids = [r["window_id"] for r in self.windows_for(video_id, columns=["window_id"])]
        self.write_group(video_id, "", {"source": [source] * len(ids)}, ids)

    def video_records(self) -> dict[str, dict]:
        return {r["video_id"]: r for r in self.videos.to_arrow().to_pylist()}

    def get_video(self, video_id: str) -> dict | None:
        rows = self.videos.search().where(f"video_id = {_sql_id(video_id)}").limit(1).to_list()
        return rows[0] if rows else None

    def upsert_video(self, row: dict) -> None:
        full = {f.name: row.get(f.name) for f in VIDEOS_SCHEMA}
        data = pa.Table.from_pylist([full], schema=VIDEOS_SCHEMA)
        self.videos.merge_insert("video_id").when_matched_update_all().when_not_matched_insert_all().execute(data)

    def delete_video(self, video_id: str) -> None:
        """Remove a video and everything derived from it."""
        cond = f"video_id = {_sql_id(video_id)}"
        self.windows.delete(cond)
        self.extractions.delete(cond)
        self.videos.delete(cond)

    # -- windows ------------------------------------------------------------------------------
    def replace_windows(self, video_id: str, rows: pa.Table) -> None:
        """Write a video's base window rows, replacing all its old rows in one commit.

        Windows whose id is unchanged keep their model columns only if the caller passes them;
        callers re-run extractors after a re-windowing, so old per-model values are dropped.
        """
        table = self.windows
        rows = _conform(rows, table.schema)
        (
            table.merge_insert("window_id")
            .when_matched_update_all()
            .when_not_matched_insert_all()
            .when_not_matched_by_source_delete(f"video_id = {_sql_id(video_id)}")
            # New rows carry all-null vector columns, which LanceDB's vector check would refuse.
            .execute(rows, on_bad_vectors="null")
        )

    def delete_windows(self, video_id: str) -> None:
        """Remove a video's window rows (a long file that failed half-way through)."""
        self.windows.delete(f"video_id = {_sql_id(video_id)}")

    def add_windows(self, rows: pa.Table) -> None:
        """Write more base window rows of a video (a later segment of a long file); rows with an
        id already stored are replaced, so writing a segment twice leaves no duplicate."""
        table = self.windows
        rows = _conform(rows, table.schema)
        (
            table.merge_insert("window_id")
            .when_matched_update_all()
            .when_not_matched_insert_all()
            .execute(rows, on_bad_vectors="null")
        )

    def write_group(self, video_id: str, group: str, columns: dict[str, list], window_ids: list[str]) -> None:
        """Update one model group's columns of a video's windows (other columns untouched)."""
        if not window_ids:
            return
        table = self.windows
        data = {"window_id": window_ids, **columns}
        schema = pa.schema([table.schema.field(name) for name in data])
        batch = pa.Table.from_pydict(data, schema=schema)
        # Windows without a vector (no text to embed) hold nulls, which LanceDB's check calls "bad".
        table.merge_insert("window_id").when_matched_update_all().execute(batch, on_bad_vectors="null")

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
            parts = [line["text"] for g in groups for line in (r.get(f"{g}_lines") or [])]
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

    def clear_extractions(self, video_id: str) -> None:
        self.extractions.delete(f"video_id = {_sql_id(video_id)}")

    def refresh_search_index(self) -> bool:
        """Bring the BM25 index (and, for large tables, the vector indexes) up to date after a run."""
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
        return ensure_fts_index(table)

    # -- maintenance ----------------------------------------------------------------------------
    def optimize(self) -> None:
        """Compact the small fragments that many small upserts leave behind."""
        for table in (self.videos, self.files, self.windows, self.extractions):
            table.optimize()


def _conform(rows: pa.Table, schema: pa.Schema) -> pa.Table:
    """Cast ``rows`` to ``schema``: same column order, missing columns as nulls."""
    cols = []
    for f in schema:
        if f.name in rows.column_names:
            cols.append(rows.column(f.name).cast(f.type))
        else:
            cols.append(pa.nulls(rows.num_rows, f.type))
    return pa.Table.from_arrays(cols, schema=schema)
