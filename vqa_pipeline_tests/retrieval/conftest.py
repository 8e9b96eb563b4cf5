"""Fixtures for the retrieval tests: the sample windows table lives in the top-level conftest."""
