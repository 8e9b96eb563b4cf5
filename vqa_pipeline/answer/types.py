"""Result types of the answer step: :class:`Citation` and :class:`Answer`.

``to_json()`` gives the shapes of the ``vqa ask --json`` contract in DESIGN.md plus the additive
``answer_source``; fields outside the contract (``notice``, ``options``) stay out of the JSON (the
CLI prints the notice to stderr).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

AnswerSource = Literal["model", "evidence"]


@dataclass(frozen=True, slots=True)
class Citation:
    """A cited span of an indexed file (the span of the evidence line the answer relies on)."""

    video_id: str
    source: str
    start: float
    end: float

    def to_json(self) -> dict:
        return {"video_id": self.video_id, "source": self.source, "start": float(self.start), "end": float(self.end)}


@dataclass(frozen=True, slots=True)
class AnswerOptions:
    """How an answer was produced (provenance carried by every :class:`Answer`).

    Attributes:
        backend: ``"local:gemma-3-270m"``, ``"openai:<model>@<url>"`` or ``"extractive"``.
        abstain_threshold: support score under which the answer abstains.
        budget_tokens: evidence pack budget.
    """

    backend: str = "extractive"
    abstain_threshold: float = 0.0
    budget_tokens: int = 0


@dataclass(frozen=True, slots=True)
class Answer:
    """An answer with its citations and the evidence it was given.

    Attributes:
        question: the question as asked.
        answer: the answer text (timecodes inline, e.g. ``180 degrees [10.2-11.8s]``).
        abstained: True when the evidence was too weak to answer.
        citations: verified citations (each matches an evidence line).
        evidence: the evidence lines, ``kitchen.mp4 [10.2-11.8s] asr: ...``.
        notice: a one-line remark for the user (fallbacks, withheld lines), or ``None``.
        options: how it was produced.
        answer_source: ``"model"`` when ``answer`` is the LLM's text (checked, its timecodes
            possibly corrected); ``"evidence"`` when it was picked from the evidence lines instead:
            ``--extractive``, the model's answer failed a check or echoed its prompt, the endpoint
            failed, or the evidence was too weak to ask the model at all (an abstention).
    """

    question: str
    answer: str
    abstained: bool
    citations: tuple[Citation, ...] = ()
    evidence: tuple[str, ...] = ()
    notice: str | None = None
    options: AnswerOptions = AnswerOptions()
    answer_source: AnswerSource = "evidence"

    def to_json(self) -> dict:
        """The ``vqa ask --json`` object."""
        return {
            "question": self.question,
            "answer": self.answer,
            "abstained": bool(self.abstained),
            "citations": [c.to_json() for c in self.citations],
            "evidence": list(self.evidence),
            "answer_source": self.answer_source,
        }
