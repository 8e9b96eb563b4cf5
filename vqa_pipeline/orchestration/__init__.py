"""Thin orchestration over the core: Ray actor pools for extraction, Dagster definitions."""
