"""Is the index whole? Cheap table checks, and the repairs `vqa index` makes before trusting its records.

The indexer trusts the ``files`` and ``videos`` tables (and its manifest) to skip unchanged files;
if ``windows`` lost rows or a data file, or the full-text index lost its files, nothing would
notice. :func:`check` looks, read-only (``vqa doctor --db``):

* each table: does it open, its version, rows; it is read (``windows``: its ``video_id`` column;
  ``deep``, or a file gone or changed since the last run (:func:`~vqa_pipeline.store.fingerprint.lost_files`):
  every column);
* ``windows`` rows per video against the ``videos`` records (``n_windows``);
* the indexes of ``windows``: their files are there (``deep``: the full-text index answers a query).

:func:`repair` acts on what it found: a table that cannot be opened or read is moved aside (renamed
``<name>.lance.damaged-<UTC time>``, never deleted) and recreated empty, an index with lost files
is dropped (the indexer rebuilds it), window rows of no recorded video are deleted, and the videos
whose windows are missing are returned so the indexer treats their records as stale and indexes
them again.

Window rows with no record are also what a writer at work leaves for a moment (it writes a video's
rows, then its record). A local folder's writer lock keeps other writers out while `vqa index`
repairs; an object store has no such lock (``s3+ddb://`` lets several writers in at once), so
there only a video's rows that were all already there :data:`ORPHAN_GRACE_S` ago, when it had no
record either, are taken for a stopped run's (a problem, deleted by :func:`repair`); younger ones
are only noted (``Health.notes``) and left to their writer.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from vqa_pipeline.store.errors import describe, is_lance_error, is_lost_file, plain_reason
from vqa_pipeline.store.fingerprint import TABLES, lost_files
from vqa_pipeline.store.location import DbLocation, is_uri
from vqa_pipeline.store.lock import STALE_AFTER_S
from vqa_pipeline.store.schema import KEYS
from vqa_pipeline.store.search_index import FTS_COLUMN

log = logging.getLogger(__name__)

DAMAGED_SUFFIX = ".damaged-"
ORPHAN_GRACE_S = STALE_AFTER_S
"""On an object store, a video's window rows with no record are deleted only once all of them have
been there, unrecorded, this long (see :func:`_abandoned`): until then another writer may be about
to write their record (as long as a writer on another host is trusted to be alive)."""


@dataclass(slots=True)
class TableHealth:
    """One table as found: ``videos`` is the number of distinct videos with rows (where it has ``video_id``)."""

    name: str
    exists: bool = False
    readable: bool = False
    version: int | None = None
    rows: int | None = None
    videos: int | None = None
    duplicates: int = 0  # rows beyond the first of a key
    problems: list[str] = field(default_factory=list)


@dataclass(slots=True)
class Health:
    """What :func:`check` found.

    Attributes:
        damaged: tables that exist but cannot be opened or read.
        broken_indexes: index names of ``windows`` whose files are missing or unreadable.
        full_text_index: ``windows`` has a usable BM25 index on ``evidence_text``.
        needs_full_text: ``windows`` holds evidence text but no usable BM25 index.
        stale_videos: ``{video_id: why}`` for indexed videos whose window rows are missing or incomplete.
    """

    db: str
    tables: dict[str, TableHealth] = field(default_factory=dict)
    damaged: list[str] = field(default_factory=list)
    broken_indexes: list[str] = field(default_factory=list)
    full_text_index: bool = False
    needs_full_text: bool = False
    stale_videos: dict[str, str] = field(default_factory=dict)
    orphan_videos: list[str] = field(default_factory=list)  # window rows of videos with no record at all
    unrecorded_videos: list[str] = field(default_factory=list)  # object store: such rows, maybe a writer's at work
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # worth saying, not a problem

    @property
    def ok(self) -> bool:
        return not self.all_problems()

    def all_problems(self) -> list[str]:
        return [p for t in self.tables.values() for p in t.problems] + self.problems

    def to_json(self) -> dict:
        return {
            "db": self.db,
            "ok": self.ok,
            "tables": [asdict(t) for t in self.tables.values()],
            "full_text_index": self.full_text_index,
            "stale_videos": self.stale_videos,
            "problems": self.all_problems(),
            "notes": self.notes,
        }


def _open(conn, root: Path | None, name: str, th: TableHealth):
    """The table, or ``None`` when it does not exist (``th.exists``) or cannot be opened (a problem)."""
    folder = root / f"{name}.lance" if root is not None else None
    th.exists = folder.is_dir() if folder is not None else True
    if not th.exists:
        return None
    try:
        table = conn.open_table(name)
        th.version = int(table.version)
        th.rows = int(table.count_rows())
        return table
    except Exception as exc:  # noqa: BLE001 - any failure to open is what we are looking for
        if folder is None and isinstance(exc, (ValueError, FileNotFoundError)) and not is_lance_error(exc):
            th.exists = False
            return None
        th.problems.append(f"table '{name}' cannot be opened ({plain_reason(exc)})")
        return None


def _read(table, name: str, deep: bool, th: TableHealth, db: str) -> Counter | None:
    """Read the table (see the module docstring); rows per ``video_id`` when it has that column."""
    names = table.schema.names
    key = KEYS.get(name)
    keys: list = []
    try:
        if name == "windows" and not deep:
            data = table.search().select([c for c in ("video_id", key) if c in names]).limit(None).to_arrow()
            vids = data.column("video_id").to_pylist()
            keys = data.column(key).to_pylist() if key in names else []
        elif name == "windows":
            vids = []
            for col in names:  # one column at a time: memory stays one column's worth
                got = table.search().select([col]).limit(None).to_arrow().column(col)
                if col == "video_id":
                    vids = got.to_pylist()
                elif col == key:
                    keys = got.to_pylist()
        else:
            data = table.to_arrow()
            vids = data.column("video_id").to_pylist() if "video_id" in names else None
            keys = data.column(key).to_pylist() if key in names else []
    except Exception as exc:  # noqa: BLE001
        if not is_lance_error(exc):
            raise
        th.problems.append(describe(exc, db, name).split(";")[0] if is_lost_file(exc)
                           else f"table '{name}' cannot be read ({plain_reason(exc)})")
        return None
    th.readable = True
    extra = len(keys) - len(set(keys))
    if extra:  # left by concurrent writers of older versions; every merge into the table would fail
        th.problems.append(f"table '{name}' has {extra} duplicate row{'s' if extra > 1 else ''} (same {key})")
        th.duplicates = extra
    if vids is None:
        return None
    if th.rows is not None and len(vids) != th.rows:
        th.problems.append(f"table '{name}' reads {len(vids)} rows where it counts {th.rows}")
    counts = Counter(v for v in vids if v)
    th.videos = len(counts)
    return counts


def _check_indexes(table, root: Path | None, deep: bool, health: Health) -> None:
    try:
        indexes = list(table.list_indices())
    except Exception as exc:  # noqa: BLE001
        health.problems.append(f"the indexes of 'windows' cannot be listed ({plain_reason(exc)})")
        return
    for idx in indexes:
        uuid = str(getattr(idx, "index_uuid", "") or "")
        folder = root / "windows.lance" / "_indices" / uuid if root is not None and uuid else None
        lost = folder is not None and not (folder.is_dir() and any(folder.iterdir()))
        # one query (milliseconds) tells a garbled index from a good one; folders alone do not
        if not lost and list(idx.columns) == [FTS_COLUMN]:
            try:
                table.search("index check", query_type="fts", fts_columns=FTS_COLUMN).limit(1).to_arrow()
            except Exception:  # noqa: BLE001 - an index that cannot answer is as good as lost
                lost = True
        if lost:
            what = "full-text index" if list(idx.columns) == [FTS_COLUMN] else f"index on {', '.join(idx.columns)}"
            health.problems.append(f"the {what} of 'windows' ({idx.name}) has lost its files")
            health.broken_indexes.append(idx.name)
        elif list(idx.columns) == [FTS_COLUMN]:
            health.full_text_index = True


def check(db: str | Path, deep: bool = False) -> Health:
    """Look at every table of the index at ``db`` without changing anything (see the module docstring)."""
    uri = str(db)
    root = None if is_uri(uri) else Path(uri)
    health = Health(db=uri)
    if root is not None and not root.is_dir():
        health.problems.append(f"no index database at {uri}")
        return health
    conn = DbLocation.of(uri).connect()
    lost = lost_files(uri)
    counts: dict[str, Counter | None] = {}
    opened = {}
    for name in TABLES:
        th = health.tables[name] = TableHealth(name)
        table = _open(conn, root, name, th)
        if table is None:
            if th.exists:
                health.damaged.append(name)
            continue
        if lost.get(name):  # maybe only an old version's file: read every column to know
            log.info("table %s: %d file(s) gone or changed since the last run", name, len(lost[name]))
        counts[name] = _read(table, name, deep or bool(lost.get(name)), th, uri)
        if not th.readable:
            health.damaged.append(name)
        else:
            opened[name] = table
    if any(t.exists for t in health.tables.values()):
        health.problems += [f"table '{t.name}' is missing" for t in health.tables.values() if not t.exists]
    if "windows" in opened:
        _check_indexes(opened["windows"], root, deep, health)
        table = opened["windows"]
        if FTS_COLUMN in table.schema.names and not health.full_text_index:
            try:
                has_text = table.count_rows(f"{FTS_COLUMN} IS NOT NULL") > 0
            except Exception:  # noqa: BLE001
                has_text = False
            if has_text:
                health.needs_full_text = True
                if not health.broken_indexes:
                    health.problems.append("the 'windows' table has no full-text index")
    if "videos" in opened:
        windows = counts.get("windows") or Counter()
        _compare_windows(opened["videos"], windows, health)
        on_store = root is None and "windows" in opened
        _sort_orphans(opened.get("windows"), opened["videos"] if on_store else None, windows, health)
    return health


def _compare_windows(videos_table, windows: Counter, health: Health) -> None:
    """Indexed videos whose ``windows`` rows do not match their record are stale."""
    try:
        rows = videos_table.search().select(["video_id", "status", "n_windows"]).limit(None).to_list()
    except Exception as exc:  # noqa: BLE001 - already reported by _read
        log.debug("videos not readable: %s", exc)
        return
    known = set()
    for r in rows:
        vid = r["video_id"]
        known.add(vid)
        want = int(r.get("n_windows") or 0)
        if r.get("status") != "indexed" or not want:
            continue
        have = windows.get(vid, 0)
        if have != want:
            health.stale_videos[vid] = f"{have} of {want} windows"
    if health.stale_videos:
        n = len(health.stale_videos)
        health.problems.append(f"{n} indexed video{'s' if n > 1 else ''} have the wrong number of window rows "
                               f"(e.g. {next(iter(health.stale_videos.items()))[1]})")
    # A long file stopped half-way (its record is written after its last segment) and then deleted
    # or changed leaves rows no later run would visit.
    health.orphan_videos = sorted(v for v in windows if v not in known)


def _sort_orphans(windows_table, videos_table, windows: Counter, health: Health) -> None:
    """Window rows of no recorded video are a problem, except on an object store those that may be
    another writer's at work (see :data:`ORPHAN_GRACE_S`): those are a note."""
    if videos_table is not None and health.orphan_videos:
        old = set(_abandoned(windows_table, health.orphan_videos, ORPHAN_GRACE_S, videos_table))
        health.unrecorded_videos = [v for v in health.orphan_videos if v not in old]
        health.orphan_videos = [v for v in health.orphan_videos if v in old]
    orphans = sum(windows[v] for v in health.orphan_videos)
    if orphans:
        health.problems.append(f"{orphans} window rows belong to no recorded video")
    young = sum(windows[v] for v in health.unrecorded_videos)
    if young:
        n = len(health.unrecorded_videos)
        health.notes.append(f"{young} window rows of {n} video{'s' if n > 1 else ''} not recorded yet "
                            "(a writer at work?)")


def move_aside(db: str | Path, name: str) -> Path:
    """Rename ``<name>.lance`` to ``<name>.lance.damaged-<UTC time>`` (kept for the user, never deleted)."""
    folder = Path(db) / f"{name}.lance"
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    target = folder.with_name(f"{folder.name}{DAMAGED_SUFFIX}{stamp}")
    n = 1
    while target.exists():
        n += 1
        target = folder.with_name(f"{folder.name}{DAMAGED_SUFFIX}{stamp}-{n}")
    folder.rename(target)
    return target


def _id_lists(video_ids: list[str], size: int = 500) -> list[str]:
    """SQL lists of (well-formed) video ids, ``size`` at a time."""
    ids = [f"'{v}'" for v in video_ids if v.replace("-", "").isalnum()]
    return [", ".join(ids[i:i + size]) for i in range(0, len(ids), size)]


def _version_at(table, cutoff: datetime) -> int | None:
    """The last version of ``table`` committed by ``cutoff``; ``None`` when it has none that old."""
    old = [v["version"] for v in table.list_versions() if v["timestamp"] <= cutoff]
    return max(old) if old else None


def _rows_of(table, video_ids: list[str], version: int | None = None) -> dict[str, set[int]]:
    """``{video_id: row ids}`` of ``video_ids``'s rows in ``table`` (at ``version``, else its latest)."""
    if version is not None:
        table.checkout(version)
    try:
        found: dict[str, set[int]] = {}
        for chunk in _id_lists(video_ids):
            rows = (table.search().where(f"video_id IN ({chunk})").select(["video_id"]).with_row_id(True)
                    .limit(None).to_arrow())
            for vid, rid in zip(rows.column("video_id").to_pylist(), rows.column("_rowid").to_pylist()):
                found.setdefault(vid, set()).add(rid)
        return found
    finally:
        if version is not None:
            table.checkout_latest()


def _abandoned(table, video_ids: list[str], grace_s: float, videos=None) -> list[str]:
    """Those of ``video_ids`` whose window rows were all left by a stopped run ``grace_s`` ago or more.

    A video's rows count as abandoned only when every row it has now was already there in the last
    version of ``table`` committed ``grace_s`` ago (same row ids: rows deleted and written again
    since are another writer's at work; a compaction changes row ids, so rows of a table compacted
    every day may never qualify: a known limit, safe but untidy) and ``videos`` (when given) held no record of it then. None when either cannot be
    told, e.g. a version went away under another writer's cleanup (logged).
    """
    cutoff = datetime.now() - timedelta(seconds=grace_s)  # Lance's version times are local and naive
    try:
        old = _version_at(table, cutoff)
        if old is None:
            return []
        now = _rows_of(table, video_ids)
        then = _rows_of(table, video_ids, old)
        recorded: set[str] = set()
        old_videos = _version_at(videos, cutoff) if videos is not None else None
        if old_videos is not None:
            recorded = set(_rows_of(videos, video_ids, old_videos))
    except Exception as exc:  # noqa: BLE001 - e.g. another writer's cleanup removed that version meanwhile
        log.info("could not tell whether window rows with no record are a stopped run's (%s): left",
                 plain_reason(exc))
        return []
    return [v for v in video_ids if now.get(v) and now[v] <= then.get(v, set()) and v not in recorded]


@dataclass(slots=True)
class Repairs:
    """What :func:`repair` did: one line per repair, the videos to index again, whether the
    search indexes must be rebuilt."""

    lines: list[str] = field(default_factory=list)
    stale_videos: dict[str, str] = field(default_factory=dict)
    rebuild_indexes: bool = False
    duplicates: bool = False  # a table holds two rows for one key: the full duplicate repair must run


def repair(db: str | Path, deep: bool = False) -> Repairs:
    """Check the index and fix what can be fixed before indexing (see the module docstring).

    A fresh or missing database needs nothing. Only local folders are moved aside; on an object
    store a damaged table is reported but left alone.
    """
    uri = str(db)
    out = Repairs()
    if not is_uri(uri) and not Path(uri).is_dir():
        return out
    health = check(uri, deep=deep)
    if not any(t.exists for t in health.tables.values()):
        return out
    for name, t in health.tables.items():
        if not t.exists:
            out.lines.append(f"table '{name}' was missing: recreated, its records rebuilt from the files")
    for name in health.damaged:
        problems = health.tables[name].problems
        why = next((p for p in problems if "cannot be" in p), problems[0] if problems else f"table '{name}' is damaged")
        if is_uri(uri):
            out.lines.append(f"{why}; cannot move it aside on an object store: fix or delete it")
            continue
        target = move_aside(uri, name)
        out.lines.append(f"{why}: moved aside to {target.name}, rebuilt")
        out.rebuild_indexes = True
    if health.broken_indexes and "windows" not in health.damaged:
        table = DbLocation.of(uri).connect().open_table("windows")
        for name in health.broken_indexes:
            try:
                table.drop_index(name)
            except Exception as exc:  # noqa: BLE001 - replace=True when rebuilding covers the rest
                log.info("could not drop index %s: %s", name, exc)
            out.lines.append(f"index {name} of 'windows' had lost its files: rebuilt")
        out.rebuild_indexes = True
    elif health.needs_full_text and "windows" not in health.damaged:
        out.lines.append("the full-text index of 'windows' was missing: rebuilt")
        out.rebuild_indexes = True
    if health.orphan_videos and "windows" not in health.damaged and "videos" not in health.damaged:
        table = DbLocation.of(uri).connect().open_table("windows")
        orphans = health.orphan_videos  # on an object store, check() left out those a writer may be at
        if health.unrecorded_videos:
            log.info("%s: window rows of %d video(s) have no record yet (another writer may be at work): left",
                     uri, len(health.unrecorded_videos))
        for chunk in _id_lists(orphans):
            table.delete(f"video_id IN ({chunk})")
        if orphans:
            n = len(orphans)
            out.lines.append(f"window rows of {n} video{'s' if n > 1 else ''} with no record (a run stopped "
                             "half-way): removed")
            out.rebuild_indexes = True
    out.duplicates = any(t.duplicates for t in health.tables.values())
    out.stale_videos = dict(health.stale_videos)  # a lost or damaged 'windows' makes every indexed video stale
    return out
