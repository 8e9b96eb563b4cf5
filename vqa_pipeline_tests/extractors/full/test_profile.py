"""The full profile: alternatives per column group, fallback to lite, and what the CLI says."""

from __future__ import annotations

import json

import pytest

from vqa_pipeline.extractors.registry import PROFILES, create_extractor, profile_alternatives, profile_names
from vqa_pipeline.indexing.pipeline import resolve_extractors

FULL_ONLY = ("clip-vit-b32", "clap-htsat", "videoprism-lvt", "videoprism-tags")


def test_one_entry_per_group_with_lite_fallbacks():
    alts = profile_alternatives("full")
    groups = [create_extractor(a[0]).group for a in alts]
    assert len(groups) == len(set(groups))
    for slot in alts:  # alternatives share their group
        assert len({create_extractor(n).group for n in slot}) == 1
    assert ("whisper-large-v3", "whisper-base") in alts and ("paddleocr", "rapidocr") in alts
    assert profile_names("full")[:2] == ("whisper-large-v3", "paddleocr")
    assert profile_names("lite") == PROFILES["lite"]
    with pytest.raises(KeyError, match="unknown profile"):
        profile_alternatives("huge")


def test_full_profile_without_weights_falls_back_to_lite(empty_hf_cache):
    chosen, missing = resolve_extractors("full")
    names = [e.name for e in chosen]
    assert names[:2] == ["whisper-base", "rapidocr"] and "e5-small" in names
    assert missing["whisper-large-v3"].endswith("(using whisper-base instead)")
    assert missing["paddleocr"].endswith("(using rapidocr instead)")
    for name in FULL_ONLY:
        assert name in missing and "(using" not in missing[name]
        assert missing[name].startswith(("weights not found", "install the"))
    lite, none_missing = resolve_extractors("lite")
    assert [e.name for e in lite] == list(PROFILES["lite"]) and not none_missing


def test_a_present_full_model_is_chosen(empty_hf_cache, clip_ckpt, monkeypatch):
    monkeypatch.setenv("VQA_CLIP_CHECKPOINT", str(clip_ckpt))
    chosen, missing = resolve_extractors("full")
    assert "clip-vit-b32" in [e.name for e in chosen] and "clip-vit-b32" not in missing


def test_explicit_names_keep_their_meaning(empty_hf_cache):
    chosen, missing = resolve_extractors("full", ["whisper-large-v3", "rapidocr"])
    assert [e.name for e in chosen] == ["rapidocr"] and "(using" not in missing["whisper-large-v3"]


@pytest.mark.slow
def test_vqa_index_profile_full_indexes_with_the_lite_models(empty_hf_cache, tmp_path, capsys):
    from vqa_pipeline.cli import main
    from vqa_pipeline_tests.media_factory import make_clip

    video = make_clip(tmp_path / "clip.mp4", duration_s=4.0)
    db = tmp_path / "db"
    assert main(["index", str(video), "--db", str(db), "--profile", "full", "--no-ray", "-q"]) == 0
    out = capsys.readouterr().out
    assert "1 indexed" in out
    assert "extractor whisper-large-v3 not available: weights not found" in out and "(using whisper-base instead)" in out
    for name in FULL_ONLY:
        assert f"extractor {name} not available" in out
    assert main(["evidence", str(video), "--db", str(db), "--json"]) == 0
    ev = json.loads(capsys.readouterr().out)
    assert ev["lines"]  # visual-stats at least describes the first look


def test_doctor_lists_the_full_models_and_why_not(empty_hf_cache, capsys):
    from vqa_pipeline.cli import main

    assert main(["doctor", "--json"]) == 0
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)["extractors"]}
    for name in (*FULL_ONLY, "whisper-large-v3", "paddleocr"):
        assert name in rows and rows[name]["available"] is False
        assert rows[name]["reason"].startswith(("weights not found", "install the"))
    for name in FULL_ONLY:
        assert "full" in rows[name]["profiles"]
    assert rows["clip-vit-b32"]["group"] == "clip" and rows["clip-vit-b32"]["num_gpus"] == 0.25
