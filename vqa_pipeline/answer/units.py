"""Ranking candidate evidence units for a question: their e5 vectors (cached), the re-ranker's
probability per unit, and the reported evidence pack of the best ones."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from vqa_pipeline.answer.pack import DEFAULT_BUDGET_TOKENS, EvidencePack, PackedLine, estimate_tokens, video_header
from vqa_pipeline.answer.prompt import looks_like_instruction
from vqa_pipeline.answer.question import Question
from vqa_pipeline.answer.rerank import Ranks, Reranker, candidate_features
from vqa_pipeline.evidence import clean_text, kind_word


@dataclass(frozen=True, slots=True)
class ScoredUnit:
    """A candidate unit with its re-ranker probability and features."""

    line: PackedLine
    score: float
    features: dict
    flagged: bool
    withheld_parts: int = 0
    original: PackedLine | None = None  # the unit as indexed, when parts were withheld from ``line``


# ----------------------------------------------------------------------------------------------
# ranking


_passage_cache: dict[str, np.ndarray] = {}


def embed_units(lines: Sequence[PackedLine]) -> np.ndarray:
    """e5 passage vectors of ``"<kind word>: <text>"`` per unit (cached per text in this process)."""
    from vqa_pipeline.extractors.text_embed import embed_passages

    texts = [f"{kind_word(ln.kind)}: {clean_text(ln.kind, ln.text)}" for ln in lines]
    missing = sorted({t for t in texts if t not in _passage_cache})
    if missing:
        if len(_passage_cache) > 50_000:
            _passage_cache.clear()
        for t, v in zip(missing, embed_passages(missing)):
            _passage_cache[t] = v
    return np.stack([_passage_cache[t] for t in texts]) if texts else np.zeros((0, 384), np.float32)


def _question_vector(question: str) -> np.ndarray:
    from vqa_pipeline.extractors.text_embed import embed_query

    return embed_query(question)


def ranks_from_priorities(lines: Sequence[PackedLine]) -> Ranks:
    """Ranks when only a pack is known: each window ranks at its lines' priority."""
    fused: dict[str, int] = {}
    for ln in lines:
        for w in ln.window_ids:
            fused[w] = min(fused.get(w, 10**6), int(ln.priority))
    return Ranks(fused, {w: -float(r) for w, r in fused.items()}, {})


def without_injected_parts(line: PackedLine) -> tuple[PackedLine, int]:
    """An on-screen block with its lines that read like instructions to a model taken out (the rest
    of the block, a credits card or a slide, stays usable); ``(line, parts removed)``."""
    if len(line.parts) < 2:
        return line, 0
    kept = [p for p in line.parts if not looks_like_instruction(p)]
    if len(kept) == len(line.parts) or not kept:
        return line, 0
    return replace(line, text=" / ".join(kept), parts=tuple(kept)), len(line.parts) - len(kept)


def rank_units(q: Question, lines: Sequence[PackedLine], ranks: Ranks, reranker: Reranker,
               question_vector: np.ndarray | None = None) -> list[ScoredUnit]:
    """Candidate units scored by the re-ranker, best first (ties keep candidate order)."""
    if not lines:
        return []
    originals = list(lines)
    cleaned = [without_injected_parts(ln) for ln in lines]
    lines = [ln for ln, _ in cleaned]
    qv = np.asarray(question_vector if question_vector is not None else _question_vector(q.text), np.float32).ravel()
    sims = embed_units(lines) @ qv
    out = [ScoredUnit(ln, reranker.score(f), f, looks_like_instruction(ln.text), removed, orig if removed else None)
           for orig, (ln, removed), f in zip(originals, cleaned, candidate_features(q, lines, ranks, sims))]
    order = sorted(range(len(out)), key=lambda i: -out[i].score)
    return [out[i] for i in order]


def pack_units(ranked: Sequence[ScoredUnit], budget_tokens: int = DEFAULT_BUDGET_TOKENS) -> EvidencePack:
    """The best units that fit the budget, grouped by video (best first) and in time order."""
    chosen: list[tuple[int, PackedLine]] = []
    used, headers = 0, set()
    for i, s in enumerate(ranked):
        ln = s.original or s.line  # evidence is data: reported as indexed
        cost = estimate_tokens(ln.format()) + 1 + (0 if ln.video_id in headers else
                                                   estimate_tokens(video_header(ln.video_id, ln.source)) + 1)
        if used + cost > budget_tokens:
            continue
        used += cost
        headers.add(ln.video_id)
        chosen.append((i, ln))
    first: dict[str, int] = {}
    for i, ln in chosen:
        first.setdefault(ln.video_id, i)
    lines = tuple(ln for _, ln in sorted(chosen, key=lambda x: (first[x[1].video_id], x[1].start_s, x[1].end_s)))
    return EvidencePack(lines, budget_tokens, used, len(ranked) - len(chosen))


# ----------------------------------------------------------------------------------------------
# composing the answer
