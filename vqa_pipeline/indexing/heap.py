"""Hand freed heap memory back to the system between the segments of a long recording.

glibc keeps what a process frees in its per-thread arenas, and Ray's and LanceDB's many threads
each get one; the driver's RSS crept up by about 50 MB per hour of media (with ``MALLOC_ARENA_MAX=2``
it stays flat). ``malloc_trim(0)`` returns free pages from every arena at a cost of milliseconds;
measured, it trims the 3 h driver peak a little (0.83 -> 0.78 GiB with the cheap extractors). A no-op
where the C library is not glibc.
"""

from __future__ import annotations

import ctypes
import ctypes.util
from functools import lru_cache


@lru_cache(maxsize=1)
def _malloc_trim():
    name = ctypes.util.find_library("c")
    if not name:
        return None
    try:
        return ctypes.CDLL(name).malloc_trim
    except (OSError, AttributeError):  # not glibc
        return None


def release_free_memory() -> None:
    """Return the process's free heap pages to the system (glibc); a no-op elsewhere."""
    trim = _malloc_trim()
    if trim is not None:
        trim(0)
