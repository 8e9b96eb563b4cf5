"""Training the unit re-ranker on a dev set and scoring it on the held-out split.

For every answerable dev-set question the query path runs once (:func:`vqa_pipeline.query.retrieve`
with the index's tuned fusion): the units of the best windows become candidates with their
features (:mod:`vqa_pipeline.answer.rerank`) and a label: the unit lies in a gold span of the
question's video (DESIGN.md rule) and holds one of its accepted answers (numbers and case
normalized), so a colour line in the window of a spoken answer is not a positive. A logistic model is fitted on the dev split and
scored on the held-out split by what ``search(..., rerank=True)`` returns: the windows ordered by
their best unit, against the fused order (nDCG@10, MRR, and the share of questions whose best unit
is relevant).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from vqa_pipeline.answer.numbers import normalize_numbers
from vqa_pipeline.answer.pack import merge_duplicates
from vqa_pipeline.answer.question import analyze
from vqa_pipeline.answer.rerank import RERANKER_FILE, Reranker, candidate_features, ranks_of, reranker_tags, train
from vqa_pipeline.answer.units import embed_units
from vqa_pipeline.retrieval.metrics import RetrievedWindow, mrr, ndcg_at_k, recall_at_k, span_relevant, spans_hit
from vqa_pipeline.store.catalog import source_matches
from vqa_pipeline.store.location import SideFile, side_file
from vqa_pipeline.tuning.devset import ResolvedQuestion

Progress = Callable[[str, dict], None]
DEFAULT_L2 = 1.0


@dataclass(slots=True)
class QuestionUnits:
    """One question's candidates: features and labels per unit, and its windows in fused order."""

    resolved: ResolvedQuestion
    features: list[dict]
    labels: list[bool]
    unit_windows: list[tuple[str, ...]]
    windows: list[tuple[str, str, float, float]]  # (window_id, source, start, end), fused order
    n_relevant_windows: int

    @property
    def id(self) -> str:
        return self.resolved.question.id


def collect_units(db: str | Path, questions: Sequence[ResolvedQuestion], windows_per_video: dict[str, list],
                  n_rows: int = 30, progress: Progress | None = None) -> list[QuestionUnits]:
    """Candidates of every question (see the module docstring); absent questions have no positive."""
    from vqa_pipeline.query import candidate_units, retrieve

    out = []
    for i, r in enumerate(questions):
        q = r.question
        got = retrieve(q.question, 10, None, None, db, None, n_rows=n_rows)
        lines = merge_duplicates(candidate_units(got))
        qa = analyze(q.question)
        qv = got.e5_vector()
        if qv is None:
            from vqa_pipeline.extractors.text_embed import embed_query

            qv = embed_query(q.question)
        sims = embed_units(lines) @ np.asarray(qv, np.float32)
        feats = candidate_features(qa, lines, ranks_of(got.fused.ranked, got.lists), sims)
        in_span = [source_matches(ln.source, q.video) and any(span_relevant(ln.start_s, ln.end_s, a, b)
                                                               for a, b in q.relevant) for ln in lines]
        holds = [contains_answer(ln.text, q.answer_any) for ln in lines]
        labels = [a and b for a, b in zip(in_span, holds)]
        wins = [(row["window_id"], row["source"], float(row["start_s"]), float(row["end_s"])) for row in got.rows]
        n_rel = sum(1 for w in windows_per_video.get(r.video_id, ())
                    if spans_hit(RetrievedWindow(w[1], w[2], w[3]), q.gold))
        out.append(QuestionUnits(r, feats, labels, [ln.window_ids for ln in lines], wins, n_rel))
        if progress is not None:
            progress("units", {"done": i + 1, "n": len(questions)})
    return out


def _norm(text: str) -> str:
    return " ".join(re.sub(r"[^\w.:%$]+", " ", normalize_numbers(text).casefold()).split())


def contains_answer(text: str, accepted: Sequence[str]) -> bool:
    """Whether a unit's text holds one of the accepted answers (spoken numbers and case normalized)."""
    t = _norm(text)
    return any(a.strip() and _norm(a) and _norm(a) in t for a in accepted)


def _metrics(qu: QuestionUnits, order: Sequence[int], k: int = 10) -> tuple[float, float, float, float]:
    """nDCG@k, Recall@5, Recall@10 and MRR of one window order (DESIGN.md relevance)."""
    gold = qu.resolved.question.gold
    hits = [spans_hit(RetrievedWindow(qu.windows[i][1], qu.windows[i][2], qu.windows[i][3]), gold) for i in order]
    rel = [bool(h) for h in hits]
    n_spans = len(gold.spans)
    return (ndcg_at_k(rel, k, max(qu.n_relevant_windows, 1)), recall_at_k(hits, n_spans, 5),
            recall_at_k(hits, n_spans, 10), mrr(rel))


def reranked_order(qu: QuestionUnits, model: Reranker) -> list[int]:
    """Window positions ordered by their best unit's probability (fused order breaks ties)."""
    best: dict[str, float] = {}
    for f, wins in zip(qu.features, qu.unit_windows):
        p = model.score(f)
        for w in wins:
            best[w] = max(best.get(w, 0.0), p)
    return sorted(range(len(qu.windows)), key=lambda i: (-best.get(qu.windows[i][0], -1.0), i))


@dataclass(slots=True)
class RerankScores:
    """Mean metrics of one ordering over a set of questions."""

    n: int = 0
    ndcg10: float = 0.0
    recall5: float = 0.0
    recall10: float = 0.0
    mrr: float = 0.0
    top_unit_relevant: float = 0.0

    def to_dict(self) -> dict:
        return {"n": self.n, "ndcg@10": self.ndcg10, "recall@5": self.recall5, "recall@10": self.recall10,
                "mrr": self.mrr, "top_unit_relevant": self.top_unit_relevant}


def score(questions: Sequence[QuestionUnits], model: Reranker | None) -> RerankScores:
    """Fused order (``model=None``) or re-ranked order, averaged over ``questions``; with a model,
    also the share of questions whose best unit is labelled relevant (holds the answer)."""
    if not questions:
        return RerankScores()
    per, top = [], []
    for qu in questions:
        order = list(range(len(qu.windows))) if model is None else reranked_order(qu, model)
        per.append(_metrics(qu, order))
        if model is not None and qu.features:
            best = max(range(len(qu.features)), key=lambda i: model.score(qu.features[i]))
            top.append(float(qu.labels[best]))
    m = np.mean(np.array(per), axis=0)
    return RerankScores(len(questions), float(m[0]), float(m[1]), float(m[2]), float(m[3]),
                        float(np.mean(top)) if top else 0.0)


@dataclass(slots=True)
class RerankResult:
    model: Reranker
    dev: dict = field(default_factory=dict)
    heldout: dict = field(default_factory=dict)
    seconds: float = 0.0
    path: SideFile | None = None


def calibrate_abstention(questions: Sequence[QuestionUnits], model: Reranker, max_wrong: float = 0.10) -> float:
    """The best-unit probability threshold that abstains on the most absent questions while
    abstaining on at most ``max_wrong`` of the answerable ones (ties: the lower threshold)."""
    def top(qu: QuestionUnits) -> float:
        return max((model.score(f) for f in qu.features), default=0.0)

    answerable = sorted(top(u) for u in questions if u.resolved.question.answerable)
    absent = [top(u) for u in questions if not u.resolved.question.answerable]
    if not answerable:
        return 0.0
    allowed = int(max_wrong * len(answerable))  # answerable questions that may fall under it
    ceiling = answerable[allowed] if allowed < len(answerable) else 1.0
    below = sorted(s for s in absent if s < ceiling)
    # just above the highest absent score that stays under the ceiling (abstain on it, not on more)
    return float(min(ceiling, below[-1] + 1e-6)) if below else 0.0


def fit_and_score(units: Sequence[QuestionUnits], dev_ids: Sequence[str], heldout_ids: Sequence[str],
                  l2: float = DEFAULT_L2, baseline: Reranker | None = None) -> RerankResult:
    """Fit on the dev questions; score fused, baseline (the packaged model) and trained orders;
    calibrate the abstention threshold on the dev split (its absent questions included)."""
    t0 = time.perf_counter()
    dev_set, held_set = set(dev_ids), set(heldout_ids)
    absent_dev = [u for u in units if not u.resolved.question.answerable and u.resolved.question.split != "heldout"]
    dev = [u for u in units if u.id in dev_set]
    held = [u for u in units if u.id in held_set]
    # A question whose answer no candidate unit holds (recognition errors) teaches nothing.
    examples = [(f, lab) for u in dev if any(u.labels) for f, lab in zip(u.features, u.labels)]
    model = train(examples, l2=l2, model_tags=reranker_tags(),
                  info={"dev_questions": len(dev), "examples": len(examples), "positives": sum(lab for _, lab in examples),
                        "l2": l2})
    model = Reranker(model.weights, model.bias, model.model_tags, model.info,
                     calibrate_abstention([*dev, *absent_dev], model))
    result = RerankResult(model)
    for qs, out in ((dev, result.dev), (held, result.heldout)):
        out["fused"] = score(qs, None).to_dict()
        if baseline is not None:
            out["default_reranker"] = score(qs, baseline).to_dict()
        out["reranked"] = score(qs, model).to_dict()
    result.seconds = time.perf_counter() - t0
    return result


def save(result: RerankResult, db: str | Path) -> SideFile:
    path = side_file(db, RERANKER_FILE)
    model = Reranker(result.model.weights, result.model.bias, result.model.model_tags,
                     {**result.model.info, "dev": result.dev, "heldout": result.heldout},
                     result.model.abstain_threshold)
    model.save(path)
    result.path = path
    return path
