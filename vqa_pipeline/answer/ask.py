"""Answering a question from an evidence pack, designed around small models.

Steps:

1. Rank the pack's lines against the question (:func:`~vqa_pipeline.answer.support.rank_lines`).
   Lines that read like instructions to a model are withheld from it (and never quoted as the
   answer); they stay in the returned evidence, which is data.
2. Abstain when the best line's support score is under the threshold (see
   :data:`DEFAULT_ABSTAIN_THRESHOLD`).
3. Show the model only the supporting lines (a small model sees the few best, a chat model the
   whole pack), quoted as untrusted data.
4. Check the answer: every number and most content words must appear in the evidence, and every
   timecode must match an evidence line (others are dropped). An answer without a surviving
   timecode gets the timecode of the line its words come from. An answer that fails the checks,
   a model that is unavailable or fails, or a small model's "I don't know" give way to an
   extractive answer (the best lines with their timecodes) with a notice.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

from vqa_pipeline.answer.citations import (
    best_grounding,
    check_citations,
    citation_of,
    extractive_answer,
    numbers,
    strip_timecodes,
)
from vqa_pipeline.answer.llm import LLMBackend, LLMError
from vqa_pipeline.answer.pack import EvidencePack, PackedLine, format_timecode
from vqa_pipeline.answer.prompt import build_prompt, clip
from vqa_pipeline.answer.support import ScoredLine, rank_lines
from vqa_pipeline.answer.types import Answer, AnswerOptions

DEFAULT_ABSTAIN_THRESHOLD = 0.83
"""Support score (e5 cosine + 0.15 x keyword overlap) of the best line under which ``ask``
abstains. Tuned on the test corpus of ``vqa_pipeline_tests/retrieval/sample_windows.py`` (20
answerable and 12 unrelated questions): answerable questions scored 0.86-1.04, unrelated ones that
share no word with the evidence 0.76-0.80 (e5-small similarities are compressed into roughly
0.7-0.95). Unrelated questions sharing one word with a line ("recipe for chocolate cake" vs
"RECIPE: COUNTRY LOAF") scored 0.86-0.89 and are *not* caught. Re-tune on a real dev set."""

SMALL_MODEL_MARGIN = 0.06
"""A small model is shown the best line plus lines scoring within this margin of it."""
MIN_GROUNDING_SMALL = 0.6
MIN_GROUNDING_CHAT = 0.5
MAX_ANSWER_CHARS = 600
MAX_RANK_QUESTION_CHARS = 1000

ABSTAIN_TEXT = "I don't know: the indexed videos do not seem to contain the answer."
NO_EVIDENCE_TEXT = "I don't know: no evidence was found for this question."
_DONT_KNOW = re.compile(
    r"\b(?:i\s+)?(?:don'?t|do\s+not|cannot|can'?t)\s+(?:know|tell|answer|determine)\b"
    r"|\bnot\s+(?:mentioned|stated|given|found|in\s+the\s+evidence)\b|\bno\s+(?:information|evidence)\b",
    re.IGNORECASE,
)
_CONTINUE_GAP_S = 0.2
"""Two speech lines this close are one sentence cut at a window edge (pauses between sentences are longer)."""


def says_dont_know(text: str) -> bool:
    return bool(_DONT_KNOW.search(text))


def _clean_output(text: str, small: bool) -> str:
    text = text.strip()
    if small:
        text = text.splitlines()[0] if text else ""
    text = re.sub(r"^\s*(?:answer\s*:)\s*", "", text, flags=re.IGNORECASE).strip().strip('"').strip()
    return text[:MAX_ANSWER_CHARS]


def _continuations(best: PackedLine, lines: Sequence[PackedLine]) -> list[PackedLine]:
    """Speech lines right before/after ``best`` in the same video (a sentence cut at a window edge)."""
    if best.kind != "asr":
        return []

    def ends_sentence(text: str) -> bool:
        return text.rstrip().endswith((".", "?", "!"))

    return [
        ln for ln in lines
        if ln is not best and ln.kind == "asr" and ln.video_id == best.video_id
        and ((0 <= ln.start_s - best.end_s <= _CONTINUE_GAP_S and not ends_sentence(best.text))
             or (0 <= best.start_s - ln.end_s <= _CONTINUE_GAP_S and not ends_sentence(ln.text)))
    ]


def _time_order(lines: Sequence[PackedLine]) -> list[PackedLine]:
    first = {}
    for i, ln in enumerate(lines):
        first.setdefault(ln.video_id, i)
    return sorted(dict.fromkeys(lines), key=lambda ln: (first[ln.video_id], ln.start_s, ln.end_s))


def select_support(ranked: Sequence[ScoredLine], backend: LLMBackend | None) -> list[PackedLine]:
    """Lines to show the model, in time order within each video."""
    usable = [s for s in ranked if not s.flagged]
    if not usable:
        return []
    if backend is not None and not backend.small:
        return _time_order([s.line for s in usable[: backend.max_lines]])
    limit = backend.max_lines if backend is not None else 2
    best = usable[0]
    cont = _continuations(best.line, [s.line for s in usable])
    if cont:
        # One sentence cut at a window edge is shown whole, as one line.
        best_line = join_lines(sorted([best.line, *cont], key=lambda ln: ln.start_s))
        rest = [s.line for s in usable[1:limit] if s.line not in cont and s.score >= best.score - SMALL_MODEL_MARGIN]
        return _time_order([best_line, *rest])
    return _time_order([s.line for s in usable[:limit] if s.score >= best.score - SMALL_MODEL_MARGIN])


def join_lines(lines: Sequence[PackedLine]) -> PackedLine:
    """Adjacent lines of one video and kind as one line spanning them all."""
    first = lines[0]
    if len(lines) == 1:
        return first
    return PackedLine(first.video_id, first.source, min(ln.start_s for ln in lines), max(ln.end_s for ln in lines),
                      first.kind, " ".join(ln.text for ln in lines), min(ln.priority for ln in lines),
                      tuple(dict.fromkeys(w for ln in lines for w in ln.window_ids)))


def _extractive(ranked: Sequence[ScoredLine]) -> tuple[str, list[PackedLine]]:
    usable = [s for s in ranked if not s.flagged]
    if not usable:
        return NO_EVIDENCE_TEXT, []
    best = usable[0]
    cont = _continuations(best.line, [u.line for u in usable])
    if cont:
        lines = [join_lines(sorted([best.line, *cont[:1]], key=lambda ln: ln.start_s))]
    else:
        lines = _time_order([best.line] + [s.line for s in usable[1:2] if s.score >= best.score - 0.02])
    return extractive_answer(lines), lines


def answer_question(question: str, pack: EvidencePack, backend: LLMBackend | None, *,
                    abstain_threshold: float = DEFAULT_ABSTAIN_THRESHOLD,
                    question_vector: np.ndarray | None = None,
                    extra_notice: str | None = None) -> Answer:
    """Answer ``question`` from ``pack`` with ``backend`` (``None``: extractive only).

    Args:
        question: the question (used for ranking and in the prompt, clipped there).
        pack: the evidence pack.
        backend: the LLM, or ``None`` for an extractive answer.
        abstain_threshold: see :data:`DEFAULT_ABSTAIN_THRESHOLD`.
        question_vector: the question's e5 query embedding, if already computed.
        extra_notice: a remark to carry into the answer's notice (e.g. a fusion-config warning).

    Returns:
        The :class:`~vqa_pipeline.answer.types.Answer`.
    """
    options = AnswerOptions(backend.name if backend else "extractive", abstain_threshold, pack.budget_tokens)
    evidence = tuple(pack.strings())
    notices = [extra_notice] if extra_notice else []

    def done(text: str, abstained: bool, cited: Sequence[PackedLine] = ()) -> Answer:
        return Answer(question, text, abstained, tuple(dict.fromkeys(citation_of(ln) for ln in cited)), evidence,
                      "; ".join(notices) or None, options)

    if not pack.lines:
        return done(NO_EVIDENCE_TEXT, True)
    ranked = rank_lines(clip(question, MAX_RANK_QUESTION_CHARS), pack.lines, question_vector)
    n_flagged = sum(s.flagged for s in ranked)
    if n_flagged:
        notices.append(f"withheld {n_flagged} evidence line(s) that read like instructions to a model")
    usable = [s for s in ranked if not s.flagged]
    if not usable or usable[0].score < abstain_threshold:
        return done(ABSTAIN_TEXT, True)

    def extractive(reason: str | None) -> Answer:
        if reason:
            notices.append(reason)
        text, lines = _extractive(ranked)
        return done(text, False, lines)

    if backend is None:
        return extractive(None)
    shown = select_support(ranked, backend)
    try:
        raw = backend.generate(build_prompt(question, shown))
    except LLMError as exc:
        return extractive(f"{exc}; extractive answer")
    text = _clean_output(raw, backend.small)
    if not text:
        return extractive("the model gave no answer; extractive answer")
    if says_dont_know(text):
        if backend.small:
            return extractive("the small model could not phrase an answer; extractive answer")
        return done(text, True)

    # Grounding: the answer's numbers and words must come from what the model was shown.
    shown_text = " ".join(ln.text for ln in shown)
    if not numbers(strip_timecodes(text)) <= numbers(shown_text):
        return extractive("the model's answer had numbers not in the evidence; extractive answer")
    grounded, g = best_grounding(text, shown)
    if grounded is None or g < (MIN_GROUNDING_SMALL if backend.small else MIN_GROUNDING_CHAT):
        return extractive("the model's answer was not supported by the evidence; extractive answer")

    # Citations: keep timecodes that match evidence lines (shown lines first, then by support), drop
    # invented ones.
    text, cited, dropped = check_citations(text, list(dict.fromkeys([*shown, *(s.line for s in usable)])))
    if dropped:
        notices.append(f"dropped {dropped} timecode(s) that match no evidence line")
    if not cited:
        text = f"{strip_timecodes(text)} {format_timecode(grounded.start_s, grounded.end_s)}"
        cited = [grounded]
    return done(text, False, cited)
