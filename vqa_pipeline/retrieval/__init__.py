"""Retrieval: per-column search over the windows table, score fusion, and retrieval metrics."""

from vqa_pipeline.retrieval.fuse import FusedRanking, FusionConfig, fuse, load_fusion_config
from vqa_pipeline.retrieval.search import (
    BM25,
    VECTOR_RETRIEVERS,
    QueryEncoder,
    QueryError,
    SearchFilter,
    make_filter,
    open_windows_table,
    search_columns,
)

__all__ = [
    "BM25",
    "VECTOR_RETRIEVERS",
    "FusedRanking",
    "FusionConfig",
    "QueryEncoder",
    "QueryError",
    "SearchFilter",
    "fuse",
    "load_fusion_config",
    "make_filter",
    "open_windows_table",
    "search_columns",
]
