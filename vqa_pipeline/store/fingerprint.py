"""Has the database changed? Answered from the file system, without importing LanceDB.

Every LanceDB commit adds a manifest to the table's ``_versions`` folder, which changes the folder's
modification time; the four tables' times together say whether anything was written since.
"""

from __future__ import annotations

from pathlib import Path

from vqa_pipeline.store.location import is_uri

TABLES = ("files", "videos", "windows", "extractions")


def db_fingerprint(db: str | Path) -> dict[str, int] | None:
    """``{table: mtime_ns of its _versions folder}`` (0 for a table not created yet, as when every
    file failed: creating or losing it changes the answer), or ``None`` when ``db`` is remote."""
    if is_uri(db):  # object-store URIs have no cheap fingerprint
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



LISTING = "vqa-store-files.json"
"""Beside the tables: every data and index file (and the newest manifest) after the last `vqa index` run."""


def file_listing(db: str | Path) -> dict[str, dict[str, list[int]]]:
    """``{table: {path under <table>.lance: [size, mtime_ns]}}`` for its data and index files and its
    newest manifest (Lance never rewrites a file in place: a new time means new, foreign bytes)."""
    out: dict[str, dict[str, list[int]]] = {}
    for table in TABLES:
        root = Path(db) / f"{table}.lance"
        sizes: dict[str, list[int]] = {}
        for sub in ("data", "_indices"):
            base = root / sub
            if base.is_dir():
                for p in base.rglob("*"):
                    if p.is_file():
                        st = p.stat()
                        sizes[str(p.relative_to(root))] = [st.st_size, st.st_mtime_ns]
        manifests = list((root / "_versions").glob("*.manifest")) if (root / "_versions").is_dir() else []
        if manifests:
            newest = max(manifests, key=lambda p: p.stat().st_mtime_ns)
            st = newest.stat()
            sizes[str(newest.relative_to(root))] = [st.st_size, st.st_mtime_ns]
        out[table] = sizes
    return out


def save_listing(db: str | Path) -> None:
    """Record the tables' files now, so a later run notices one that is lost (local folders only)."""
    if is_uri(db) or not Path(db).is_dir():
        return
    import json
    import os

    target = Path(db) / LISTING
    tmp = target.with_suffix(f".tmp{os.getpid()}")
    try:
        tmp.write_text(json.dumps(file_listing(db)), encoding="utf-8")
        os.replace(tmp, target)
    except OSError:  # a read-only or full disk: the next run only loses this shortcut
        tmp.unlink(missing_ok=True)


def lost_files(db: str | Path) -> dict[str, list[str]]:
    """``{table: recorded files now gone, of another size or rewritten}``; empty when all are as
    recorded or nothing was recorded.

    Deleting a data file or truncating a manifest does not touch ``_versions``' time, so the
    fingerprint alone cannot see it.
    """
    if is_uri(db):
        return {}
    import json

    try:
        recorded = json.loads((Path(db) / LISTING).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    out = {}
    for table, sizes in recorded.items() if isinstance(recorded, dict) else ():
        root = Path(db) / f"{table}.lance"
        gone = []
        for name, size in sizes.items() if isinstance(sizes, dict) else ():
            try:
                st = (root / name).stat()
                want = size if isinstance(size, list) else [size]  # an older listing holds sizes only
                if [st.st_size, st.st_mtime_ns][:len(want)] != want:
                    gone.append(name)
            except OSError:
                gone.append(name)
        if gone:
            out[table] = gone
    return out
