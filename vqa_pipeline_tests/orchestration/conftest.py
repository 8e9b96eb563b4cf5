"""Fixtures for the Dagster tests: a throwaway instance and the local deployment's environment."""

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def dagster_env(tmp_path):
    """Environment for a `dagster` subprocess, as `scripts/dagster.sh` sets it up.

    ``DAGSTER_HOME`` is a temporary folder holding the project's ``dagster.yaml`` (its storage
    under that folder); the ``VQA_*`` variables of the local deployment point into ``tmp_path``,
    with the sample corpus and its dev set as the sources. Tests override what they need.
    """
    home = tmp_path / "dagster_home"
    home.mkdir()
    config = (REPO / "dagster.yaml").read_text().replace("base_dir: .vqa/dagster", f"base_dir: {home}")
    (home / "dagster.yaml").write_text(config)
    return {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "VQA_DEPLOYMENT": "local",
        "VQA_HOME": str(tmp_path / "state"),
        "VQA_DB": str(tmp_path / "state" / "lance"),
        "VQA_SOURCE_DIR": str(REPO / "data" / "sample"),
        "VQA_PROFILE": "lite",
        "VQA_DEVSET": str(REPO / "data" / "sample" / "devset.jsonl"),
        "HF_HUB_OFFLINE": "1",
    }
