"""Probing, decoding and windowing media files (no Dagster, no Ray)."""
