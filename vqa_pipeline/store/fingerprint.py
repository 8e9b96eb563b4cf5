"""Has the database changed? Answered from the file system, without importing LanceDB.

Every LanceDB commit adds a manifest to the table's ``_versions`` folder, which changes the folder's
modification time; the four tables' times together say whether anything was written since.
"""

from __future__ import annotations

from pathlib import Path

TABLES = ("files", "videos", "windows", "extractions")


def is_local(db: str | Path) -> bool:
    """A folder on this machine (object-store URIs have no cheap fingerprint)."""
    return "://" not in str(db)


def db_fingerprint(db: str | Path) -> dict[str, int] | None:
    """``{table: mtime_ns of its _versions folder}`` (0 for a table not created yet, as when every
    file failed: creating or losing it changes the answer), or ``None`` when ``db`` is remote."""
    if not is_local(db):
        return None
    out = {}
    for table in TABLES:
        try:
            out[table] = (Path(db) / f"{table}.lance" / "_versions").stat().st_mtime_ns
        except FileNotFoundError:
            out[table] = 0
        except OSError:
            return None
    return out
