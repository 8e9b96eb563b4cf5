"""Retrieval: per-column search over the windows table, score fusion, and retrieval metrics."""

from vqa_pipeline.retrieval.fuse import FusedRanking, FusionConfig, fuse, load_fusion_config
from vqa_pipeline.retrieval.retrievers import BM25, IndexRetrievers, QueryEncoder, index_retrievers
from vqa_pipeline.retrieval.search import QueryError, SearchFilter, make_filter, open_index, search_columns

__all__ = [
    "BM25",
    "FusedRanking",
    "FusionConfig",
    "IndexRetrievers",
    "QueryEncoder",
    "QueryError",
    "SearchFilter",
    "fuse",
    "index_retrievers",
    "load_fusion_config",
    "make_filter",
    "open_index",
    "search_columns",
]
