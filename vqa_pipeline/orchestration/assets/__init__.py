"""Dagster assets: thin wrappers over vqa_pipeline.indexing."""
