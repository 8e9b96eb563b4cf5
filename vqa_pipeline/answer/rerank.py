"""Re-ranking candidate evidence units for a question: features, a small logistic model, training.

Retrieval ranks windows; the answer needs the one unit (sentence, on-screen block, sound line)
that holds the answer. Every unit of the top windows becomes a candidate with these features:

==================  ==========================================================================
``fused_rr``        1 / (1 + best fused rank of a window holding the unit)
``fused_score``     that window's fused score, min-max scaled over the candidates
``rr_text``         1 / (1 + rank) in the ``emb_text`` list (best window; 0 when absent)
``rr_bm25``         the same in the BM25 list
``rr_other``        the same, best over every other vector column (sound labels, CLIP, ...)
``sim``             e5 cosine of the question and ``"<kind word>: <unit text>"``
``kw``              share of the question's content words found in the unit (a word of the same
                    family counts: "edited" ~ "EDITOR", :func:`~vqa_pipeline.answer.citations.related`)
``label``           the unit is a block whose label the question names ("EDITOR / Ana Lima" for
                    "who edited ...?"): how well the label matches
``num``             share of the question's numbers found in the unit (0 when it has none)
``kind_match``      the question names an evidence kind (``written``, ``say``, ``hear``) and
                    the unit is of that kind
``kind_mismatch``   it names one and the unit is of another kind
``type_match``      the unit holds an answer of the question's type (a number not in the
                    question, a name, a URL, a command); 1 for untyped questions
``video_rr``        1 / (1 + best fused rank of any window of the unit's video)
``video_kw``        share of the question's content words found anywhere in that video's
                    candidates (which recording the question is about: "Northwind", "Diane")
``asr`` ... ``visual``  one-hot unit kind
``log_len``         log(1 + characters) / 6
==================  ==========================================================================

A :class:`Reranker` is a logistic regression over these (probability that the unit is relevant:
inside a gold span of the question's video, DESIGN.md rule). :func:`train` fits it (L2, Newton)
on a dev split; the tuned model is stored as ``<db>/reranker.json`` with the model tags it was
trained for, and :func:`load_reranker` falls back to the packaged default when it is missing,
corrupt or stale, as fusion configs do.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import numpy as np

from vqa_pipeline.answer.citations import content_words, has_related
from vqa_pipeline.answer.numbers import number_values
from vqa_pipeline.answer.pack import PackedLine
from vqa_pipeline.answer.question import Question
from vqa_pipeline.answer.spans import has_answer_type, labelled_values, parts_of
from vqa_pipeline.evidence import KINDS, clean_text
from vqa_pipeline.store.location import SideFile, as_side_file, side_file

log = logging.getLogger(__name__)

FEATURES: tuple[str, ...] = (
    "fused_rr", "fused_score", "rr_text", "rr_bm25", "rr_other", "sim", "kw", "label", "num", "kind_match",
    "kind_mismatch", "type_match", "video_rr", "video_kw", *KINDS, "log_len",
)
RERANKER_FILE = "reranker.json"
TEXT_COLUMN = "emb_text"
BM25 = "bm25"


@dataclass(frozen=True, slots=True)
class Ranks:
    """Where the windows of one question ranked: fused (0-based) and per retriever."""

    fused: Mapping[str, int]
    fused_score: Mapping[str, float]
    per_model: Mapping[str, Mapping[str, int]]


def ranks_of(fused_ranked: Sequence[tuple[str, float]], lists: Mapping[str, Sequence[tuple[str, float]]]) -> Ranks:
    fused: dict[str, int]
    scores: dict[str, float]
    fused, scores = {}, {}
    for i, (w, s) in enumerate(fused_ranked):
        fused.setdefault(w, i)
        scores.setdefault(w, float(s))
    per = {m: {w: i for i, (w, _) in reversed(list(enumerate(lst)))} for m, lst in lists.items()}
    return Ranks(fused, scores, per)


def _rr(rank: int | None) -> float:
    return 0.0 if rank is None else 1.0 / (1.0 + rank)


@dataclass(frozen=True, slots=True)
class VideoContext:
    """Per video among the candidates: its best fused rank and the words of its units."""

    best_rank: Mapping[str, int]
    words: Mapping[str, frozenset[str]]


def video_context(lines: Sequence[PackedLine], ranks: Ranks) -> VideoContext:
    best: dict[str, int] = {}
    words: dict[str, set[str]] = {}
    for ln in lines:
        for w in ln.window_ids:
            if w in ranks.fused:
                best[ln.video_id] = min(best.get(ln.video_id, 10**6), ranks.fused[w])
        words.setdefault(ln.video_id, set()).update(content_words(ln.text))
    return VideoContext(best, {v: frozenset(ws) for v, ws in words.items()})


def candidate_features(q: Question, lines: Sequence[PackedLine], ranks: Ranks, sims: Sequence[float] | np.ndarray) -> list[dict[str, float]]:
    """Feature dicts of every candidate unit of one question."""
    scores = list(ranks.fused_score.values())
    span = (min(scores), max(scores)) if scores else (0.0, 1.0)
    ctx = video_context(lines, ranks)
    return [unit_features(q, ln, ranks, float(sim), span, ctx) for ln, sim in zip(lines, sims)]


def unit_features(q: Question, line: PackedLine, ranks: Ranks, sim: float, score_range: tuple[float, float],
                  videos: VideoContext | None = None) -> dict[str, float]:
    """The feature values of one candidate unit (see the module docstring)."""
    wins = line.window_ids

    def best(table: Mapping[str, int]) -> int | None:
        found = [table[w] for w in wins if w in table]
        return min(found) if found else None

    fused = best(ranks.fused)
    best_score = max((ranks.fused_score[w] for w in wins if w in ranks.fused_score), default=score_range[0])
    lo, hi = score_range
    others = [best(t) for m, t in ranks.per_model.items() if m not in (TEXT_COLUMN, BM25)]
    qwords = set(q.words)
    uwords = set(content_words(line.text))
    qnums = number_values(q.text)
    text = clean_text(line.kind, line.text)
    parts = parts_of(text, line.parts)
    f = {
        "fused_rr": _rr(fused),
        "fused_score": (best_score - lo) / (hi - lo) if hi > lo else 1.0,
        "rr_text": _rr(best(ranks.per_model.get(TEXT_COLUMN, {}))),
        "rr_bm25": _rr(best(ranks.per_model.get(BM25, {}))),
        "rr_other": max((_rr(r) for r in others), default=0.0),
        "sim": float(sim),
        "kw": sum(1 for w in qwords if has_related(w, uwords)) / len(qwords)
        if qwords else 0.0,
        "label": max((m for _, m in labelled_values(q, parts)), default=0.0) if len(parts) > 1 else 0.0,
        "num": len(qnums & number_values(line.text)) / len(qnums) if qnums else 0.0,
        "kind_match": float(bool(q.kinds) and line.kind in q.kinds),
        "kind_mismatch": float(bool(q.kinds) and line.kind not in q.kinds),
        "type_match": float(has_answer_type(q, text, line.parts, line.kind)),
        "video_rr": _rr(videos.best_rank.get(line.video_id)) if videos else _rr(fused),
        "video_kw": (sum(1 for w in qwords if w in videos.words.get(line.video_id, ())) / len(qwords)
                     if videos and qwords else 0.0),
        "log_len": math.log1p(len(line.text)) / 6.0,
    }
    for k in KINDS:
        f[k] = float(line.kind == k)
    return f


@dataclass(frozen=True, slots=True)
class Reranker:
    """Logistic regression over :data:`FEATURES`.

    Attributes:
        weights: per feature (missing features weigh 0).
        bias: intercept.
        model_tags: ``{component: tag}`` the model was trained with (stale when they differ).
        info: how it was trained (questions, examples, held-out scores).
        abstain_threshold: best-unit probability under which ``ask`` abstains, calibrated on the
            dev split with this model (``None``: the answer step's default).
    """

    weights: Mapping[str, float]
    bias: float = 0.0
    model_tags: Mapping[str, str] = field(default_factory=dict)
    info: Mapping[str, object] = field(default_factory=dict)
    abstain_threshold: float | None = None

    def score(self, features: Mapping[str, float]) -> float:
        """Probability that the unit is relevant."""
        z = self.bias + sum(self.weights.get(k, 0.0) * float(v) for k, v in features.items())
        return 1.0 / (1.0 + math.exp(-max(-40.0, min(40.0, z))))

    def to_dict(self) -> dict:
        return {"features": list(FEATURES), "weights": dict(self.weights), "bias": self.bias,
                "model_tags": dict(self.model_tags), "info": dict(self.info),
                "abstain_threshold": self.abstain_threshold}

    @classmethod
    def from_dict(cls, data: Mapping) -> Reranker:
        if not isinstance(data, Mapping) or not isinstance(data.get("weights"), Mapping):
            raise ValueError("a re-ranker file needs a 'weights' object")
        weights = {str(k): float(v) for k, v in data["weights"].items()}
        if any(not math.isfinite(v) for v in weights.values()):
            raise ValueError("re-ranker weights must be finite numbers")
        threshold = data.get("abstain_threshold")
        if threshold is not None and not (isinstance(threshold, (int, float)) and 0.0 <= float(threshold) <= 1.0):
            raise ValueError("abstain_threshold must be a probability")
        return cls(weights, float(data.get("bias", 0.0)), dict(data.get("model_tags") or {}), dict(data.get("info") or {}),
                   None if threshold is None else float(threshold))

    def save(self, path: str | SideFile) -> None:
        as_side_file(path).write_text(json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n", encoding="utf-8")


def reranker_tags() -> dict[str, str]:
    """What a trained re-ranker depends on: the e5 model behind ``sim``, the units' builder and the
    feature set."""
    from vqa_pipeline.extractors.text_embed import E5Small
    from vqa_pipeline.extractors.units import EvidenceUnits

    return {"e5-small": E5Small().model_tag, "evidence-units": EvidenceUnits().model_tag,
            "features": ",".join(FEATURES)}


def default_reranker() -> Reranker:
    """The packaged model (trained on the bundled dev sets; see docs/benchmarks.md)."""
    text = resources.files("vqa_pipeline.answer").joinpath("reranker_default.json").read_text(encoding="utf-8")
    return Reranker.from_dict(json.loads(text))


def load_reranker(db: str | Path | None, current_tags: Mapping[str, str]) -> tuple[Reranker, str | None]:
    """``<db>/reranker.json`` when usable, else the packaged default: ``(model, warning)``."""
    if db is None:
        return default_reranker(), None
    path = side_file(db, RERANKER_FILE)
    if not path.is_file():
        return default_reranker(), None
    try:
        model = Reranker.from_dict(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, UnicodeDecodeError, ValueError, TypeError) as exc:
        reason = f"re-ranker {path} is unreadable ({type(exc).__name__}); using the default re-ranker"
    else:
        stale = sorted(k for k, v in model.model_tags.items() if k in current_tags and current_tags[k] != v)
        if not stale:
            return model, None
        reason = f"re-ranker {path} was trained for other versions of {', '.join(stale)}; using the default"
    log.warning(reason)
    return default_reranker(), reason


def train(examples: Sequence[tuple[Mapping[str, float], bool]], l2: float = 1.0, iterations: int = 50,
          model_tags: Mapping[str, str] | None = None, info: Mapping[str, object] | None = None) -> Reranker:
    """Fit the logistic model by Newton's method with an L2 penalty (the bias is not penalized).

    Deterministic: the same examples give the same weights.
    """
    if not examples:
        raise ValueError("no training examples")
    x = np.array([[float(f.get(k, 0.0)) for k in FEATURES] + [1.0] for f, _ in examples])
    y = np.array([1.0 if lab else 0.0 for _, lab in examples])
    w = np.zeros(x.shape[1])
    reg = np.full(x.shape[1], l2)
    reg[-1] = 0.0
    for _ in range(iterations):
        p = 1.0 / (1.0 + np.exp(-np.clip(x @ w, -40, 40)))
        grad = x.T @ (p - y) + reg * w
        hess = (x * (p * (1 - p))[:, None]).T @ x + np.diag(reg + 1e-9)
        step = np.linalg.solve(hess, grad)
        w -= step
        if float(np.max(np.abs(step))) < 1e-8:
            break
    return Reranker({k: float(v) for k, v in zip(FEATURES, w[:-1])}, float(w[-1]), dict(model_tags or {}),
                    dict(info or {}))
