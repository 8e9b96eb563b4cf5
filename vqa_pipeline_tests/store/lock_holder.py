"""Another process that holds a database's writer lock, for the lock tests.

Run as ``python -m vqa_pipeline_tests.store.lock_holder DB [hold|orphan]``: ``hold`` keeps the lock
until its stdin closes; ``orphan`` forks a child that inherits the locked descriptor, prints the
child's pid and exits at once (the lock then names a dead pid while the child still holds it).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
COMMAND = "test holder"


def child_env() -> dict[str, str]:
    """The environment of a subprocess that imports this checkout's packages."""
    return {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(ROOT)}


def vqa(*args, **kw) -> subprocess.CompletedProcess:
    """``vqa ARGS`` as users run it, from this checkout."""
    return subprocess.run([sys.executable, "-m", "vqa_pipeline.cli", *map(str, args)], capture_output=True,
                          text=True, env=child_env(), cwd=ROOT, timeout=600, **kw)


def vqa_popen(*args) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "vqa_pipeline.cli", *map(str, args)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=child_env(), cwd=ROOT)


def start_holder(db: Path, mode: str = "hold") -> tuple[subprocess.Popen, str]:
    """Start a holder; returns it and its first line (``held`` or the orphan's pid) once it holds the lock."""
    proc = subprocess.Popen([sys.executable, "-m", "vqa_pipeline_tests.store.lock_holder", str(db), mode],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=child_env(), cwd=ROOT)
    assert proc.stdout is not None
    return proc, proc.stdout.readline().strip()


@contextmanager
def held(db: Path) -> Iterator[subprocess.Popen]:
    """The lock held by another process for the ``with`` block."""
    proc, line = start_holder(db)
    assert line == "held", line
    try:
        yield proc
    finally:
        release(proc)


def release(proc: subprocess.Popen) -> None:
    assert proc.stdin is not None
    proc.stdin.close()
    proc.wait(timeout=60)


def main(db: str, mode: str) -> None:
    from vqa_pipeline.store.lock import WriterLock

    lock = WriterLock(db, command=COMMAND)
    lock.acquire(wait=False)
    if mode == "orphan":
        pid = os.fork()
        if pid == 0:  # the child keeps the inherited, locked descriptor open
            time.sleep(600)
            os._exit(0)
        print(pid, flush=True)
        os._exit(0)  # no release: as if killed
    print("held", flush=True)
    sys.stdin.read()
    lock.release()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else "hold")
