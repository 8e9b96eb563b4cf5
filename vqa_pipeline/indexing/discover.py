"""Finding media files under the paths a user names."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from vqa_pipeline.media.filekind import regular_file_problem
from vqa_pipeline.media.types import MEDIA_SUFFIXES


@dataclass(frozen=True, slots=True)
class Found:
    """A path to index, or one that could not be looked at (``error`` set)."""

    path: Path
    error: str = ""


def discover(paths: list[str | Path]) -> list[Found]:
    """Media files under ``paths`` (files taken as named, folders searched recursively).

    Symlinked folders are followed once; a symlink loop or an unreadable folder is reported as
    an error entry, never raised. Anything that is not a regular file once symlinks are resolved
    (a FIFO, a device, a socket) is an error entry with its kind, found without opening it.
    Results are absolute, de-duplicated and sorted.
    """
    out: dict[Path, Found] = {}
    for p in paths:
        p = Path(p).expanduser()
        if not os.path.lexists(p):
            out[p.absolute()] = Found(p.absolute(), "no such file or folder")
        elif p.is_dir():
            for f in _walk(p):
                out.setdefault(f.path, f)
        else:
            ap = _absolute(p)
            out.setdefault(ap, Found(ap, regular_file_problem(p)))
    return sorted(out.values(), key=lambda f: str(f.path))


def _absolute(p: Path) -> Path:
    # Keep the user's name for the file (not the symlink target) but make it absolute.
    return Path(os.path.abspath(p))


def _walk(root: Path) -> list[Found]:
    found: list[Found] = []
    seen_dirs: set[tuple[int, int]] = set()
    stack = [_absolute(root)]
    while stack:
        d = stack.pop()
        try:
            st = d.stat()
        except OSError as exc:
            found.append(Found(d, f"cannot open folder ({exc.strerror})"))
            continue
        key = (st.st_dev, st.st_ino)
        if key in seen_dirs:
            continue  # symlink loop or a folder reached twice
        seen_dirs.add(key)
        try:
            entries = sorted(os.scandir(d), key=lambda e: e.name)
        except OSError as exc:
            found.append(Found(d, f"cannot list folder ({exc.strerror})"))
            continue
        for e in entries:
            path = d / e.name
            try:
                if e.is_dir(follow_symlinks=True):
                    stack.append(path)
                elif Path(e.name).suffix.lower() in MEDIA_SUFFIXES:
                    found.append(Found(path, regular_file_problem(path)))
            except OSError as exc:
                if Path(e.name).suffix.lower() in MEDIA_SUFFIXES:
                    found.append(Found(path, f"cannot stat ({exc.strerror})"))
    return found
