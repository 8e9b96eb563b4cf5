import os

import pytest

# Tests never reach a model hub.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


@pytest.fixture
def db_dir(tmp_path):
    return tmp_path / "db"


@pytest.fixture
def store(db_dir):
    from vqa_pipeline.store import Store

    return Store(db_dir)
