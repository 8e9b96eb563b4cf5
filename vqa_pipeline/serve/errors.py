"""The one error type of the app: an HTTP status and a one-line reason (``{"error": reason}``)."""

from __future__ import annotations

from pydantic import BaseModel


class ApiError(Exception):
    """Answer ``status`` with ``{"error": str(err)}`` (and ``headers``, e.g. ``Retry-After``)."""

    def __init__(self, status: int, reason: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(reason)
        self.status = status
        self.headers = dict(headers or {})


class ErrorBody(BaseModel):
    """Every error response: one line saying what went wrong."""

    error: str


def error_responses(*statuses: int) -> dict[int | str, dict]:
    """OpenAPI ``responses`` entries for these error statuses, each ``{"error": str}``."""
    return {s: {"model": ErrorBody, "description": ERROR_MEANINGS[s]} for s in statuses}


ERROR_MEANINGS = {
    400: "a bad argument (an unknown video, a bad time range)",
    401: "no token, or a wrong one (only when `vqa serve` has --token)",
    404: "no such video, window, file or index",
    413: "the question or the request body is too long",
    422: "an invalid parameter (a k out of range, a value of the wrong type)",
    416: "the range is past the end of the file",
    503: "busy: too many questions running or queued; retry after Retry-After seconds",
}
