"""Bounded concurrency for the heavy endpoints: a few run, a limited queue waits, the rest get 503.

Search and ask are CPU-bound and share the models (the question encoder and llama.cpp are not
thread-safe), so they run one at a time; a burst of requests waits in a bounded queue instead of
piling up threads and memory without limit.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager


class Busy(Exception):
    """The queue is full: answer 503 and let the client retry."""


class Limiter:
    """At most ``running`` holders at once and ``waiting`` more queued; beyond that :class:`Busy`."""

    def __init__(self, running: int = 1, waiting: int = 32) -> None:
        if running < 1 or waiting < 0:
            raise ValueError("running must be >= 1 and waiting >= 0")
        self.capacity = running + waiting
        self._running = running
        self._admitted = 0
        self._sem: asyncio.Semaphore | None = None  # created inside the server's event loop

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        if self._sem is None:
            self._sem = asyncio.Semaphore(self._running)
        if self._admitted >= self.capacity:
            raise Busy
        self._admitted += 1
        try:
            async with self._sem:
                yield
        finally:
            self._admitted -= 1
