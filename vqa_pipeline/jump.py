"""Opening an indexed file at a second in a local player (``vqa open``, ``--play``).

A target is ``VIDEO@TIME`` (``fire_drill@12.5``, ``/x/talk.mp4@1:02``, ``3f2a...@1:02:03``) or a
window id (``3f2a...-00006``: its start); VIDEO is any reference :mod:`vqa_pipeline.store.catalog`
accepts. The command is built for the first player found on ``PATH``: ``mpv --start=S``,
``vlc --start-time=S``, ``ffplay -ss S``, or ``xdg-open`` (which cannot seek) as a last resort.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass

from vqa_pipeline.store.evidence import resolve_video
from vqa_pipeline.store.search import ID_PATTERN
from vqa_pipeline.store.sources import live_source_of
from vqa_pipeline.store.tables import Store, StoreError

PLAYERS = ("mpv", "vlc", "ffplay", "xdg-open")
"""Players in order of preference; all but ``xdg-open`` start at the given second."""
_WINDOW_REF = re.compile(r"^(.+)-(\d+)\Z")
"""A window id: ``<video id>-<index>`` (:func:`vqa_pipeline.media.windows.window_id`)."""
_TIME = re.compile(r"^(?:(?:(\d+):)?(\d{1,2}):)?(\d+(?:\.\d*)?|\.\d+)s?$")


@dataclass(frozen=True, slots=True)
class Target:
    """An indexed file and where to start it (``window_id`` when the target named a window)."""

    video_id: str
    source: str
    start: float
    window_id: str | None = None


def parse_time(text: str) -> float:
    """Seconds from ``12.5``, ``12.5s``, ``1:02`` or ``1:02:03.5``.

    Raises:
        ValueError: anything else (one line).
    """
    m = _TIME.match(text.strip())
    if not m:
        raise ValueError(f"not a time: {text!r} (give seconds like 12.5, or 1:02, or 1:02:03)")
    hours, minutes, seconds = m.groups()
    if (minutes is not None and float(seconds) >= 60) or (hours is not None and int(minutes) >= 60):
        raise ValueError(f"not a time: {text!r} (minutes and seconds after a ':' are under 60)")
    return int(hours or 0) * 3600 + int(minutes or 0) * 60 + float(seconds)


def split_target(ref: str, is_video: Callable[[str], bool] | None = None) -> tuple[str, float | None]:
    """``("fire_drill", 12.5)`` from ``fire_drill@12.5``; ``(ref, None)`` without a time.

    An ``@`` may be part of a file name (``talk@2x.mp4``): when what follows the last ``@`` is not a
    time and ``is_video`` says the whole reference names a video (always, without ``is_video``), the
    whole reference is the video.

    Raises:
        ValueError: no video before the ``@``; a malformed time after it (when the whole is no video).
    """
    video, at, when = ref.strip().rpartition("@")
    if not at or "/" in when or "\\" in when:  # no time, or an '@' inside a folder name
        return ref.strip(), None
    try:
        seconds = parse_time(when)
    except ValueError:
        if is_video is None or is_video(ref.strip()):
            return ref.strip(), None
        raise
    if not video:
        raise ValueError(f"no video before '@' in {ref!r}")
    return video, seconds


def _names_a_video(store: Store, ref: str) -> bool:
    try:
        resolve_video(store, ref)
    except StoreError:
        return False
    return True


def existing_source(store: Store, video: dict) -> str:
    """The first of a video's indexed files that is still there, unchanged since indexing.

    Raises:
        StoreError: none is (:class:`vqa_pipeline.store.sources.SourceGone`, with the reason).
    """
    return live_source_of(store, video).source


def resolve_target(store: Store, ref: str) -> Target:
    """The file and second ``ref`` names (see the module docstring).

    Raises:
        StoreError: no such window or video, an ambiguous reference, a file gone since indexing.
        ValueError: a malformed time.
    """
    video_ref, at = split_target(ref, is_video=lambda r: _names_a_video(store, r))
    if at is None and ID_PATTERN.match(video_ref):
        rows = (store.windows.search().where(f"window_id = '{video_ref}'").select(["video_id", "start_s"])
                .limit(1).to_list())
        if rows:
            video = store.get_video(rows[0]["video_id"]) or {}
            return Target(rows[0]["video_id"], existing_source(store, video), float(rows[0]["start_s"]), video_ref)
        _no_such_window(store, video_ref)
    video = resolve_video(store, video_ref)
    start = at or 0.0
    duration = video.get("duration_s")
    if duration and start > duration:
        raise StoreError(f"{start:g}s is past the end of {video.get('source')} ({duration:.1f}s long)")
    return Target(video["video_id"], existing_source(store, video), start)


def _no_such_window(store: Store, ref: str) -> None:
    """``VIDEO_ID-NNNNN`` naming an indexed video but none of its windows: say so (not "did you mean
    VIDEO_ID?", which is what the reference already names).

    Raises:
        StoreError: ``ref`` has that form and its video is indexed.
    """
    m = _WINDOW_REF.match(ref)
    if not m:
        return
    video = store.get_video(m.group(1))
    if video is None:
        return
    n = store.count_windows(m.group(1))
    raise StoreError(f"no window {int(m.group(2))} in {video.get('source') or m.group(1)} (it has {n} window"
                     f"{'' if n == 1 else 's'})")


def seconds_arg(seconds: float) -> str:
    """``12.5``, ``62``: at most millisecond precision, no exponent."""
    return f"{max(seconds, 0.0):.3f}".rstrip("0").rstrip(".")


def player_command(player: str, path: str, seconds: float) -> list[str]:
    """The command line that opens ``path`` at ``seconds`` in ``player`` (one of :data:`PLAYERS`)."""
    s = seconds_arg(seconds)
    name = os.path.basename(player)
    if name == "mpv":
        return [player, f"--start={s}", path]
    if name == "vlc":
        return [player, f"--start-time={s}", path]
    if name == "ffplay":
        return [player, "-ss", s, path]
    if name == "xdg-open":
        return [player, path]
    raise ValueError(f"unknown player {player!r}; known: {', '.join(PLAYERS)}")


def player_seeks(player: str) -> bool:
    """Whether ``player``'s command starts at the given second (``xdg-open`` has no way to)."""
    return os.path.basename(player) != "xdg-open"


def find_player(preferred: str | None = None) -> str | None:
    """The first of :data:`PLAYERS` on ``PATH`` (only ``preferred`` when given), or ``None``."""
    for name in (preferred,) if preferred else PLAYERS:
        if shutil.which(name):
            return name
    return None


def launch(command: list[str]) -> int:
    """Start ``command`` detached from this process (its own session, no terminal I/O); its pid."""
    proc = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True, close_fds=True)
    return proc.pid
