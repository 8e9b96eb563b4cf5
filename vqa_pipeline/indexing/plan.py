"""Deciding, per file, whether it is unchanged, a known duplicate, new, or changed.

Unchanged files (same size and mtime as last seen, already indexed with the same windowing) are
settled from the ``files`` table alone, without reading them, so a re-run over a large corpus is
fast. Anything else is hashed: the content hash is the video id, so the same bytes under two
names are indexed once and both names are recorded.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from vqa_pipeline.media.filekind import kind_problem
from vqa_pipeline.media.hashing import content_hash, video_id_for
from vqa_pipeline.media.types import MediaError

Action = Literal["unchanged", "duplicate", "index", "error"]


@dataclass(slots=True)
class FilePlan:
    path: Path
    action: Action
    video_id: str = ""
    content_hash: str = ""
    size_bytes: int = 0
    mtime_ns: int = 0
    error: str = ""
    replaces: list[str] = field(default_factory=list)  # video ids this path pointed at before


def error_video_id(path: Path) -> str:
    """Id for a file that cannot be read, so its failure can still be recorded per path."""
    return "err" + hashlib.sha256(str(path).encode("utf-8", "surrogateescape")).hexdigest()[:13]


def plan_file(path: Path, files: dict[str, dict], videos: dict[str, dict], windowing: str) -> FilePlan:
    """Classify one file against what the index already knows.

    Args:
        path: absolute path of the file.
        files: ``Store.file_records()``.
        videos: ``Store.video_records()``.
        windowing: ``WindowingOptions.tag`` of this run.
    """
    try:
        st = path.stat()
    except OSError as exc:
        return FilePlan(path, "error", video_id=error_video_id(path), error=f"cannot stat ({exc.strerror})")
    if problem := kind_problem(st.st_mode):  # a FIFO or device would block or never end
        return FilePlan(path, "error", video_id=error_video_id(path), error=problem)
    if not os.access(path, os.R_OK):
        return FilePlan(path, "error", video_id=error_video_id(path), error="permission denied",
                        size_bytes=st.st_size, mtime_ns=st.st_mtime_ns)
    known = files.get(str(path))
    if known and known["size_bytes"] == st.st_size and known["mtime_ns"] == st.st_mtime_ns:
        video = videos.get(known["video_id"] or "")
        if video and video["windowing"] == windowing and video["status"] in ("indexed", "failed"):
            return FilePlan(path, "unchanged", video_id=video["video_id"], content_hash=video["content_hash"] or "",
                            size_bytes=st.st_size, mtime_ns=st.st_mtime_ns,
                            error=video["error"] if video["status"] == "failed" else "")
    try:
        digest = content_hash(path)
    except MediaError as exc:
        return FilePlan(path, "error", video_id=error_video_id(path), error=str(exc),
                        size_bytes=st.st_size, mtime_ns=st.st_mtime_ns)
    vid = video_id_for(digest)
    replaces = [known["video_id"]] if known and known["video_id"] and known["video_id"] != vid else []
    video = videos.get(vid)
    action: Action = "index"
    if video and video["windowing"] == windowing and video["status"] in ("indexed", "failed"):
        action = "duplicate"
    return FilePlan(path, action, video_id=vid, content_hash=digest, size_bytes=st.st_size,
                    mtime_ns=st.st_mtime_ns, replaces=replaces,
                    error=(video["error"] or "") if video and video["status"] == "failed" else "")
