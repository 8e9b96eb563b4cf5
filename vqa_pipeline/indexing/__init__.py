"""Indexing core: find files, decide what is new or stale, decode, run extractors, write rows.

Plain Python: Dagster assets and the `vqa index` command both drive these functions; Ray enters
only through the ``ExtractionRunner`` they are given.
"""
