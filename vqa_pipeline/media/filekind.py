"""Only regular files are read: a FIFO, a device or a socket (even behind a symlink) never ends or
never answers, so it is refused by its kind before any read."""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

_KINDS = (
    (stat.S_ISDIR, "directory"),
    (stat.S_ISFIFO, "FIFO"),
    (stat.S_ISCHR, "character device"),
    (stat.S_ISBLK, "block device"),
    (stat.S_ISSOCK, "socket"),
)


def kind_problem(mode: int) -> str:
    """``""`` for a regular file, else ``"not a regular file: <kind>"``."""
    if stat.S_ISREG(mode):
        return ""
    for test, name in _KINDS:
        if test(mode):
            return f"not a regular file: {name}"
    return "not a regular file"


def regular_file_problem(path: str | Path) -> str:
    """Why ``path`` (symlinks resolved) cannot be read as a file, or ``""`` when it is a regular file.

    Only ``stat`` is called: nothing is opened, so a FIFO or a device cannot block or flood us.
    """
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return "broken symlink" if os.path.islink(path) else "no such file"
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "symlink loop"
        return f"cannot stat ({exc.strerror})"
    return kind_problem(st.st_mode)
