"""An open file sent with HTTP range support (200, 206 with ``Content-Range``, 416), read from its
descriptor only (Starlette's ``FileResponse`` reopens by name, which :mod:`.media` must avoid)."""

from __future__ import annotations

import os
import re
from email.utils import formatdate
from typing import Literal

import anyio
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

CHUNK = 256 * 1024
_RANGE = re.compile(r"bytes=(\d*)-(\d*)")


def parse_range(header: str | None, size: int) -> tuple[int, int] | None | Literal[False]:
    """``(first, last)`` byte positions for a single-range ``Range`` header; ``None`` to send the
    whole file (no header, a malformed one, or several ranges: all may be ignored per RFC 9110);
    ``False`` when the range is unsatisfiable (416)."""
    if not header:
        return None
    m = _RANGE.fullmatch(header.strip())
    if not m or (not m.group(1) and not m.group(2)):
        return None
    first, last = m.group(1), m.group(2)
    if not first:  # the last N bytes
        n = int(last)
        return (max(size - n, 0), size - 1) if n > 0 and size > 0 else False
    start = int(first)
    end = min(int(last), size - 1) if last else size - 1
    if last and int(last) < start:
        return None  # invalid syntax: ignored
    return (start, end) if start < size else False


class FdResponse(Response):
    """An ASGI response sending bytes ``[first, last]`` of ``fd`` (closed when done, whatever happens)."""

    def __init__(self, fd: int, size: int, mtime: float, media_type: str, range_header: str | None,
                 head: bool = False, headers: dict[str, str] | None = None) -> None:
        # Response's own __init__ wants the body in memory; the attributes it would set are set here
        self.fd, self.head, self.background, self.body = fd, head, None, b""
        base = {"accept-ranges": "bytes", "content-type": media_type,
                "last-modified": formatdate(mtime, usegmt=True), **(headers or {})}
        span = parse_range(range_header, size)
        if span is False:
            self.status_code, self.first, self.last = 416, 0, -1
            base.update({"content-range": f"bytes */{size}", "content-type": "text/plain"})
        elif span is None:
            self.status_code, self.first, self.last = 200, 0, size - 1
        else:
            self.status_code, (self.first, self.last) = 206, span
            base["content-range"] = f"bytes {self.first}-{self.last}/{size}"
        base["content-length"] = str(self.last - self.first + 1)
        self.raw_headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in base.items()]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await send({"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers})
            if self.head or self.last < self.first:
                await send({"type": "http.response.body", "body": b""})
                return
            async with anyio.create_task_group() as tg:
                async def stop_on_disconnect() -> None:  # a client gone mid-stream: stop reading the file
                    while (await receive())["type"] != "http.disconnect":
                        pass
                    tg.cancel_scope.cancel()

                tg.start_soon(stop_on_disconnect)
                pos = self.first
                while pos <= self.last:
                    data = await anyio.to_thread.run_sync(os.pread, self.fd, min(CHUNK, self.last + 1 - pos), pos)
                    if not data:  # the file shrank: end the response short (the server closes the connection)
                        break
                    pos += len(data)
                    await send({"type": "http.response.body", "body": data, "more_body": pos <= self.last})
                tg.cancel_scope.cancel()
        finally:
            os.close(self.fd)
