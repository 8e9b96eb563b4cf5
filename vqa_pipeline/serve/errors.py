"""The one error type of the app: an HTTP status and a one-line reason (``{"error": reason}``)."""

from __future__ import annotations


class ApiError(Exception):
    """Answer ``status`` with ``{"error": str(err)}``."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
