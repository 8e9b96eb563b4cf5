"""Content ids: the same bytes under any name get the same id."""

from __future__ import annotations

import hashlib
from pathlib import Path

from vqa_pipeline.media.types import MediaError

ID_HEX_CHARS = 16


def content_hash(path: str | Path) -> str:
    """SHA-256 of the file's bytes (hex).

    Raises:
        MediaError: the file cannot be read.
    """
    try:
        with open(path, "rb") as f:
            return hashlib.file_digest(f, "sha256").hexdigest()
    except PermissionError:
        raise MediaError("permission denied") from None
    except IsADirectoryError:
        raise MediaError("is a directory") from None
    except OSError as exc:
        raise MediaError(f"cannot read file ({exc.strerror or exc})") from None


def video_id_for(digest: str) -> str:
    """Short id used in window ids and on the command line."""
    return digest[:ID_HEX_CHARS]
