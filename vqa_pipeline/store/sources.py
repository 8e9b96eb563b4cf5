"""Which of a video's indexed files is still there, unchanged: the one place that decides it.

A video may have several indexed paths (``source`` and ``sources``: copies with the same content).
A path counts only while it is a regular file (a symlink the user indexed is followed) with the size
recorded at indexing and, where the ``files`` table has it, the same modification time: a file
replaced afterwards (by another file, or by a link to another file) is not the indexed one.
``vqa open``, ``vqa list``, ``GET /api/media`` and the page's ``media`` links all ask this module.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from vqa_pipeline.store.tables import Store, StoreError, _sql_str


class SourceGone(StoreError):
    """No indexed file of the video is usable; ``str(err)`` says why, naming the file."""


@dataclass(frozen=True, slots=True)
class LiveSource:
    source: str  # the path as indexed
    real: Path  # that path with its links resolved
    stat: os.stat_result  # of ``real``, taken when checked


def source_paths(video: Mapping) -> list[str]:
    """The video's indexed paths, ``source`` first, without repeats."""
    return list(dict.fromkeys(s for s in [video.get("source") or "", *(video.get("sources") or [])] if s))


def check_file(path: str, size: int | None, mtime_ns: int | None) -> LiveSource | str:
    """``path`` as a :class:`LiveSource` when it is a regular file with the recorded ``size`` and
    ``mtime_ns`` (each checked only when recorded), else the reason it is not, in words."""
    try:
        real = Path(os.path.realpath(path, strict=True))
        st = real.stat()
    except (OSError, RuntimeError):
        return f"{path} was deleted or moved after indexing (run `vqa index` on its new place)"
    if not stat.S_ISREG(st.st_mode):
        return f"{path} is no longer a regular file"
    if (size and st.st_size != size) or (mtime_ns and st.st_mtime_ns != mtime_ns):
        return f"{path} changed after it was indexed (run `vqa index` again)"
    return LiveSource(path, real, st)


def live_source(video: Mapping, files: Mapping[str, Mapping]) -> LiveSource:
    """The first of ``video``'s indexed paths that is still the indexed file.

    Args:
        video: a ``videos`` row.
        files: ``files`` rows by path (those of the video's paths are enough; missing rows mean
            "no modification time recorded").

    Raises:
        SourceGone: none is usable; the reason given is the first path's.
    """
    paths = source_paths(video)
    if not paths:
        raise SourceGone(f"video {video.get('video_id', '?')} has no recorded source file")
    first = ""
    for path in paths:
        f = files.get(path) or {}
        got = check_file(path, f.get("size_bytes") or video.get("size_bytes"), f.get("mtime_ns"))
        if isinstance(got, LiveSource):
            return got
        first = first or got
    raise SourceGone(first)


def file_rows(store: Store, paths: list[str]) -> dict[str, dict]:
    """The ``files`` rows of ``paths`` (none when the index has no ``files`` table)."""
    if not paths:
        return {}
    try:
        rows = (store.files.search().where(f"path IN ({', '.join(map(_sql_str, paths))})")
                .limit(len(paths)).to_list())
    except (StoreError, ValueError, OSError, RuntimeError):  # an index from before the files table
        return {}
    return {r["path"]: r for r in rows}


def live_source_of(store: Store, video: Mapping) -> LiveSource:
    """:func:`live_source` with the ``files`` rows read from ``store``.

    Raises:
        SourceGone: as :func:`live_source`.
    """
    return live_source(video, file_rows(store, source_paths(video)))
