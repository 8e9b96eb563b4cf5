"""Which file ``GET /api/media/{video_id}`` may send: only an indexed source, unchanged since indexing.

A request names a video id, never a path: the path comes from the ``videos`` table. The recorded
source is resolved (a symlink the user indexed stays usable), must still be a regular file, and
must have the size recorded at indexing (and the modification time, where the ``files`` table
has it), so a source replaced afterwards by a link to another file, or by another file, is not
sent. Every refusal is a :class:`MediaError` with a one-line reason and the HTTP status to answer.
"""

from __future__ import annotations

import mimetypes
import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path

from vqa_pipeline.store.tables import Store, StoreError

VIDEO_ID_RE = re.compile(r"^[A-Za-z0-9_\-]{1,80}$")
"""The shape of the ids the indexer writes; anything else names no video (and never reaches SQL)."""

_EXTRA_TYPES = {".mkv": "video/x-matroska", ".m4a": "audio/mp4", ".opus": "audio/ogg", ".flac": "audio/flac"}


class MediaError(Exception):
    """The file cannot be served; ``str(err)`` is the reason, ``status`` the HTTP status."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status


@dataclass(frozen=True, slots=True)
class MediaFile:
    path: Path  # the resolved path of the recorded source
    size: int
    media_type: str
    name: str  # the file name as indexed


def media_type_of(path: Path) -> str:
    suffix = path.suffix.lower()
    return _EXTRA_TYPES.get(suffix) or mimetypes.guess_type(path.name)[0] or "application/octet-stream"


def _recorded_mtime(store: Store, source: str) -> int | None:
    try:
        row = store.files.search().where(f"path = '{source.replace(chr(39), chr(39) * 2)}'").limit(1).to_list()
    except (StoreError, ValueError, OSError, RuntimeError):
        return None
    return row[0].get("mtime_ns") if row else None


def resolve_media(store: Store, video_id: str) -> MediaFile:
    """The servable file of ``video_id``.

    Raises:
        MediaError: 404 with the reason: not an id, no such video, failed at indexing, deleted or
            moved, not a regular file, or changed since indexing.
    """
    if not VIDEO_ID_RE.match(video_id):
        raise MediaError(404, "not a video id (media is served by video id only)")
    try:
        video = store.get_video(video_id)
    except (StoreError, ValueError) as exc:
        raise MediaError(404, f"no indexed video {video_id} ({exc})") from None
    if video is None:
        raise MediaError(404, f"no indexed video has the id {video_id}")
    source = video.get("source") or ""
    if video.get("status") == "failed":
        raise MediaError(404, f"{source} could not be indexed: {video.get('error') or 'unknown reason'}")
    if not source:
        raise MediaError(404, f"video {video_id} has no recorded source file")
    try:
        real = Path(os.path.realpath(source, strict=True))
        st = real.stat()
    except (OSError, RuntimeError):
        raise MediaError(404, f"{source} was deleted or moved after indexing (run `vqa index` on its new place)") from None
    if not stat.S_ISREG(st.st_mode):
        raise MediaError(404, f"{source} is no longer a regular file")
    size = video.get("size_bytes")
    mtime = _recorded_mtime(store, source)
    if (size and st.st_size != size) or (mtime and st.st_mtime_ns != mtime):
        raise MediaError(404, f"{source} changed after it was indexed (run `vqa index` again)")
    return MediaFile(real, st.st_size, media_type_of(Path(source)), Path(source).name)
