"""``vqa serve``: a warm HTTP API over an index and a web page with a player.

The app (:func:`create_app`) keeps the question encoder and the answer model loaded, answers the
CLI's JSON shapes under ``/api``, streams indexed source files with HTTP range requests, and
serves a static page (``static/``). Free of Dagster and Ray: it only reads the index.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from vqa_pipeline.serve.app import create_app

__all__ = ["create_app"]


def __getattr__(name: str):
    # fastapi is imported only when the app is wanted (`vqa serve` checks its arguments first)
    if name == "create_app":
        from vqa_pipeline.serve.app import create_app

        return create_app
    raise AttributeError(name)
