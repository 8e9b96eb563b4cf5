"""PaddleOCR backend: model folders, backend choice, and reading PaddleOCR 3.x results.

Neither PaddleOCR nor its model folders are on this machine: the real-weights test skips.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from vqa_pipeline.extractors.full import paddle_ocr
from vqa_pipeline.extractors.full.paddle_ocr import PaddleOcr
from vqa_pipeline.extractors.registry import create_extractor
from vqa_pipeline_tests.needs import require_module


def _model(folder, name):
    folder.mkdir(parents=True)
    (folder / "inference.json").write_text("{}")
    (folder / "inference.pdiparams").write_bytes(b"\0")
    (folder / "inference.yml").write_text(f"Global:\n  model_name: {name}\nPostProcess:\n  character_dict:\n  - a\n  - b\n")
    return folder


@pytest.fixture
def model_root(tmp_path):
    root = tmp_path / "paddle-models"
    _model(root / "PP-OCRv5_mobile_det", "PP-OCRv5_mobile_det")
    _model(root / "PP-OCRv5_server_det", "PP-OCRv5_server_det")
    _model(root / "PP-OCRv5_server_rec", "PP-OCRv5_server_rec")
    return root


def test_folders_are_found_and_named(model_root, empty_hf_cache, monkeypatch):
    det, rec = paddle_ocr.locate_models({"model_dir": str(model_root)})
    assert det.path.name == "PP-OCRv5_server_det" and rec.path.name == "PP-OCRv5_server_rec"
    det, _ = paddle_ocr.locate_models({"model_dir": str(model_root), "det_model": "PP-OCRv5_mobile_det"})
    assert det.path.name == "PP-OCRv5_mobile_det"
    monkeypatch.setenv("VQA_PADDLEOCR_MODEL_DIR", str(model_root))
    assert PaddleOcr().model_tag == "paddleocr-PP-OCRv5_server_det-PP-OCRv5_server_rec@1"
    monkeypatch.setenv("VQA_PADDLEOCR_REC_DIR", str(model_root / "PP-OCRv5_server_det" / "nope"))
    with pytest.raises(paddle_ocr.WeightsNotFound, match="not a PaddlePaddle model folder"):
        paddle_ocr.locate_models({})


def test_availability_reports_backend_then_weights(model_root, empty_hf_cache, monkeypatch):
    monkeypatch.setattr(paddle_ocr, "module_available", lambda m: False)
    ok, why = create_extractor("paddleocr").availability()
    assert not ok and why.startswith("install the paddle extra")
    monkeypatch.setattr(paddle_ocr, "module_available", lambda m: m == "paddle")
    ok, why = PaddleOcr().availability()
    assert not ok and why.startswith("weights not found: no PaddleOCR det and rec model folder")
    ok, why = PaddleOcr(model_dir=str(model_root)).availability()
    assert ok and why.endswith("rapidocr-paddle backend") and "PP-OCRv5_server_det" in why
    assert paddle_ocr.choose_backend("paddleocr") == "paddleocr"
    with pytest.raises(ValueError):
        paddle_ocr.choose_backend("tesseract")


def test_reads_from_a_paddleocr_result():
    res = {
        "rec_texts": ["PLATFORM 9", "x", "  low  "],
        "rec_scores": [0.98, 0.9, 0.2],
        "rec_polys": [np.array([[100, 50], [300, 50], [300, 90], [100, 90]]), np.zeros((4, 2)), np.zeros((4, 2))],
    }
    reads = paddle_ocr.reads_from_result(res, width=400, height=100, min_score=0.5)
    assert [r.text for r in reads] == ["PLATFORM 9", "x"]
    assert reads[0].box == pytest.approx([0.25, 0.5, 0.75, 0.9])


def test_rec_keys_from_inference_yml(model_root, tmp_path, monkeypatch):
    require_module("yaml")  # PyYAML comes with dagster
    monkeypatch.setenv("VQA_MODEL_CACHE", str(tmp_path / "cache"))
    keys = paddle_ocr._rec_keys(model_root / "PP-OCRv5_server_rec", None)
    assert keys and Path(keys).read_text().split("\n") == ["a", "b"]


@pytest.mark.weights
def test_real_paddleocr_reads_the_platform_sign(media):
    ex = PaddleOcr()
    ok, why = ex.availability()
    if not ok:
        pytest.skip(f"PaddleOCR models or backend are not here: {why}")
    out = ex.extract(media, {})
    assert any("PLATFORM" in ln.text.upper() for w in out.lines for ln in w)
