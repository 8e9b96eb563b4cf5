"""Evaluation on a real LanceDB table: the cached fusion equals the query path, the eval contract, bad dev sets."""

from __future__ import annotations

import json
import math

import pytest

from vqa_pipeline.query import search
from vqa_pipeline.retrieval.fuse import FusionConfig, fuse
from vqa_pipeline.retrieval.metrics import Gold, RetrievedWindow, evaluate_query
from vqa_pipeline.retrieval.search import open_index
from vqa_pipeline.store.search import video_catalog
from vqa_pipeline.tuning.devset import DevSetError, load_devset, resolve_devset
from vqa_pipeline.tuning.evaluate import (
    FusionProblem,
    candidate_depth,
    collect_rankings,
    eval_json,
    evaluate_config,
    evaluate_model,
)
from vqa_pipeline_tests.tuning.conftest import DEVSET, write_devset

CONFIGS = [
    FusionConfig(),
    FusionConfig("rrf", weights={}),
    FusionConfig("rrf", weights={"bm25": 0.2, "emb_audio_labels": 0.0}, rrf_k=3.0),
    FusionConfig("zscore", weights={"emb_text": 0.5, "bm25": 0.9, "emb_audio_labels": 0.1},
                 temperatures={"bm25": 2.5}),
]


@pytest.fixture(scope="module")
def table(sample_db):
    return open_index(sample_db)


@pytest.fixture(scope="module")
def cache(table, devset_file):
    resolved, _ = resolve_devset(load_devset(devset_file), video_catalog(table))
    return collect_rankings(table, resolved)


def test_rankings_are_collected_once_per_question(cache):
    assert cache.models == ("emb_text", "emb_audio_labels", "bm25")
    assert len(cache.questions) == len(DEVSET) - 1
    assert cache.skipped == {"l_worldcup": "no relevant spans (absent question)"}
    assert cache.depth == candidate_depth(10) == 50
    q = next(q for q in cache.questions if q.id == "k_oven")
    assert q.n_relevant_windows == 1 and q.lists["emb_text"] and q.hybrid
    assert set(cache.model_tags) == set(cache.models)


def test_the_fused_ranking_is_what_search_returns(cache, sample_db):
    """The evaluation scores exactly the windows `vqa search --k 10` would show."""
    for q in cache.questions[:6]:
        for cfg in CONFIGS:
            hits = search(q.resolved.question.question, k=10, db=sample_db, fusion=cfg)
            assert [h.window_id for h in hits] == [w for w, _ in fuse(q.lists, cfg).ranked[:10]]


@pytest.mark.parametrize("cfg", CONFIGS, ids=lambda c: c.method)
def test_fast_fusion_matches_the_reference_path(cache, cfg):
    problem = FusionProblem(cache)
    n, ref = evaluate_config(cache, cfg)
    assert n == len(cache.questions)
    assert problem.mean_ndcg(cfg, 10) == pytest.approx(ref.ndcg[10], abs=1e-12)
    assert problem.mean_ndcg(cfg, 5) == pytest.approx(ref.ndcg[5], abs=1e-12)
    for i in range(len(cache.questions)):
        fast = problem.question_metrics(i, cfg)
        q = cache.questions[i]
        hits = [RetrievedWindow(cache.windows[w].source, cache.windows[w].start_s, cache.windows[w].end_s, s, w)
                for w, s in fuse(q.lists, cfg).ranked[:10]]
        slow = evaluate_query(hits, Gold(q.resolved.question.video, q.resolved.question.relevant),
                              n_relevant_windows=q.n_relevant_windows)
        assert fast.ndcg[10] == pytest.approx(slow.ndcg[10], abs=1e-12)
        assert fast.recall[5] == pytest.approx(slow.recall[5], abs=1e-12)
        assert fast.mrr == pytest.approx(slow.mrr, abs=1e-12)


def test_eval_json_has_the_contract_shape(cache):
    out = eval_json(cache, FusionConfig())
    assert set(out) == {"n", "ndcg@10", "recall@5", "recall@10", "mrr", "per_model"}
    assert isinstance(out["n"], int) and out["n"] == 20
    for key in ("ndcg@10", "recall@5", "recall@10", "mrr"):
        assert isinstance(out[key], float) and 0.0 <= out[key] <= 1.0 and not math.isnan(out[key])
    assert set(out["per_model"]) == {"emb_text", "emb_audio_labels", "bm25"}
    for m in out["per_model"].values():
        assert set(m) == {"ndcg@10", "recall@5"} and all(isinstance(v, float) for v in m.values())
    json.dumps(out, allow_nan=False)
    # The text column finds the answers; the sound-label column only knows the few sound windows.
    assert out["per_model"]["emb_text"]["ndcg@10"] > 0.5 > out["per_model"]["emb_audio_labels"]["ndcg@10"]
    assert out["ndcg@10"] > 0.5


def test_a_single_column_is_scored_on_its_own_list(cache):
    n, m = evaluate_model(cache, "bm25")
    assert n == len(cache.questions) and 0.0 < m.ndcg[10] <= 1.0


def test_no_question_with_relevant_windows_is_a_clear_error(table, tmp_path):
    absent = write_devset(tmp_path / "absent.jsonl", [e for e in DEVSET if not e[4]])
    resolved, _ = resolve_devset(load_devset(absent), video_catalog(table))
    with pytest.raises(DevSetError, match="no question in the dev set has relevant spans"):
        collect_rankings(table, resolved)
    # Spans past the end of the video cover no indexed window: left out, and alone they are an error.
    late = write_devset(tmp_path / "late.jsonl", [("x", "kitchen.mp4", "oven?", ["180"], [[500.0, 510.0]])])
    resolved, _ = resolve_devset(load_devset(late), video_catalog(table))
    with pytest.raises(DevSetError, match="no dev-set question has a relevant span that covers an indexed window"):
        collect_rankings(table, resolved)
    both = write_devset(tmp_path / "both.jsonl", [DEVSET[0], ("x", "kitchen.mp4", "oven?", ["180"], [[500.0, 510.0]])])
    resolved, _ = resolve_devset(load_devset(both), video_catalog(table))
    cache = collect_rankings(table, resolved, hybrid=False)
    assert [q.id for q in cache.questions] == ["k_oven"] and "x" in cache.skipped
    assert not cache.questions[0].hybrid
