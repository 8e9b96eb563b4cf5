"""One writer per database: an advisory lock on ``<db>/vqa-writer.lock``.

The lock itself is ``flock`` on a descriptor the holder keeps open, so the kernel releases it when
the holder ends in any way (``kill -9`` included). The file's text names the holder (pid, host,
start time, command) only so that a waiting writer can say whom it waits for. Readers never take
the lock. A process takes it once and may re-enter it (every ``Store`` write does), so the CLI
holds it for a whole run while each write of a Dagster step takes it only for that write.

Stale holders: a lock still held although its holder's pid is gone on this host (a child that
inherited the descriptor outlives a killed parent) is taken over with a notice, by replacing the
file: whoever then wins ``flock`` on the old file sees that it is no longer the lock file and tries
again. A holder on another host is trusted until the file is older than ``STALE_AFTER_S`` (it is
touched at every write), or until the user breaks it.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path

log = logging.getLogger(__name__)

LOCK_NAME = "vqa-writer.lock"
STALE_AFTER_S = 24 * 3600.0
"""A holder on another host whose lock file is untouched this long is taken to be gone."""
POLL_S = 0.25


class DatabaseBusy(Exception):
    """Another process writes to the database (and we did not wait, or waited too long)."""

    def __init__(self, db: str, holder: Holder | None, waited_s: float | None = None) -> None:
        self.db, self.holder, self.waited_s = db, holder, waited_s
        who = holder.describe() if holder else "another process"
        waited = f" (waited {waited_s:.0f} s)" if waited_s else ""
        super().__init__(f"database {db} is busy: {who}{waited}")


@dataclass(frozen=True, slots=True)
class Holder:
    """Who holds (or last held) a database's writer lock."""

    pid: int
    host: str
    started: float  # Unix time
    command: str
    space: str = ""  # boot id and pid namespace: a pid means this process only where they match

    def describe(self) -> str:
        t = datetime.fromtimestamp(self.started)
        when = t.strftime("%H:%M" if t.date() == datetime.now().date() else "%Y-%m-%d %H:%M")
        return f"{self.command} by pid {self.pid} on host {self.host} since {when}"

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def parse(cls, text: str) -> Holder | None:
        try:
            d = json.loads(text)
            return cls(int(d["pid"]), str(d["host"]), float(d["started"]), str(d.get("command") or "a writer"),
                       str(d.get("space") or ""))
        except (ValueError, KeyError, TypeError):
            return None


def default_command() -> str:
    """What this process is, for the lock file: ``vqa index``, ``dagster``, ``python``."""
    argv = sys.argv or ["python"]
    name = Path(argv[0]).name
    if name in ("__main__.py", "-c", "") or name.startswith("python"):
        return "python"
    return " ".join([name, *argv[1:2]])


def pid_space() -> str:
    """This machine's boot and this process's pid namespace: two processes that share a host name
    (a container on the host network) see each other's pids only when these match."""
    parts = []
    for path in ("/proc/sys/kernel/random/boot_id", "/proc/self/ns/pid"):
        try:
            parts.append(Path(path).read_text().strip() if "boot" in path else os.readlink(path))
        except OSError:
            parts.append("?")
    return "|".join(parts)


def _fcntl():
    """``fcntl``, imported when a lock is taken: readers never need it, and a system without it
    gets a one-line reason instead of every command failing at import."""
    try:
        import fcntl
    except ImportError:
        raise OSError(errno.ENOSYS, "the database writer lock needs a POSIX system (no fcntl here)") from None
    return fcntl


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


@dataclass(slots=True)
class _Held:
    fd: int
    count: int


# Locks this process holds, by the database folder's real path (threads of a process share them).
_HELD: dict[str, _Held] = {}
_HELD_GUARD = threading.Lock()


class WriterLock:
    """The writer lock of a local database folder.

    Args:
        db_dir: the database folder (created if missing).
        command: what the holder is, shown to waiting writers (default: this program's name).

    Example:
        >>> with WriterLock("/tmp/vqa-db").hold(wait=False):   # doctest: +SKIP
        ...     ...  # write
    """

    def __init__(self, db_dir: str | Path, command: str | None = None) -> None:
        self.db = str(db_dir)
        self.command = command or default_command()

    @property
    def path(self) -> Path:
        return Path(self.db) / LOCK_NAME

    def _key(self) -> str:
        return os.path.realpath(self.db)

    @property
    def held(self) -> bool:
        """Whether this process holds the lock."""
        return self._key() in _HELD

    def holder(self) -> Holder | None:
        """Who holds the lock now, as its file says (``None`` when free or not yet written)."""
        try:
            return Holder.parse(self.path.read_text(encoding="utf-8"))
        except OSError:
            return None

    @contextmanager
    def hold(self, wait: bool = True, timeout: float | None = None,
             on_wait: Callable[[Holder | None], None] | None = None,
             notice: Callable[[str], None] | None = None, break_lock: bool = False) -> Iterator[None]:
        """Hold the lock for the ``with`` block (see :meth:`acquire`)."""
        self.acquire(wait, timeout, on_wait, notice, break_lock)
        try:
            yield
        finally:
            self.release()

    @contextmanager
    def hold_if_free(self) -> Iterator[bool | None]:
        """Hold the lock for the block only if no other process holds it (a reader's optional write:
        it never waits, and says nothing of a stale holder it takes over).

        Yields ``None`` when the lock is busy or cannot be taken here, else whether it was taken
        now (``False``: this process held it already), as :meth:`acquire` returns.
        """
        try:
            fresh = self.acquire(wait=False, notice=log.debug)
        except (DatabaseBusy, OSError):
            yield None
            return
        try:
            yield fresh
        finally:
            self.release()

    def acquire(self, wait: bool = True, timeout: float | None = None,
                on_wait: Callable[[Holder | None], None] | None = None,
                notice: Callable[[str], None] | None = None, break_lock: bool = False) -> bool:
        """Take the lock, or enter it again when this process holds it already.

        Args:
            wait: wait for the holder to finish (``False``: raise ``DatabaseBusy`` at once).
            timeout: give up waiting after this many seconds (``None``: wait as long as it takes).
            on_wait: called once, with the holder, when we start waiting.
            notice: where a stale lock's take-over is reported (default: a log warning).
            break_lock: take the lock over even from a live holder on another host.

        Returns:
            Whether the lock was taken now (``False``: entered again); other processes may have
            written before, so table handles opened earlier must look for their latest version.

        Raises:
            DatabaseBusy: the lock is held and ``wait`` is false or ``timeout`` ran out.
            OSError: the folder cannot hold a lock file (read-only, a regular file, ...).
        """
        key = self._key()
        with _HELD_GUARD:
            held = _HELD.get(key)
            if held is not None:
                held.count += 1
                _touch(held.fd)
                return False
        notice = notice or log.warning
        Path(self.db).mkdir(parents=True, exist_ok=True)
        t0 = time.monotonic()
        waiting = False
        while True:
            fd = self._try_lock()
            if fd is not None:
                break
            holder = self.holder()
            why = self._stale(holder, break_lock)
            if why and holder is not None:
                self._take_over(holder, notice, why)
                continue
            if not wait or (timeout is not None and time.monotonic() - t0 >= timeout):
                raise DatabaseBusy(self.db, holder, time.monotonic() - t0 if wait else None)
            if not waiting and on_wait is not None:
                on_wait(holder)
            waiting = True
            time.sleep(POLL_S)
        previous = Holder.parse(_read_fd(fd))
        if previous is not None and previous.pid != os.getpid():
            # The kernel released it: the last writer ended without letting go (killed, crashed).
            notice(f"database {self.db}: the last writer ({previous.describe()}) ended without finishing; "
                   "taking over its lock")
        me = Holder(os.getpid(), socket.gethostname(), time.time(), self.command, pid_space())
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(me.to_json()).encode(), 0)
        with _HELD_GUARD:
            _HELD[key] = _Held(fd, 1)
        return True

    def release(self) -> None:
        """Leave the lock once; the last release lets it go (the file stays, emptied)."""
        with _HELD_GUARD:
            held = _HELD.get(self._key())
            if held is None:
                return
            held.count -= 1
            if held.count > 0:
                return
            del _HELD[self._key()]
        fcntl = _fcntl()
        try:
            os.ftruncate(held.fd, 0)
        finally:
            fcntl.flock(held.fd, fcntl.LOCK_UN)
            os.close(held.fd)

    # -- internals -----------------------------------------------------------------------------
    def _try_lock(self) -> int | None:
        """A descriptor holding ``flock`` on the current lock file, or ``None`` when it is held."""
        fcntl = _fcntl()
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as exc:
                os.close(fd)
                if exc.errno in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                    return None
                raise
            try:
                same = os.fstat(fd).st_ino == os.stat(self.path).st_ino
            except FileNotFoundError:
                same = False
            if same:
                return fd
            # A stale lock was taken over meanwhile: this file is no longer the lock.
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def _stale(self, holder: Holder | None, break_lock: bool) -> str:
        """Why a held lock may be taken over (``""``: it may not)."""
        if holder is None:  # its holder has not written its name yet
            return ""
        if holder.host == socket.gethostname() and holder.space in ("", pid_space()):
            # a live writer on this host is never broken: two writers at once duplicate rows
            return "" if _pid_alive(holder.pid) else "that process is gone"
        if break_lock:
            return "breaking it as asked"
        try:
            age = time.time() - self.path.stat().st_mtime
        except OSError:
            return ""
        return f"untouched for {age / 3600:.0f} h" if age > STALE_AFTER_S else ""

    def _take_over(self, seen: Holder, notice: Callable[[str], None], why: str) -> None:
        """Replace a stale lock file by a fresh one; one process at a time decides."""
        fcntl = _fcntl()
        guard = os.open(self.path.with_name(LOCK_NAME + ".takeover"), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(guard, fcntl.LOCK_EX)
            if self.holder() != seen:
                return  # someone else took it over (or it was released) meanwhile
            fd = self._try_lock()
            if fd is not None:  # released meanwhile: nothing to take over
                fcntl.flock(fd, fcntl.LOCK_UN)
                os.close(fd)
                return
            notice(f"database {self.db}: taking over the writer lock of {seen.describe()} ({why})")
            tmp = self.path.with_name(f"{LOCK_NAME}.{os.getpid()}.tmp")
            tmp.write_bytes(b"")
            os.replace(tmp, self.path)
        finally:
            fcntl.flock(guard, fcntl.LOCK_UN)
            os.close(guard)


def _read_fd(fd: int) -> str:
    try:
        return os.pread(fd, 4096, 0).decode("utf-8", "replace")
    except OSError:
        return ""


def _touch(fd: int) -> None:
    """Show writers on other hosts that the holder is alive (they trust a recently touched file)."""
    try:
        os.utime(fd)
    except OSError:
        pass


__all__ = ["LOCK_NAME", "STALE_AFTER_S", "DatabaseBusy", "Holder", "WriterLock"]
