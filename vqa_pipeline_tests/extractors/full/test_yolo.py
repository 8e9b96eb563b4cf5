"""The full profile's ``yolo`` objects detector: a random-weight YOLOv8n (the real architecture,
from ultralytics' own model YAML) saved as a ``.pt`` file and loaded through ``VQA_DETECTOR_WEIGHTS``.
Random weights say nothing about quality; the lite NanoDet tests check detection on real frames."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pyarrow as pa
import pytest
from PIL import Image

from vqa_pipeline_tests.needs import require_module

require_module("torch", full_profile=True)
require_module("ultralytics", full_profile=True)

from vqa_pipeline.extractors.full.testing import build_yolo_checkpoint  # noqa: E402
from vqa_pipeline.extractors.registry import create_extractor, resolve_extractors  # noqa: E402
from vqa_pipeline_tests.extractors.test_objects import _media  # noqa: E402
from vqa_pipeline_tests.models.conftest import BIKES_FRAME  # noqa: E402


@pytest.fixture(scope="module")
def yolo_weights(tmp_path_factory):
    return build_yolo_checkpoint(tmp_path_factory.mktemp("yolo") / "yolov8n-random.pt")


def test_without_weights_the_full_profile_falls_back_to_nanodet(monkeypatch):
    monkeypatch.delenv("VQA_DETECTOR_WEIGHTS", raising=False)
    ok, why = create_extractor("yolo").availability()
    assert not ok and why.startswith("weights not found: set VQA_DETECTOR_WEIGHTS")
    chosen, missing = resolve_extractors("full")
    objects = [e for e in chosen if e.group == "objects"]
    assert [e.name for e in objects] in ([], ["nanodet"])  # nanodet where setup converted it
    assert "yolo" in missing


def test_random_weight_yolo_runs_the_objects_extractor(yolo_weights, monkeypatch):
    monkeypatch.setenv("VQA_DETECTOR_WEIGHTS", str(yolo_weights))
    monkeypatch.setenv("VQA_DEVICE", "cpu")
    ex = create_extractor("yolo", threshold=0.0, box_threshold=0.0)  # random scores are tiny: keep them all
    ok, why = ex.availability()
    assert ok and str(yolo_weights) in why
    assert ex.group == "objects" and ex.model_tag.startswith("yolo-yolov8n-random.pt-")
    with Image.open(BIKES_FRAME) as im:
        bikes = np.asarray(im.convert("RGB"))
    out = ex.extract(_media([bikes, np.zeros((16, 16, 3), np.uint8)]), {})
    for f in ex.fields():
        pa.array(out.columns[f.name], type=f.type)
    boxes = out.columns["objects_boxes"][0]
    assert boxes, "a random detector at threshold 0 still returns boxes"
    assert all(0 <= v <= 1 for b in boxes for v in b["box"])
    from vqa_pipeline.models.nanodet import COCO80

    assert {b["label"] for b in boxes} <= set(COCO80)  # the checkpoint's own (COCO) class names
    assert out.lines[0] and out.lines[0][0].text.startswith("objects: ")


def test_a_damaged_weights_file_is_one_line_naming_it(tmp_path, monkeypatch):
    bad = tmp_path / "broken.pt"
    bad.write_bytes(b"not a checkpoint")
    code = ("from vqa_pipeline.extractors.registry import create_extractor\n"
            f"ex = create_extractor('yolo', weights={str(bad)!r})\n"
            "try:\n    ex.load()\nexcept RuntimeError as e:\n    print(e)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out.splitlines() == [f"{bad}: not a loadable YOLO weights file (" + out.split("(", 1)[1]]
