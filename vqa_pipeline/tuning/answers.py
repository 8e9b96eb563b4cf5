"""Scoring answers against a dev set: the one definition of answer accuracy, citation accuracy and
abstention, used by the retrieval report, the Dagster asset, ``benchmarks/answer_quality.py`` and
the docs.

Per question (DESIGN.md dev-set format):

- **answer correct**: the answer did not abstain and its text, timecodes left out, contains one of
  ``answer_any`` (case-insensitive), starting at a word (``1240`` does not answer ``2``);
- **citation correct**: the answer did not abstain and at least one of its citations is in the
  question's video and relevant to a gold span (the DESIGN.md relevance rule: 0.5 s overlap, or the
  cited span covers the gold span);
- **absent** questions (empty ``answer_any``) are right when the answer abstains.

Accuracies are means over the answerable questions; ``absent_abstained`` over the absent ones;
``abstained_wrongly`` is the share of answerable questions that abstained.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from vqa_pipeline.retrieval.metrics import span_relevant
from vqa_pipeline.store.catalog import source_matches

Span = tuple[float, float]


def answer_correct(answer: str, accepted: Sequence[str]) -> bool:
    """DESIGN.md: the answer contains one of ``answer_any`` (case-insensitive). The timecodes are not
    part of the answer, and an accepted answer must start at a word and, when it ends in a digit,
    end at one: ``1240`` does not contain the answer ``2``, but ``5 grams`` contains ``5 gram``."""
    from vqa_pipeline.answer.citations import strip_timecodes

    low = strip_timecodes(answer).lower() + " "
    for a in accepted:
        a = a.lower()
        if not a.strip():
            continue
        pattern = ("(?<![\\w])" if a[0].isalnum() else "") + re.escape(a) + ("(?![\\d])" if a[-1].isdigit() else "")
        if re.search(pattern, low):
            return True
    return False


def citation_relevant(source: str, start_s: float, end_s: float, video: str, relevant: Iterable[Span]) -> bool:
    """A cited span is correct when it is in the question's video and relevant to a gold span."""
    return source_matches(source, video) and any(span_relevant(start_s, end_s, a, b) for a, b in relevant)


@dataclass(frozen=True, slots=True)
class QuestionScore:
    """One question's outcome."""

    answerable: bool
    abstained: bool
    answer_ok: bool
    citation_ok: bool


def score_question(answer: str, abstained: bool, citations: Iterable[tuple[str, float, float]], video: str,
                   answer_any: Sequence[str], relevant: Sequence[Span]) -> QuestionScore:
    """Score one answer (``citations`` as ``(source, start, end)``)."""
    answerable = bool(answer_any)
    ok = answerable and not abstained and answer_correct(answer, answer_any)
    cited = answerable and not abstained and any(citation_relevant(s, a, b, video, relevant) for s, a, b in citations)
    return QuestionScore(answerable, bool(abstained), bool(ok), bool(cited))


def score_json(answer: dict, question: dict) -> QuestionScore:
    """Score a ``vqa ask --json`` object against a dev-set line (both as dicts)."""
    cites = [(c["source"], float(c["start"]), float(c["end"])) for c in answer.get("citations") or ()]
    return score_question(answer["answer"], bool(answer["abstained"]), cites, question["video"],
                          question.get("answer_any") or [], [tuple(s) for s in question.get("relevant") or ()])


@dataclass(frozen=True, slots=True)
class AnswerScores:
    """Aggregate of :class:`QuestionScore` (accuracies are ``None`` when undefined)."""

    n_answerable: int
    n_absent: int
    answer_accuracy: float | None
    citation_accuracy: float | None
    absent_abstained: float | None
    abstained_wrongly: float | None

    def to_dict(self) -> dict:
        return asdict(self)


def aggregate(scores: Iterable[QuestionScore]) -> AnswerScores:
    scores = list(scores)
    ans = [s for s in scores if s.answerable]
    absent = [s for s in scores if not s.answerable]

    def mean(values: list[bool]) -> float | None:
        return sum(values) / len(values) if values else None

    return AnswerScores(len(ans), len(absent), mean([s.answer_ok for s in ans]), mean([s.citation_ok for s in ans]),
                        mean([s.abstained for s in absent]), mean([s.abstained for s in ans]))


def answer_accuracy(db: str | Path, questions: Sequence, config, backend,
                    progress: Callable[[str, dict], None] | None = None) -> dict:
    """Ask every resolved dev-set question through :func:`vqa_pipeline.query.ask` and score it.

    Returns:
        ``{"backend", "seconds", **AnswerScores}``.
    """
    from vqa_pipeline.query import ask

    t0 = time.perf_counter()
    scores = []
    for i, r in enumerate(questions):
        q = r.question
        # no ``videos``: as users ask, a question naming its recording ("the bikes video") is answered
        # from it, so the scores are those of `vqa ask`, not of an oracle scope
        a = ask(q.question, db=db, fusion=config, backend=backend)
        scores.append(score_question(a.answer, a.abstained, [(c.source, c.start, c.end) for c in a.citations],
                                     q.video, q.answer_any, q.relevant))
        if progress is not None:
            progress("answer", {"done": i + 1, "n": len(questions)})
    name = getattr(backend, "name", "extractive") if backend is not None else "extractive"
    return {"backend": name, **aggregate(scores).to_dict(), "seconds": round(time.perf_counter() - t0, 2)}
