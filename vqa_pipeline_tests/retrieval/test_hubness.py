import numpy as np

from vqa_pipeline.retrieval.hubness import hubness, k_occurrence


def test_a_window_in_every_top_k_is_a_hub():
    rng = np.random.default_rng(0)
    n, queries = 1000, 200
    # Without a hub: every query's top 10 is 10 distinct random windows.
    even = np.stack([rng.choice(n, 10, replace=False) for _ in range(queries)])
    # With one: window 7 is in every top 10.
    others = np.delete(np.arange(n), 7)
    hubbed = np.stack([np.r_[7, rng.choice(others, 9, replace=False)] for _ in range(queries)])
    h0, h1 = hubness(even, n, threshold=10), hubness(hubbed, n, threshold=10)
    assert k_occurrence(hubbed, n)[7] == queries
    assert h1["max"] == queries and h1["share_over"] == 1 / n
    assert h0["max"] < 10 and h0["share_over"] == 0
    assert h1["skewness"] > 10 > 1 > h0["skewness"]


def test_missing_hits_are_not_counted():
    assert list(k_occurrence(np.array([[0, -1], [0, 2]]), 3)) == [2, 0, 1]
