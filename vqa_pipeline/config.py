"""Where state lives. Every path can be overridden by an environment variable."""

from __future__ import annotations

import os
from pathlib import Path

from vqa_pipeline.store.location import is_uri

ENV_HOME = "VQA_HOME"
ENV_DB = "VQA_DB"


def state_dir() -> Path:
    """Project state folder (LanceDB, decode cache, Dagster, Optuna): ``$VQA_HOME`` or ``./.vqa``."""
    return Path(os.environ.get(ENV_HOME) or ".vqa").absolute()


def default_db_dir() -> Path | str:
    """The LanceDB folder: ``$VQA_DB`` (a folder or an object-store URI, ``s3://bucket/prefix``) or
    ``<state>/lance``."""
    env = os.environ.get(ENV_DB)
    if env and is_uri(env):
        return env
    return Path(env).absolute() if env else state_dir() / "lance"


def model_cache_dir() -> Path:
    """Bundled weights unpacked once: ``$VQA_MODEL_CACHE`` or ``~/.cache/vqa_pipeline/models``."""
    env = os.environ.get("VQA_MODEL_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "vqa_pipeline" / "models"
