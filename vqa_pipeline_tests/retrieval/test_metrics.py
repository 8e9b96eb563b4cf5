"""Retrieval metrics against hand-computed values."""

from __future__ import annotations

import math

import pytest

from vqa_pipeline.retrieval.metrics import (
    Gold,
    RetrievedWindow,
    count_relevant_windows,
    evaluate_query,
    mean_metrics,
    mrr,
    ndcg_at_k,
    recall_at_k,
    source_matches,
    span_relevant,
)

SRC = "/data/media/kitchen.mp4"
L3 = 1 / math.log2(3)  # DCG weight of rank 2
L5 = 1 / math.log2(5)  # rank 4


def w(start, end, source=SRC, score=None, wid=None):
    return RetrievedWindow(source, start, end, score, wid)


@pytest.mark.parametrize(
    ("window", "span", "expected"),
    [
        ((10.0, 12.0), (11.6, 13.0), False),  # overlap 0.4 s, span not covered
        ((10.0, 12.0), (11.5, 13.0), True),  # overlap exactly 0.5 s
        ((10.0, 12.0), (11.0, 11.3), True),  # 0.3 s span covered whole
        ((10.0, 12.0), (9.0, 13.0), True),  # window inside a long span
        ((10.0, 12.0), (12.0, 14.0), False),  # touching only
        ((10.0, 12.0), (12.0, 12.0), True),  # a point at the edge is covered
    ],
)
def test_span_relevance_rule(window, span, expected):
    assert span_relevant(*window, *span) is expected


def test_source_matching_is_a_path_suffix_at_a_component_boundary():
    assert source_matches(SRC, "kitchen.mp4")
    assert source_matches(SRC, "media/kitchen.mp4")
    assert source_matches(SRC, SRC)
    assert not source_matches("/data/mykitchen.mp4", "kitchen.mp4")
    assert not source_matches(SRC, "")


def test_hand_computed_ndcg_mrr_recall():
    gold = Gold("kitchen.mp4", ((12.0, 14.0),))
    hits = [w(4, 6), w(12, 14), w(0, 2, source="/data/other.mp4"), w(11, 13)]
    m = evaluate_query(hits, gold, ks=(1, 2, 10), n_relevant_windows=2)
    assert m.mrr == pytest.approx(0.5)
    assert m.ndcg[10] == pytest.approx((L3 + L5) / (1 + L3))  # (0.630930 + 0.430677) / 1.630930
    assert m.ndcg[10] == pytest.approx(0.650921, abs=1e-6)
    assert m.ndcg[1] == 0.0
    assert m.recall[1] == 0.0 and m.recall[2] == 1.0 and m.recall[10] == 1.0


def test_window_from_another_video_is_not_relevant():
    gold = Gold("kitchen.mp4", ((12.0, 14.0),))
    m = evaluate_query([w(12, 14, source="/data/station.mp4")], gold)
    assert m.mrr == 0.0 and m.ndcg[10] == 0.0 and m.recall[5] == 0.0


def test_duplicates_count_once_at_their_best_rank():
    gold = Gold("kitchen.mp4", ((12.0, 14.0),))
    hits = [w(12, 14, wid="k-6"), w(12, 14, wid="k-6"), w(4, 6, wid="k-2"), w(12, 14, wid="k-6")]
    m = evaluate_query(hits, gold, ks=(10,), n_relevant_windows=1)
    assert m.mrr == 1.0 and m.ndcg[10] == 1.0
    # Without ids, the same source and times are the same window.
    m2 = evaluate_query([w(4, 6), w(4, 6), w(12, 14)], gold, ks=(10,), n_relevant_windows=1)
    assert m2.mrr == pytest.approx(0.5)


def test_ties_give_the_expected_value_over_orders():
    rel = [False, False, True]
    scores = [0.9, 0.5, 0.5]
    assert ndcg_at_k(rel, 10, 1, scores) == pytest.approx(0.5 * (L3 + 0.5))
    assert mrr(rel, scores) == pytest.approx((1 / 2 + 1 / 3) / 2)
    assert recall_at_k([frozenset(), frozenset(), frozenset({0})], 1, 2, scores) == pytest.approx(0.5)
    assert recall_at_k([frozenset(), frozenset(), frozenset({0})], 1, 3, scores) == pytest.approx(1.0)
    # Two relevant among three tied at the top: first relevant at 1 w.p. 2/3, at 2 w.p. 1/3.
    assert mrr([True, True, False], [1.0, 1.0, 1.0]) == pytest.approx(2 / 3 + 1 / 6)
    # Without scores the list order decides.
    assert mrr(rel) == pytest.approx(1 / 3)


def test_evaluate_uses_scores_for_ties():
    gold = Gold("kitchen.mp4", ((12.0, 14.0),))
    hits = [w(4, 6, score=0.7), w(12, 14, score=0.7)]
    assert evaluate_query(hits, gold, n_relevant_windows=1).mrr == pytest.approx(0.75)


def test_k_larger_than_hits_and_degenerate_inputs():
    assert ndcg_at_k([True], 10, 1) == 1.0
    assert ndcg_at_k([], 10, 1) == 0.0
    assert ndcg_at_k([True], 0, 1) == 0.0
    assert ndcg_at_k([True], 5, 0) == 0.0
    assert mrr([]) == 0.0
    assert recall_at_k([], 2, 5) == 0.0
    # An under-stated ideal count can never push nDCG above 1.
    assert ndcg_at_k([True, True], 10, 1) == pytest.approx(1.0)


def test_no_relevant_spans_is_skipped_in_the_mean():
    gold_none = Gold("kitchen.mp4", ())
    gold = Gold("kitchen.mp4", ((12.0, 14.0),))
    assert evaluate_query([w(12, 14)], gold_none) is None
    n, mean = mean_metrics([evaluate_query([w(12, 14)], gold, n_relevant_windows=1), None,
                            evaluate_query([w(0, 2), w(12, 14)], gold, n_relevant_windows=1)])
    assert n == 2
    assert mean.mrr == pytest.approx(0.75)
    assert mean.ndcg[10] == pytest.approx((1 + L3) / 2)
    assert mean_metrics([None]) == (0, mean_metrics([])[1])


def test_recall_counts_spans_not_windows():
    gold = Gold("kitchen.mp4", ((0.0, 2.0), (10.0, 12.0)))
    m = evaluate_query([w(0, 2), w(1, 3)], gold, ks=(5,))
    assert m.recall[5] == pytest.approx(0.5)
    # Ideal count falls back to max(relevant retrieved, spans) = 2: both retrieved windows are relevant.
    assert m.ndcg[5] == pytest.approx(1.0)


def test_ideal_count_from_the_index():
    gold = Gold("kitchen.mp4", ((11.0, 14.0),))
    index = [w(t, t + 2) for t in range(0, 20, 2)] + [w(12, 14, source="/data/other.mp4")]
    assert count_relevant_windows(index, gold) == 2  # [10,12] overlaps 1.0 s, [12,14] 2.0 s
    m = evaluate_query([w(12, 14)], gold, n_relevant_windows=2)
    assert m.ndcg[10] == pytest.approx(1 / (1 + L3))
