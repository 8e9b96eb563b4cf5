"""Settling a no-op re-run without opening LanceDB.

After a run that left nothing to retry, a small JSON manifest beside the tables records every file
(size, mtime, outcome), the run's settings (windowing, extractor model tags) and a fingerprint of
the database (:func:`vqa_pipeline.store.fingerprint.db_fingerprint`, which changes with every
commit). When the next run finds the same files with the same stats, the same settings and
an untouched database, its answer is known: every file is unchanged. Anything else (a changed
file, a new model version, a write by Dagster or another process) falls back to the full path.
Importing LanceDB alone costs about a second, which would be most of such a run.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from vqa_pipeline.indexing.discover import Found
from vqa_pipeline.indexing.summary import FileOutcome, IndexSummary
from vqa_pipeline.store.fingerprint import db_fingerprint, lost_files
from vqa_pipeline.store.location import is_uri

NAME = "vqa-index-manifest.json"
FORMAT = 1


def _local(db: str | Path) -> Path | None:
    return None if is_uri(db) else Path(db)


def save(db: str | Path, settings: dict, summary: IndexSummary, file_records: dict[str, dict]) -> None:
    """Record a finished run, unless it left something to retry (then the next run must do it)."""
    path = _local(db)
    if path is None:
        return
    target = path / NAME
    retry = any(v.startswith("failed") for f in summary.files for v in f.extractors.values())
    unstatted = any(f.status not in ("removed", "failed") and f.path not in file_records for f in summary.files)
    fingerprint = db_fingerprint(path)
    if retry or unstatted or fingerprint is None or not summary.files:
        target.unlink(missing_ok=True)
        return
    files = {}
    for f in summary.files:
        if f.status == "removed":
            continue
        rec = file_records.get(f.path)
        if rec is None or rec["video_id"] != f.video_id:
            # Failed before it could be stat'ed (a broken symlink, a FIFO): only that same
            # failure settles it next time (``size`` None).
            rec = {"size_bytes": None, "mtime_ns": None}
        files[f.path] = {
            "size": rec["size_bytes"], "mtime_ns": rec["mtime_ns"], "video_id": f.video_id,
            "failed": f.status == "failed", "error": f.error, "windows": f.windows, "duration_s": f.duration_s,
        }
    data = {"format": FORMAT, "settings": settings, "db": fingerprint, "files": files}
    tmp = target.with_suffix(f".tmp{os.getpid()}")
    tmp.write_text(json.dumps(data), encoding="utf-8")
    os.replace(tmp, target)


def try_noop(db: str | Path, settings: dict, found: list[Found], profile: str) -> IndexSummary | None:
    """The summary of a run that would change nothing, or ``None`` when real work may be needed."""
    path = _local(db)
    if path is None:
        return None
    try:
        data = json.loads((path / NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if data.get("format") != FORMAT or data.get("settings") != settings or data.get("db") != db_fingerprint(path):
        return None
    if lost_files(path):  # a lost data file leaves the fingerprint as it was
        return None
    files = data.get("files") or {}
    if {str(f.path) for f in found} != set(files):
        return None
    summary = IndexSummary(db=str(db), profile=profile)
    skipped = {name: "skipped (up to date)" for name in settings.get("extractors", {})}
    for f in found:
        rec = files[str(f.path)]
        if f.error or rec["size"] is None:
            if not (f.error and rec["size"] is None and rec["failed"] and rec["error"] == f.error):
                return None
            summary.files.append(FileOutcome(str(f.path), rec["video_id"], "failed", error=f.error))
            continue
        try:
            st = f.path.stat()
        except OSError:
            return None
        if (st.st_size, st.st_mtime_ns) != (rec["size"], rec["mtime_ns"]):
            return None
        summary.files.append(FileOutcome(
            str(f.path), rec["video_id"], "failed" if rec["failed"] else "unchanged", error=rec["error"],
            windows=rec["windows"], duration_s=rec["duration_s"], extractors={} if rec["failed"] else dict(skipped),
        ))
    return summary
