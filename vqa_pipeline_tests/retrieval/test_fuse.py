"""Score fusion against hand-computed values, and fusion-config loading."""

from __future__ import annotations

import json
import logging
import math

import pytest

from vqa_pipeline.retrieval.fuse import FusionConfig, fuse, load_fusion_config, zscores
from vqa_pipeline.retrieval.search import search_columns

LISTS = {
    "emb_text": [("a", 0.9), ("b", 0.8), ("c", 0.7)],
    "bm25": [("b", 5.0), ("d", 2.0)],
    "emb_audio_labels": [("c", 0.6)],
}


def test_rrf_by_hand():
    fused = fuse(LISTS, FusionConfig("rrf", weights={}, rrf_k=60))
    expected = {
        "a": 1 / 61,
        "b": 1 / 62 + 1 / 61,
        "c": 1 / 63 + 1 / 61,
        "d": 1 / 62,
    }
    assert dict(fused.ranked) == pytest.approx(expected)
    assert [w for w, _ in fused.ranked] == ["b", "c", "a", "d"]


def test_rrf_weights_and_k():
    fused = fuse(LISTS, FusionConfig("rrf", rrf_k=0, weights={"bm25": 2.0, "emb_audio_labels": 0.0}))
    expected = {"a": 1 / 1, "b": 1 / 2 + 2 / 1, "c": 1 / 3, "d": 2 / 2}
    assert dict(fused.ranked) == pytest.approx(expected)
    # A zero-weight model still reports its scores.
    assert fused.per_model["c"] == {"emb_text": 0.7, "emb_audio_labels": 0.6}


def test_per_model_scores_are_the_raw_scores():
    fused = fuse(LISTS)
    assert fused.per_model == {
        "a": {"emb_text": 0.9},
        "b": {"emb_text": 0.8, "bm25": 5.0},
        "c": {"emb_text": 0.7, "emb_audio_labels": 0.6},
        "d": {"bm25": 2.0},
    }


def test_duplicate_entries_count_once():
    fused = fuse({"m": [("a", 0.9), ("a", 0.5), ("b", 0.4)]}, FusionConfig("rrf", rrf_k=0))
    assert dict(fused.ranked) == pytest.approx({"a": 1.0, "b": 0.5})


def test_zscore_fusion_by_hand():
    # emb_text: mean 0.8, std sqrt(0.02/3); bm25: mean 3.5, std 1.5; audio: one score -> z 0.
    s = math.sqrt(0.02 / 3)
    zt = {"a": 0.1 / s, "b": 0.0, "c": -0.1 / s}
    zb = {"b": 1.0, "d": -1.0}
    assert zscores(LISTS["emb_text"]) == pytest.approx(zt)
    assert zscores(LISTS["bm25"]) == pytest.approx(zb)
    cfg = FusionConfig(method="zscore", weights={"bm25": 0.5}, temperatures={"emb_text": 2.0})
    fused = dict(fuse(LISTS, cfg).ranked)
    # Missing from a list = that list's lowest z minus 1 (bm25: -2, audio: -1, emb_text: zt["c"] - 1).
    expected = {
        "a": zt["a"] / 2 + 0.5 * -2.0 + -1.0,
        "b": zt["b"] / 2 + 0.5 * 1.0 + -1.0,
        "c": zt["c"] / 2 + 0.5 * -2.0 + 0.0,
        "d": (zt["c"] - 1) / 2 + 0.5 * -1.0 + -1.0,
    }
    assert fused == pytest.approx(expected)


def test_a_single_exact_match_still_counts_in_zscore_fusion():
    fused = fuse({"emb_text": [("a", 0.9), ("b", 0.9)], "bm25": [("b", 4.2)]}, FusionConfig("zscore", weights={}))
    assert dict(fused.ranked) == {"b": 0.0, "a": -1.0}


def test_unlisted_models_get_the_default_weight_and_temperature_one():
    cfg = FusionConfig(weights={"bm25": 2.0}, default_weight=0.5)
    assert cfg.weight("bm25") == 2.0 and cfg.weight("emb_text") == 0.5
    assert cfg.temperature("bm25") == 1.0 and FusionConfig(temperatures={"bm25": 3.0}).temperature("bm25") == 3.0


def test_ties_are_broken_by_window_id():
    fused = fuse({"m": [("b", 1.0)], "n": [("a", 1.0)]}, FusionConfig("rrf"))
    assert [w for w, _ in fused.ranked] == ["a", "b"]


def test_fusion_on_real_search_prefers_agreement(sample, sample_table):
    lists = search_columns(sample_table, "which platform does the Leeds train leave from?", k=30)
    fused = fuse(lists)
    top = fused.ranked[0][0]
    assert top == sample.window_of("station.mp4", 0)
    assert set(fused.per_model[top]) == {"emb_text", "bm25", "emb_audio_labels"}


@pytest.mark.parametrize(
    "bad",
    [{"method": "borda"}, {"rrf_k": -1}, {"weights": {"bm25": -2}}, {"temperatures": {"bm25": 0}}, {"weights": [1, 2]}],
)
def test_invalid_configs_raise(bad):
    with pytest.raises(ValueError):
        FusionConfig.from_dict(bad)


def test_config_round_trip(tmp_path):
    cfg = FusionConfig("zscore", {"bm25": 0.4}, 30.0, {"emb_text": 0.5}, {"emb_text": "e5@1"})
    cfg.save(tmp_path / "f.json")
    loaded, warning = load_fusion_config(tmp_path / "f.json", {"emb_text": "e5@1", "bm25": "x"})
    assert warning is None and loaded == cfg


@pytest.mark.parametrize(
    ("content", "reason"),
    [(None, "not found"), ("{not json", "unreadable"), ('{"method": "nope"}', "unreadable"), ("[1, 2]", "unreadable"),
     (json.dumps({"method": "zscore", "model_tags": {"emb_text": "old-e5@0"}}), "other versions of emb_text")],
)
def test_missing_corrupt_or_stale_configs_fall_back_with_a_warning(tmp_path, caplog, content, reason):
    path = tmp_path / "fusion.json"
    if content is not None:
        path.write_text(content)
    with caplog.at_level(logging.WARNING):
        cfg, warning = load_fusion_config(path, {"emb_text": "e5@1"})
    assert cfg == FusionConfig()
    assert reason in warning and reason in caplog.text
    assert load_fusion_config(None) == (FusionConfig(), None)
