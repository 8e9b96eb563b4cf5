"""Retrieval metrics over time windows: nDCG@K (binary gains), Recall@K and MRR.

Relevance follows the dev-set rule of DESIGN.md: a retrieved window ``[s, e]`` of the right video is
relevant to a gold span ``[a, b]`` when it overlaps the span by at least 0.5 s, or covers the (shorter)
span whole (``s <= a`` and ``b <= e``).

Conventions:

- **Duplicates**: a window retrieved twice counts once, at its first (best) rank; later copies are
  dropped before scoring.
- **Ties**: when scores are given, windows with equal scores form a tie group whose internal order is
  arbitrary, and every metric is the *expected* value over all orders of each group (nDCG averages
  gains within a group; MRR and Recall@K use the exact expectation). Without scores, list order wins.
- **K larger than the list**: missing ranks count as non-relevant (no error).
- **No relevant spans**: retrieval metrics are undefined; :func:`evaluate_query` returns ``None`` and
  :func:`mean_metrics` skips it. The low-level functions return 0.0 for ``n_relevant == 0``.
- **nDCG ideal**: binary window-level gains; the ideal DCG uses ``n_relevant`` relevant windows
  (pass the number of relevant windows in the index when known, e.g. from
  :func:`count_relevant_windows`; otherwise the larger of the relevant windows retrieved and the
  number of gold spans), so nDCG stays within ``[0, 1]``.
- **Recall@K**: the fraction of gold spans hit by at least one window in the top K.

Example:
    >>> gold = Gold(video="kitchen.mp4", spans=((12.0, 14.0),))
    >>> hits = [RetrievedWindow("/data/kitchen.mp4", 4.0, 6.0), RetrievedWindow("/data/kitchen.mp4", 12.0, 14.0)]
    >>> evaluate_query(hits, gold).mrr
    0.5
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from math import comb

from vqa_pipeline.store.catalog import source_matches

MIN_OVERLAP_S = 0.5
_EPS = 1e-9


@dataclass(frozen=True, slots=True)
class Gold:
    """Ground truth of one dev-set question.

    Attributes:
        video: the dev set's ``video`` value; matches a source path ending with it (at a path
            component boundary, so ``"a.mp4"`` does not match ``"/x/data.mp4"``).
        spans: relevant ``(start_s, end_s)`` spans in that video.
    """

    video: str
    spans: tuple[tuple[float, float], ...]


@dataclass(frozen=True, slots=True)
class RetrievedWindow:
    """One ranked retrieval result. ``score`` (optional) enables tie handling."""

    source: str
    start_s: float
    end_s: float
    score: float | None = None
    window_id: str | None = None

    @property
    def key(self) -> tuple:
        return (self.window_id,) if self.window_id else (self.source, round(self.start_s, 6), round(self.end_s, 6))


@dataclass(frozen=True, slots=True)
class QueryMetrics:
    """Metrics of one question; ``ndcg``/``recall`` are keyed by K."""

    ndcg: dict[int, float] = field(default_factory=dict)
    recall: dict[int, float] = field(default_factory=dict)
    mrr: float = 0.0


def span_relevant(start_s: float, end_s: float, span_start_s: float, span_end_s: float,
                  min_overlap_s: float = MIN_OVERLAP_S) -> bool:
    """DESIGN.md rule: overlap of at least ``min_overlap_s``, or the window covers the span whole."""
    overlap = min(end_s, span_end_s) - max(start_s, span_start_s)
    if overlap >= min_overlap_s - _EPS:
        return True
    return start_s <= span_start_s + _EPS and span_end_s <= end_s + _EPS


def spans_hit(window: RetrievedWindow, gold: Gold) -> frozenset[int]:
    """Indices of the gold spans that ``window`` is relevant to (empty for another video)."""
    if not source_matches(window.source, gold.video):
        return frozenset()
    return frozenset(i for i, (a, b) in enumerate(gold.spans) if span_relevant(window.start_s, window.end_s, a, b))


def dedupe(hits: Iterable[RetrievedWindow]) -> list[RetrievedWindow]:
    """Drop repeated windows, keeping the first (best-ranked) copy."""
    seen: set[tuple] = set()
    out = []
    for h in hits:
        if h.key not in seen:
            seen.add(h.key)
            out.append(h)
    return out


def _tied(a: float | None, b: float | None) -> bool:
    """Both scores known and equal (to 1e-12)."""
    return a is not None and b is not None and math.isclose(b, a, rel_tol=0.0, abs_tol=1e-12)


def _tie_groups(n: int, scores: Sequence[float | None] | None) -> list[tuple[int, int]]:
    """``[(start, stop), ...]`` index ranges of consecutive equal scores (singletons without scores)."""
    if scores is None:
        return [(i, i + 1) for i in range(n)]
    if len(scores) != n:
        raise ValueError(f"got {len(scores)} scores for {n} results")
    groups = []
    i = 0
    while i < n:
        j = i + 1
        while j < n and _tied(scores[i], scores[j]):
            j += 1
        groups.append((i, j))
        i = j
    return groups


def _dcg_weight(rank0: int) -> float:
    return 1.0 / math.log2(rank0 + 2)


def ndcg_at_k(relevant: Sequence[bool], k: int, n_relevant: int,
              scores: Sequence[float | None] | None = None) -> float:
    """Binary-gain nDCG@K of a ranked relevance list.

    Args:
        relevant: relevance of each ranked result (duplicates already removed).
        k: cutoff (may exceed the list length).
        n_relevant: number of relevant results that exist (for the ideal DCG).
        scores: optional scores aligned with ``relevant``; equal scores are ties (expected nDCG).

    Returns:
        nDCG in ``[0, 1]``; 0.0 when ``n_relevant`` is 0 or ``k`` < 1.
    """
    if k < 1 or n_relevant <= 0:
        return 0.0
    n_relevant = max(n_relevant, sum(bool(r) for r in relevant))
    dcg = 0.0
    for a, b in _tie_groups(len(relevant), scores):
        if a >= k:
            break
        mean_gain = sum(bool(r) for r in relevant[a:b]) / (b - a)
        dcg += mean_gain * sum(_dcg_weight(i) for i in range(a, min(b, k)))
    idcg = sum(_dcg_weight(i) for i in range(min(k, n_relevant)))
    return dcg / idcg


def mrr(relevant: Sequence[bool], scores: Sequence[float | None] | None = None) -> float:
    """Reciprocal rank of the first relevant result (expected value over tie orders); 0.0 if none."""
    for a, b in _tie_groups(len(relevant), scores):
        n = b - a
        r = sum(bool(x) for x in relevant[a:b])
        if r == 0:
            continue
        # The first relevant item of the group lands at offset i with probability C(n-1-i, r-1) / C(n, r).
        total = comb(n, r)
        return sum(comb(n - 1 - i, r - 1) / total / (a + i + 1) for i in range(n - r + 1))
    return 0.0


def recall_at_k(hit_spans: Sequence[frozenset[int]], n_spans: int, k: int,
                scores: Sequence[float | None] | None = None) -> float:
    """Expected fraction of the ``n_spans`` gold spans hit by at least one result in the top ``k``.

    Args:
        hit_spans: per ranked result, the indices of the spans it is relevant to.
        n_spans: number of gold spans.
        k: cutoff (may exceed the list length).
        scores: optional scores for tie handling.
    """
    if n_spans <= 0 or k < 1:
        return 0.0
    p_missed = [1.0] * n_spans
    for a, b in _tie_groups(len(hit_spans), scores):
        if a >= k:
            break
        n, m = b - a, min(b, k) - a  # m of the group's n results fall inside the top k
        for s in range(n_spans):
            c = sum(1 for h in hit_spans[a:b] if s in h)
            if c:
                # Probability that none of the c relevant results is among the m picked: C(n-c, m)/C(n, m).
                p_missed[s] *= comb(n - c, m) / comb(n, m)
    return sum(1.0 - p for p in p_missed) / n_spans


def count_relevant_windows(windows: Iterable[RetrievedWindow], gold: Gold) -> int:
    """Number of windows of an index (any order) relevant to ``gold``: the ideal count for nDCG."""
    return sum(1 for w in dedupe(windows) if spans_hit(w, gold))


def evaluate_query(hits: Sequence[RetrievedWindow], gold: Gold, ks: Sequence[int] = (5, 10),
                   n_relevant_windows: int | None = None) -> QueryMetrics | None:
    """nDCG@K and Recall@K for each K in ``ks``, plus MRR, for one question.

    Args:
        hits: ranked results, best first (duplicates allowed; they are dropped).
        gold: the question's ground truth.
        ks: cutoffs.
        n_relevant_windows: relevant windows in the whole index (see :func:`count_relevant_windows`).

    Returns:
        The metrics, or ``None`` when ``gold`` has no spans (metrics undefined).
    """
    if not gold.spans:
        return None
    hits = dedupe(hits)
    per_hit = [spans_hit(h, gold) for h in hits]
    rel = [bool(s) for s in per_hit]
    scores = [h.score for h in hits] if hits and all(h.score is not None for h in hits) else None
    n_rel = n_relevant_windows if n_relevant_windows is not None else max(sum(rel), len(gold.spans))
    return QueryMetrics(
        ndcg={k: ndcg_at_k(rel, k, n_rel, scores) for k in ks},
        recall={k: recall_at_k(per_hit, len(gold.spans), k, scores) for k in ks},
        mrr=mrr(rel, scores),
    )


def mean_metrics(results: Iterable[QueryMetrics | None]) -> tuple[int, QueryMetrics]:
    """Average of per-question metrics, skipping ``None``; returns ``(n_averaged, means)``."""
    kept = [r for r in results if r is not None]
    if not kept:
        return 0, QueryMetrics()
    ks_n = set.intersection(*(set(r.ndcg) for r in kept))
    ks_r = set.intersection(*(set(r.recall) for r in kept))
    n = len(kept)
    return n, QueryMetrics(
        ndcg={k: sum(r.ndcg[k] for r in kept) / n for k in sorted(ks_n)},
        recall={k: sum(r.recall[k] for r in kept) / n for k in sorted(ks_r)},
        mrr=sum(r.mrr for r in kept) / n,
    )
