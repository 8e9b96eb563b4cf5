"""Content ids: the same bytes under any name get the same id."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from vqa_pipeline.media.filekind import kind_problem
from vqa_pipeline.media.types import MediaError

ID_HEX_CHARS = 16
_CHUNK = 1 << 20


def content_hash(path: str | Path) -> str:
    """SHA-256 of the file's bytes (hex).

    Only a regular file is read, and only as many bytes as its size when opened: a FIFO, a device
    or a file that keeps growing cannot hold the caller. (The open does not block on a FIFO.)

    Raises:
        MediaError: the file cannot be read or is not a regular file.
    """
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    except PermissionError:
        raise MediaError("permission denied") from None
    except OSError as exc:
        raise MediaError(f"cannot read file ({exc.strerror or exc})") from None
    try:
        st = os.fstat(fd)
        if problem := kind_problem(st.st_mode):
            raise MediaError(problem)
        os.set_blocking(fd, True)
        digest = hashlib.sha256()
        left = st.st_size
        while left > 0 and (chunk := os.read(fd, min(_CHUNK, left))):
            digest.update(chunk)
            left -= len(chunk)
        return digest.hexdigest()
    except OSError as exc:
        raise MediaError(f"cannot read file ({exc.strerror or exc})") from None
    finally:
        os.close(fd)


def video_id_for(digest: str) -> str:
    """Short id used in window ids and on the command line."""
    return digest[:ID_HEX_CHARS]
