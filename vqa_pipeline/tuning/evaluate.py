"""Retrieval evaluation over a dev set: per-column ranked lists computed once, fused many times.

:func:`collect_rankings` runs the per-column searches of every dev-set question once (the same
searches, at the same candidate depth, that :func:`vqa_pipeline.query.search` runs) and keeps them in a
:class:`RankingCache`. :class:`FusionProblem` turns the cache into NumPy arrays (per question: ranks
and z-scores per model over the union of candidates), so scoring a :class:`FusionConfig` is a few
vector operations per question: milliseconds for the whole dev set, which is what lets Optuna try
hundreds of configurations.

Scoring follows :mod:`vqa_pipeline.retrieval.metrics` (relevance rule of DESIGN.md, expected values
over ties of the fused score, the ideal nDCG from the relevant windows in the whole index). The hits
of a question are the top ``n_hits`` fused windows, as ``vqa search --k n_hits`` would return.

Example:
    >>> table = open_index(".vqa/lance")
    >>> cache = collect_rankings(table, resolve_devset(load_devset("data/sample/devset.jsonl"), video_catalog(table))[0])
    >>> eval_json(cache, FusionConfig())["ndcg@10"]
    0.66...
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from vqa_pipeline.retrieval.fuse import MISSING_Z_GAP, FusionConfig, dedupe_ranked, fuse, zscores
from vqa_pipeline.retrieval.metrics import (
    QueryMetrics,
    RetrievedWindow,
    mean_metrics,
    mrr,
    ndcg_at_k,
    recall_at_k,
    spans_hit,
)
from vqa_pipeline.retrieval.retrievers import BM25, QueryEncoder, index_retrievers, usable_vector_columns
from vqa_pipeline.retrieval.search import candidate_depth, encode_question, search_columns
from vqa_pipeline.store.search import FTS_MODEL_TAG, hybrid_search, window_spans
from vqa_pipeline.tuning.devset import DevSetError, ResolvedQuestion

log = logging.getLogger(__name__)

CUTOFFS = (5, 10)
HYBRID = "lancedb_hybrid"
HYBRID_VECTOR_COLUMN = "emb_text"
_TIE_TOL = 1e-12

Progress = Callable[[str, dict], None]


@dataclass(frozen=True, slots=True)
class IndexedWindow:
    """Where a window is: enough to judge relevance."""

    window_id: str
    video_id: str
    source: str
    start_s: float
    end_s: float

    def retrieved(self, score: float | None = None) -> RetrievedWindow:
        return RetrievedWindow(self.source, self.start_s, self.end_s, score, self.window_id)


def window_catalog(table) -> dict[str, IndexedWindow]:
    """Every window of the index: ``{window_id: IndexedWindow}`` (reads five small columns)."""
    return {w: IndexedWindow(w, v, s, a, b) for w, v, s, a, b in window_spans(table)}


@dataclass(frozen=True, slots=True)
class QuestionRanking:
    """The per-retriever ranked lists of one dev-set question.

    Attributes:
        resolved: the question and its indexed video.
        lists: ``{retriever: ((window_id, score), ...)}`` best first, as ``search_columns`` returns.
        hybrid: LanceDB's own hybrid search (``emb_text`` + BM25, RRF reranker), best first; empty
            when it could not run.
        n_relevant_windows: windows of the whole index relevant to the question (ideal nDCG).
    """

    resolved: ResolvedQuestion
    lists: dict[str, tuple[tuple[str, float], ...]]
    hybrid: tuple[tuple[str, float], ...]
    n_relevant_windows: int

    @property
    def id(self) -> str:
        return self.resolved.question.id


@dataclass(slots=True)
class RankingCache:
    """Ranked lists of every usable dev-set question, plus what is needed to score them.

    Attributes:
        models: retrievers in a fixed order (vector columns, then ``bm25``).
        model_tags: ``{retriever: model tag}`` the lists were computed with.
        questions: one :class:`QuestionRanking` per answerable question with relevant windows.
        windows: every window named in any list (for relevance).
        n_hits: hits per question (``vqa search --k``).
        depth: candidates per retriever.
        skipped: ``{question id: reason}`` for questions left out (no spans, no relevant window).
    """

    models: tuple[str, ...]
    model_tags: dict[str, str]
    questions: list[QuestionRanking]
    windows: dict[str, IndexedWindow]
    n_hits: int
    depth: int
    skipped: dict[str, str] = field(default_factory=dict)

    def subset(self, ids: Sequence[str]) -> RankingCache:
        wanted = set(ids)
        return RankingCache(self.models, self.model_tags, [q for q in self.questions if q.id in wanted],
                            self.windows, self.n_hits, self.depth, dict(self.skipped))

    def fingerprint(self) -> str:
        """Hash of everything a tuning run depends on (questions, gold, lists, depth, model tags)."""
        h = hashlib.sha256()
        h.update(json.dumps([self.models, self.model_tags, self.n_hits, self.depth], sort_keys=True).encode())
        for q in self.questions:
            dq = q.resolved.question
            lists = {m: [(w, round(s, 6)) for w, s in q.lists.get(m, ())] for m in self.models}
            h.update(json.dumps([dq.id, dq.question, dq.relevant, q.resolved.source, lists], sort_keys=True).encode())
        return h.hexdigest()


def collect_rankings(table, questions: Sequence[ResolvedQuestion], n_hits: int = 10, depth: int | None = None,
                     hybrid: bool = True, progress: Progress | None = None,
                     retrievers: Mapping[str, QueryEncoder] | None = None) -> RankingCache:
    """Search every answerable question once per retriever.

    Args:
        table: the LanceDB windows table.
        questions: dev-set questions resolved against the index.
        n_hits: hits per question that the metrics see (``vqa search --k``).
        depth: candidates per retriever (default :func:`candidate_depth`).
        hybrid: also run LanceDB's hybrid search (a baseline for the report).
        progress: ``progress(event, data)`` callback (``"search"`` with ``done``/``n``).
        retrievers: vector columns and their question encoders (default: the index's own,
            :func:`~vqa_pipeline.retrieval.retrievers.index_retrievers`).

    Raises:
        DevSetError: no question has a relevant span, or none of the relevant spans covers an
            indexed window (the metrics would be undefined).
    """
    if n_hits < 1:
        raise ValueError(f"k must be at least 1, got {n_hits}")
    depth = depth or candidate_depth(n_hits)
    catalog = window_catalog(table)
    by_video: dict[str, list[IndexedWindow]] = {}
    for w in catalog.values():
        by_video.setdefault(w.video_id, []).append(w)
    if retrievers is None:
        retrievers = index_retrievers(table).encoders
    cols = usable_vector_columns(table, retrievers)
    use_hybrid = hybrid and HYBRID_VECTOR_COLUMN in cols
    skipped: dict[str, str] = {}
    out: list[QuestionRanking] = []
    answerable = [r for r in questions if r.question.answerable]
    for r in questions:
        if not r.question.answerable:
            skipped[r.question.id] = "no relevant spans (absent question)"
    for i, r in enumerate(answerable):
        gold = r.question.gold
        n_rel = sum(1 for w in by_video.get(r.video_id, ()) if spans_hit(w.retrieved(), gold))
        if n_rel == 0:
            skipped[r.question.id] = "no indexed window overlaps its relevant spans"
        else:
            qvecs = encode_question(r.question.question, cols, retrievers)
            lists = search_columns(table, r.question.question, k=depth, retrievers=retrievers, question_vectors=qvecs)
            hyb = (hybrid_search(table, r.question.question, qvecs[HYBRID_VECTOR_COLUMN], HYBRID_VECTOR_COLUMN, depth)
                   if use_hybrid else [])
            out.append(QuestionRanking(r, {m: tuple(v) for m, v in lists.items()}, tuple(hyb), n_rel))
        if progress is not None:
            progress("search", {"done": i + 1, "n": len(answerable)})
    if not out:
        why = ("no question in the dev set has relevant spans" if not answerable
               else "no dev-set question has a relevant span that covers an indexed window")
        raise DevSetError(f"{why}; retrieval metrics would be undefined")
    models = tuple(c for c in cols) + ((BM25,) if any(BM25 in q.lists for q in out) else ())
    tags = {**{c: retrievers[c].model_tag for c in cols}, BM25: FTS_MODEL_TAG}
    return RankingCache(models=models, model_tags={m: tags[m] for m in models}, questions=out, windows=catalog,
                        n_hits=n_hits, depth=depth, skipped=skipped)


# ----------------------------------------------------------------------------------------------
# Scoring one ranked list


def _cut(ranked: Sequence[tuple[str, float]], n: int) -> list[tuple[str, float]]:
    """The first ``n`` entries, extended to the end of a tie group straddling the cut."""
    if len(ranked) <= n:
        return list(ranked)
    last = ranked[n - 1][1]
    j = n
    while j < len(ranked) and math.isclose(ranked[j][1], last, rel_tol=0.0, abs_tol=_TIE_TOL):
        j += 1
    return list(ranked[:j])


def score_ranked(q: QuestionRanking, ranked: Sequence[tuple[str, float]], windows: Mapping[str, IndexedWindow],
                 n_hits: int, ks: Sequence[int] = CUTOFFS) -> QueryMetrics:
    """Metrics of one question's ranked ``[(window_id, score)]`` (best first, already deduplicated)."""
    hits = _cut(ranked, n_hits)
    gold = q.resolved.question.gold
    per_hit = [spans_hit(windows[w].retrieved(), gold) if w in windows else frozenset() for w, _ in hits]
    rel = [bool(s) for s in per_hit]
    scores = [s for _, s in hits]
    return QueryMetrics(
        ndcg={k: ndcg_at_k(rel, k, q.n_relevant_windows, scores) for k in ks},
        recall={k: recall_at_k(per_hit, len(gold.spans), k, scores) for k in ks},
        mrr=mrr(rel, scores),
    )


def evaluate_lists(cache: RankingCache, pick: Callable[[QuestionRanking], Sequence[tuple[str, float]]],
                   ks: Sequence[int] = CUTOFFS) -> tuple[int, QueryMetrics]:
    """Mean metrics of a ranking chosen per question (one column, the hybrid baseline, ...)."""
    return mean_metrics(score_ranked(q, dedupe_ranked(pick(q)), cache.windows, cache.n_hits, ks) for q in cache.questions)


def evaluate_config(cache: RankingCache, config: FusionConfig, ks: Sequence[int] = CUTOFFS) -> tuple[int, QueryMetrics]:
    """Mean metrics of :func:`vqa_pipeline.retrieval.fuse.fuse` with ``config`` (the query path itself)."""
    return evaluate_lists(cache, lambda q: fuse(q.lists, config).ranked, ks)


def evaluate_model(cache: RankingCache, model: str, ks: Sequence[int] = CUTOFFS) -> tuple[int, QueryMetrics]:
    """Mean metrics of one retriever's own list."""
    return evaluate_lists(cache, lambda q: q.lists.get(model, ()), ks)


def eval_json(cache: RankingCache, config: FusionConfig) -> dict:
    """The ``vqa eval --json`` object of DESIGN.md (never NaN: the cache holds at least one question)."""
    n, m = evaluate_config(cache, config)
    per_model: dict[str, dict[str, float]] = {}
    out = {
        "n": int(n),
        "ndcg@10": float(m.ndcg[10]),
        "recall@5": float(m.recall[5]),
        "recall@10": float(m.recall[10]),
        "mrr": float(m.mrr),
        "per_model": per_model,
    }
    for model in cache.models:
        _, pm = evaluate_model(cache, model)
        per_model[model] = {"ndcg@10": float(pm.ndcg[10]), "recall@5": float(pm.recall[5])}
    return out


# ----------------------------------------------------------------------------------------------
# Fast fusion for tuning


@dataclass(frozen=True, slots=True)
class _Arrays:
    ranks: np.ndarray  # (models, candidates): 1-based rank, inf when the model did not return it
    z: np.ndarray  # (models, candidates): z-score, the model's floor when missing, 0 for an empty list
    relevant: np.ndarray  # (candidates,) bool
    hit_spans: tuple[frozenset[int], ...]
    n_spans: int
    n_relevant: int


class FusionProblem:
    """The cache as arrays, for scoring many fusion configs quickly.

    Candidates of each question are sorted by window id, so a stable sort on the fused score breaks
    ties by window id exactly as :func:`fuse` does; :meth:`mean_ndcg` equals
    ``evaluate_config(cache, config).ndcg[k]`` up to float rounding.
    """

    def __init__(self, cache: RankingCache) -> None:
        self.cache = cache
        self.models = cache.models
        self.ids = [q.id for q in cache.questions]
        self._arrays = [self._build(q) for q in cache.questions]

    def _build(self, q: QuestionRanking) -> _Arrays:
        lists = {m: dedupe_ranked(q.lists.get(m, ())) for m in self.models}
        cands = sorted({w for lst in lists.values() for w, _ in lst})
        col = {w: i for i, w in enumerate(cands)}
        ranks = np.full((len(self.models), len(cands)), np.inf)
        z = np.zeros((len(self.models), len(cands)))
        for i, m in enumerate(self.models):
            zs = zscores(lists[m])
            if zs:
                z[i, :] = min(zs.values()) - MISSING_Z_GAP
            for rank, (w, _) in enumerate(lists[m], start=1):
                ranks[i, col[w]] = rank
                z[i, col[w]] = zs[w]
        gold = q.resolved.question.gold
        hit = tuple(spans_hit(self.cache.windows[w].retrieved(), gold) if w in self.cache.windows else frozenset()
                    for w in cands)
        return _Arrays(ranks, z, np.array([bool(h) for h in hit], dtype=bool), hit, len(gold.spans), q.n_relevant_windows)

    def fused_scores(self, a: _Arrays, config: FusionConfig) -> np.ndarray:
        """Fused score of every candidate: ``sum w / (rrf_k + rank)`` or ``sum (w / T) * z``."""
        w = np.array([config.weight(m) for m in self.models])
        if config.method == "rrf":
            return w @ (1.0 / (config.rrf_k + a.ranks))
        t = np.array([config.temperature(m) for m in self.models])
        return (w / t) @ a.z

    @staticmethod
    def _top(s: np.ndarray, n: int) -> np.ndarray:
        """Indices of the ``n`` best scores (ties broken by candidate order = window id), extended to
        the end of a tie group straddling the cut."""
        order = np.argsort(-s, kind="stable")
        if len(order) > n:
            last = s[order[n - 1]]
            j = n
            while j < len(order) and abs(s[order[j]] - last) <= _TIE_TOL:
                j += 1
            order = order[:j]
        return order

    def question_metrics(self, i: int, config: FusionConfig, ks: Sequence[int] = CUTOFFS) -> QueryMetrics:
        """nDCG@k and Recall@k for each k in ``ks``, and MRR, of question ``i`` fused with ``config``."""
        a = self._arrays[i]
        s = self.fused_scores(a, config)
        order = self._top(s, self.cache.n_hits)
        rel = a.relevant[order].tolist()
        scores = s[order].tolist()
        hits = [a.hit_spans[o] for o in order]
        return QueryMetrics(
            ndcg={k: ndcg_at_k(rel, k, a.n_relevant, scores) for k in ks},
            recall={k: recall_at_k(hits, a.n_spans, k, scores) for k in ks},
            mrr=mrr(rel, scores),
        )

    def question_ndcg(self, i: int, config: FusionConfig, k: int) -> float:
        """nDCG@k of question ``i`` alone (the tuning objective's inner loop)."""
        a = self._arrays[i]
        s = self.fused_scores(a, config)
        order = self._top(s, min(k, self.cache.n_hits))
        return ndcg_at_k(a.relevant[order].tolist(), k, a.n_relevant, s[order].tolist())

    def mean_ndcg(self, config: FusionConfig, k: int = 10, indices: Sequence[int] | None = None) -> float:
        """Mean nDCG@k over the questions at ``indices`` (all by default)."""
        idx = range(len(self._arrays)) if indices is None else indices
        vals = [self.question_ndcg(i, config, k) for i in idx]
        if not vals:
            raise DevSetError("no question to score")
        return float(sum(vals) / len(vals))
