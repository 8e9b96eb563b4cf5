"""The sensor's view of the source folder: a content id per media file, hashing only what changed.

A scan starts from what the previous scan saw (kept in the sensor's cursor: size, mtime and
content id per path). A file whose size and mtime are unchanged keeps its id without being read;
for the others the store's ``files`` table is asked first (a file ``vqa index`` or a run already
hashed is not hashed again), and only what is still unknown is hashed.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from vqa_pipeline.indexing.discover import discover
from vqa_pipeline.indexing.plan import error_video_id
from vqa_pipeline.media import hashing
from vqa_pipeline.media.types import MediaError

CURSOR_VERSION = 1


@dataclass(frozen=True, slots=True)
class SeenFile:
    """A media file as last seen: its size and mtime, and the content id they stand for."""

    size_bytes: int
    mtime_ns: int
    video_id: str


@dataclass(slots=True)
class FolderScan:
    """One scan of a folder.

    Attributes:
        files: path -> what it holds now.
        errors: path -> why it could not be looked at (not listed in ``files``).
        hashed: paths whose content was hashed in this scan.
    """

    files: dict[str, SeenFile] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    hashed: list[str] = field(default_factory=list)

    def by_id(self) -> dict[str, list[str]]:
        """Content id -> its paths (sorted)."""
        out: dict[str, list[str]] = {}
        for path, seen in sorted(self.files.items()):
            out.setdefault(seen.video_id, []).append(path)
        return out


def known_files(store) -> dict[str, SeenFile]:
    """The store's ``files`` table as ``SeenFile``s (files that could not even be hashed left out)."""
    return {
        path: SeenFile(int(rec["size_bytes"]), int(rec["mtime_ns"]), rec["video_id"])
        for path, rec in store.file_records().items()
        if rec.get("video_id") and rec.get("size_bytes") is not None and rec.get("mtime_ns") is not None
        and rec["video_id"] != error_video_id(Path(path))
    }


def scan_folder(
    root: Path, seen: Mapping[str, SeenFile], known: Callable[[], Mapping[str, SeenFile]] | None = None
) -> FolderScan:
    """Content ids of the media files under ``root``, reading only files that changed.

    Args:
        root: the folder (searched recursively).
        seen: path -> what an earlier scan saw (the sensor's cursor).
        known: more ids to reuse before hashing (``known_files(store)``); called at most once, and
            only when some file is not in ``seen`` as it is now.
    """
    out = FolderScan()
    extra: Mapping[str, SeenFile] | None = None
    for found in discover([root]):
        path = str(found.path)
        if found.error:
            out.errors[path] = found.error
            continue
        try:
            st = found.path.stat()
        except OSError as exc:
            out.errors[path] = f"cannot stat ({exc.strerror})"
            continue
        before = seen.get(path)
        if before is None or (before.size_bytes, before.mtime_ns) != (st.st_size, st.st_mtime_ns):
            if extra is None:
                extra = known() if known is not None else {}
            before = extra.get(path)
        if before is not None and (before.size_bytes, before.mtime_ns) == (st.st_size, st.st_mtime_ns):
            out.files[path] = before
            continue
        try:
            vid = hashing.video_id_for(hashing.content_hash(found.path))
        except MediaError as exc:
            out.errors[path] = str(exc)
            continue
        out.hashed.append(path)
        out.files[path] = SeenFile(st.st_size, st.st_mtime_ns, vid)
    return out


def encode_cursor(scan: FolderScan) -> str:
    """The sensor cursor for ``scan``: compact JSON of every file's size, mtime and id, and the errors."""
    files = {p: [s.size_bytes, s.mtime_ns, s.video_id] for p, s in scan.files.items()}
    return json.dumps({"v": CURSOR_VERSION, "files": files, "errors": scan.errors}, separators=(",", ":"))


def decode_cursor(cursor: str | None) -> FolderScan:
    """The scan a cursor was made from; an empty one for no cursor, or one in another format."""
    try:
        data = json.loads(cursor or "")
        if data.get("v") != CURSOR_VERSION:
            return FolderScan()
        files = {p: SeenFile(int(size), int(mtime), str(vid)) for p, (size, mtime, vid) in data["files"].items()}
        return FolderScan(files=files, errors={str(p): str(e) for p, e in data.get("errors", {}).items()})
    except (ValueError, TypeError, KeyError, AttributeError):
        return FolderScan()
