"""LanceDB storage: the only package that imports lancedb.

Modules: ``tables`` (the four tables, upserts, staleness records), ``search`` (the read side of the
windows table: vector, BM25 and hybrid search, row fetches), ``search_index`` (FTS/ANN indexes),
``rows`` (window rows of a decoded file), ``evidence`` (a video's lines read back), ``catalog`` (what
a VIDEO argument names), ``fingerprint`` (has the database changed, without importing LanceDB),
``health`` (are the tables whole; the repairs `vqa index` makes) and ``errors`` (Lance failures in one line).
``Store`` and friends are loaded on first use, so the light modules do not pay LanceDB's import.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from vqa_pipeline.store.tables import ExtractionRecord, Store, StoreError

__all__ = ["ExtractionRecord", "Store", "StoreError"]


def __getattr__(name: str):
    if name in __all__:
        from vqa_pipeline.store import tables

        return getattr(tables, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
