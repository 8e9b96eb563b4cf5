"""Which file ``GET /api/media/{video_id}`` may send: only an indexed source, unchanged since indexing.

A request names a video id, never a path: the paths come from the ``videos`` table, and
:mod:`vqa_pipeline.store.sources` picks the first still-unchanged one (as ``vqa open`` does). The
file is then opened once and its descriptor checked to be that same regular file (device, inode,
size, modification time), and only that descriptor is read: a file swapped between the check and
the read is refused, never sent. Every refusal is an :class:`ApiError` with a one-line reason.
"""

from __future__ import annotations

import mimetypes
import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path

from vqa_pipeline.serve.errors import ApiError
from vqa_pipeline.store.sources import live_source_of
from vqa_pipeline.store.tables import Store, StoreError

VIDEO_ID_RE = re.compile(r"[A-Za-z0-9_\-]{1,80}")
"""The shape of the ids the indexer writes (use ``fullmatch``); anything else names no video."""

_EXTRA_TYPES = {".mkv": "video/x-matroska", ".m4a": "audio/mp4", ".opus": "audio/ogg", ".flac": "audio/flac"}


@dataclass(frozen=True, slots=True)
class MediaFile:
    fd: int  # open for reading; whoever sends it closes it
    stat: os.stat_result  # of ``fd``
    media_type: str


def media_type_of(path: Path) -> str:
    suffix = path.suffix.lower()
    return _EXTRA_TYPES.get(suffix) or mimetypes.guess_type(path.name)[0] or "application/octet-stream"


def same_file(a: os.stat_result, b: os.stat_result) -> bool:
    return (stat.S_ISREG(b.st_mode) and (a.st_dev, a.st_ino, a.st_size, a.st_mtime_ns)
            == (b.st_dev, b.st_ino, b.st_size, b.st_mtime_ns))


def open_media(store: Store, video_id: str) -> MediaFile:
    """The servable file of ``video_id``, opened.

    Raises:
        ApiError: 404 with the reason: not an id, no such video, failed at indexing, deleted or
            moved, not a regular file, or changed since indexing.
    """
    if not VIDEO_ID_RE.fullmatch(video_id):
        raise ApiError(404, "not a video id (media is served by video id only)")
    try:
        video = store.get_video(video_id)
    except (StoreError, ValueError) as exc:
        raise ApiError(404, f"no indexed video {video_id} ({exc})") from None
    if video is None:
        raise ApiError(404, f"no indexed video has the id {video_id}")
    if video.get("status") == "failed":
        raise ApiError(404, f"{video.get('source')} could not be indexed: {video.get('error') or 'unknown reason'}")
    try:
        live = live_source_of(store, video)
    except StoreError as exc:
        raise ApiError(404, str(exc)) from None
    changed = ApiError(404, f"{live.source} changed after it was indexed (run `vqa index` again)")
    try:
        # the resolved path, not following a link put there since; non-blocking: a FIFO put there cannot hang us
        fd = os.open(live.real, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        raise changed from None
    try:
        st = os.fstat(fd)
    except OSError:
        os.close(fd)
        raise changed from None
    if not same_file(live.stat, st):
        os.close(fd)
        raise changed
    return MediaFile(fd, st, media_type_of(Path(live.source)))
