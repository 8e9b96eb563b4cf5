import os

import pytest

# Tests never reach a model hub.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


@pytest.fixture(scope="session")
def espeak_ng() -> str:
    """The espeak-ng command (speech for the synthetic media); skips without it, fails under CI."""
    from vqa_pipeline_tests.needs import require_tool

    return require_tool("espeak-ng", "Debian: apt-get install espeak-ng; scripts/setup.sh installs it as root")


@pytest.fixture
def db_dir(tmp_path):
    return tmp_path / "db"


@pytest.fixture
def store(db_dir):
    from vqa_pipeline.store import Store

    return Store(db_dir)


# -- the sample windows table (retrieval/sample_windows.py), shared by the retrieval, answer,
# tuning and query tests and built once per session with real e5 embeddings ------------------

@pytest.fixture(scope="session")
def sample():
    from vqa_pipeline_tests.retrieval import sample_windows

    return sample_windows


@pytest.fixture(scope="session")
def sample_rows(sample, tmp_path_factory):
    return sample.build_rows(tmp_path_factory.mktemp("media"))


@pytest.fixture(scope="session")
def sample_db(sample, sample_rows, tmp_path_factory):
    """A LanceDB folder holding the sample ``windows`` table (treat as read-only)."""
    db = tmp_path_factory.mktemp("lance")
    sample.build_windows_table(db, rows=[dict(r) for r in sample_rows])
    return db


@pytest.fixture()
def sample_table(sample_db):
    from vqa_pipeline.retrieval.search import open_index

    return open_index(sample_db)
