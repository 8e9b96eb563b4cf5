"""Picking the evidence lines that support an answer, before any model phrases it.

Each pack line is scored against the question by e5 cosine similarity (question on the ``query:``
side, ``"speech: <text>"``-style line text on the ``passage:`` side, as the indexer embeds windows) plus a keyword bonus: the fraction of the question's
content words (and numbers) found in the line, times :data:`KEYWORD_WEIGHT`. The best score is the
evidence strength used for abstaining. Lines that read like instructions to a model are flagged
and never shown to one.

Example:
    >>> ranked = rank_lines("what temperature is the oven?", pack.lines)
    >>> ranked[0].line.text
    'preheat the oven to 180 degrees'
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from vqa_pipeline.answer.citations import content_words
from vqa_pipeline.answer.pack import PackedLine
from vqa_pipeline.answer.prompt import looks_like_instruction
from vqa_pipeline.evidence import clean_text, kind_word

KEYWORD_WEIGHT = 0.15


@dataclass(frozen=True, slots=True)
class ScoredLine:
    """A pack line with its support score (``similarity + KEYWORD_WEIGHT * keyword_overlap``)."""

    line: PackedLine
    score: float
    similarity: float
    keyword_overlap: float
    flagged: bool


def keyword_overlap(question: str, text: str) -> float:
    q = set(content_words(question))
    if not q:
        return 0.0
    return len(q & set(content_words(text))) / len(q)


def _embed_lines(texts: Sequence[str]) -> np.ndarray:
    from vqa_pipeline.extractors.text_embed import embed_passages

    return embed_passages(list(texts))


def _embed_question(question: str) -> np.ndarray:
    from vqa_pipeline.extractors.text_embed import embed_query

    return embed_query(question)


def rank_lines(question: str, lines: Sequence[PackedLine], question_vector: np.ndarray | None = None) -> list[ScoredLine]:
    """Lines sorted by support score, best first (ties keep pack order).

    Args:
        question: the question (already clipped by the caller).
        lines: candidate lines.
        question_vector: the question's e5 query embedding, if already computed.
    """
    if not lines:
        return []
    q = question_vector if question_vector is not None else _embed_question(question)
    q = np.asarray(q, np.float32).ravel()
    texts = [clean_text(ln.kind, ln.text) for ln in lines]
    sims = _embed_lines([f"{kind_word(ln.kind)}: {t}" for ln, t in zip(lines, texts)]) @ q
    scored = []
    for ln, text, sim in zip(lines, texts, sims):
        kw = keyword_overlap(question, text)
        scored.append(ScoredLine(ln, float(sim) + KEYWORD_WEIGHT * kw, float(sim), kw, looks_like_instruction(ln.text)))
    order = sorted(range(len(scored)), key=lambda i: -scored[i].score)
    return [scored[i] for i in order]
