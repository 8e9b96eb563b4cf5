"""Fixtures: the sample windows table, built once per session with real e5 embeddings."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest


def load_sample_module():
    """``sample_windows.py`` as a module, whatever the test import mode."""
    name = "vqa_sample_windows"
    if name not in sys.modules:
        path = Path(__file__).resolve().parent / "sample_windows.py"
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


@pytest.fixture(scope="session")
def sample():
    return load_sample_module()


@pytest.fixture(scope="session")
def sample_rows(sample, tmp_path_factory):
    return sample.build_rows(tmp_path_factory.mktemp("media"))


@pytest.fixture(scope="session")
def sample_db(sample, sample_rows, tmp_path_factory) -> Path:
    """A LanceDB folder holding the sample ``windows`` table (treat as read-only)."""
    db = tmp_path_factory.mktemp("lance")
    sample.build_windows_table(db, rows=sample_rows)
    return db


@pytest.fixture()
def sample_table(sample_db):
    from vqa_pipeline.retrieval.search import open_windows_table

    return open_windows_table(sample_db)
