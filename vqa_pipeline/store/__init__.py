"""LanceDB storage: the only package that imports lancedb."""

from vqa_pipeline.store.tables import ExtractionRecord, Store, StoreError

__all__ = ["ExtractionRecord", "Store", "StoreError"]
