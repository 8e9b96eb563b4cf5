"""Mapping the media files of source folders to content ids (for the Dagster sensor)."""

from __future__ import annotations

from pathlib import Path

from vqa_pipeline.indexing.discover import discover
from vqa_pipeline.media.hashing import content_hash, video_id_for
from vqa_pipeline.media.types import MediaError


def scan_sources(paths: list[str | Path], known_files: dict[str, dict]) -> tuple[dict[str, list[str]], dict[str, str]]:
    """Content id -> source paths for every media file under ``paths``, and path -> error.

    Files whose size and mtime match ``known_files`` (``Store.file_records()``) reuse the
    recorded id instead of being hashed again.
    """
    by_id: dict[str, list[str]] = {}
    errors: dict[str, str] = {}
    for f in discover(list(paths)):
        if f.error:
            errors[str(f.path)] = f.error
            continue
        try:
            st = f.path.stat()
        except OSError as exc:
            errors[str(f.path)] = f"cannot stat ({exc.strerror})"
            continue
        known = known_files.get(str(f.path))
        if known and known["video_id"] and (known["size_bytes"], known["mtime_ns"]) == (st.st_size, st.st_mtime_ns):
            vid = known["video_id"]
        else:
            try:
                vid = video_id_for(content_hash(f.path))
            except MediaError as exc:
                errors[str(f.path)] = str(exc)
                continue
        by_id.setdefault(vid, []).append(str(f.path))
    return by_id, errors
