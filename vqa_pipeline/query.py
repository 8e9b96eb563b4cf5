"""The thin query function: retrieve per column, fuse, pack evidence, answer.

Example:
    >>> from vqa_pipeline.query import ask, search
    >>> search("what temperature is the oven set to?", k=3, db=".vqa/lance")[0].start
    10.0
    >>> ask("what temperature is the oven set to?", db=".vqa/lance").to_json()["answer"]
    '180 degrees [10.2-11.8s]'
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from vqa_pipeline.answer.ask import DEFAULT_ABSTAIN_THRESHOLD, answer_question
from vqa_pipeline.answer.llm import LLMBackend, make_backend
from vqa_pipeline.answer.pack import DEFAULT_BUDGET_TOKENS, boundary_offsets, build_pack, row_lines
from vqa_pipeline.answer.types import Answer, Citation
from vqa_pipeline.extractors.text_embed import E5Small
from vqa_pipeline.retrieval.fuse import FusedRanking, FusionConfig, fuse, index_fusion
from vqa_pipeline.retrieval.retrievers import index_retrievers
from vqa_pipeline.retrieval.search import (
    QueryError,
    candidate_depth,
    clip_question,
    encode_question,
    fetch_neighbours,
    fetch_windows,
    make_filter,
    open_index,
    row_vector_scores,
    search_columns,
    usable_vector_columns,
)

__all__ = ["Answer", "Citation", "QueryError", "SearchHit", "ask", "search"]

log = logging.getLogger(__name__)

FALLBACK_DB_DIR = Path(".vqa/lance")


@dataclass(frozen=True, slots=True)
class SearchHit:
    """One retrieved window.

    Attributes:
        video_id, source: the indexed file (``source`` is its absolute path).
        start, end: the window, in seconds.
        score: fused score (higher is better).
        scores: per-model raw scores (cosine similarity per vector column, BM25 score for ``bm25``).
        evidence: the window's lines, ``[12.0-14.0s] asr: ...``, in time order.
        window_id: the window's id.
    """

    video_id: str
    source: str
    start: float
    end: float
    score: float
    scores: dict[str, float] = field(default_factory=dict)
    evidence: list[str] = field(default_factory=list)
    window_id: str = ""

    def to_json(self) -> dict:
        """One element of ``hits`` in the ``vqa search --json`` contract."""
        return {
            "video_id": self.video_id,
            "source": self.source,
            "start": float(self.start),
            "end": float(self.end),
            "score": float(self.score),
            "scores": {m: float(s) for m, s in self.scores.items()},
            "evidence": list(self.evidence),
        }


def search_to_json(question: str, hits: Sequence[SearchHit]) -> dict:
    """The ``vqa search --json`` object."""
    return {"question": question, "hits": [h.to_json() for h in hits]}


def default_db() -> Path:
    """``vqa_pipeline.config.default_db_dir()`` when available, else ``.vqa/lance``."""
    try:
        from vqa_pipeline.config import default_db_dir
    except ImportError:
        return FALLBACK_DB_DIR
    return Path(default_db_dir())


def _check_question(question: str) -> str:
    if not isinstance(question, str) or not question.strip():
        raise ValueError("the question is empty")
    return question


@dataclass(frozen=True, slots=True)
class _Retrieved:
    table: object
    fused: FusedRanking
    rows: list[dict]
    question_vectors: dict
    notice: str | None
    encoders: dict


def _retrieve(question: str, k: int, videos, time_range, db, fusion) -> _Retrieved:
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    db_path = Path(db) if db is not None else default_db()
    table = open_index(db_path)
    flt = make_filter(table, videos, time_range)
    retrievers = index_retrievers(table)
    config, notice, _ = index_fusion(db_path, retrievers.tags(), fusion)
    cols = usable_vector_columns(table, retrievers.encoders)
    qvecs = encode_question(clip_question(question), cols, retrievers.encoders)
    lists = search_columns(table, question, k=candidate_depth(k), flt=flt, retrievers=retrievers.encoders,
                           question_vectors=qvecs)
    fused = fuse(lists, config)
    top = [wid for wid, _ in fused.ranked[:k]]
    rows_by_id = fetch_windows(table, top, cols)
    notices = [n for n in (*retrievers.notices, notice) if n]
    return _Retrieved(table, fused, [rows_by_id[w] for w in top if w in rows_by_id], qvecs,
                      "; ".join(notices) or None, retrievers.encoders)


def search(question: str, k: int = 10, videos: Sequence[str] | None = None,
           time_range: tuple[float, float] | None = None, db: str | Path | None = None, *,
           fusion: FusionConfig | str | Path | None = None) -> list[SearchHit]:
    """The ``k`` best windows for ``question``, best first.

    Args:
        question: free text (long questions are cut to 1,000 characters for searching).
        k: number of hits.
        videos: restrict to these videos (ids, indexed paths, or unique path suffixes); values
            matching nothing give no hits.
        time_range: ``(start_s, end_s)``: only windows overlapping it.
        db: LanceDB folder (default: ``vqa_pipeline.config.default_db_dir()`` or ``.vqa/lance``).
        fusion: a :class:`FusionConfig`, a JSON file, or ``None`` for ``<db>/fusion.json`` if
            present, else the defaults (:class:`FusionConfig()`).

    Raises:
        ValueError: empty question or ``k < 1``.
        QueryError: no database, no or empty ``windows`` table, bad time range.
    """
    _check_question(question)
    r = _retrieve(question, k, videos, time_range, db, fusion)
    fused_score = dict(r.fused.ranked)
    hits = []
    for row in r.rows:
        wid = row["window_id"]
        scores = row_vector_scores(row, r.question_vectors)
        for model, s in r.fused.per_model.get(wid, {}).items():
            scores.setdefault(model, s)
        hits.append(SearchHit(
            video_id=row["video_id"], source=row["source"], start=float(row["start_s"]), end=float(row["end_s"]),
            score=fused_score[wid], scores=dict(sorted(scores.items())),
            evidence=[ln.format() for ln in row_lines(row)], window_id=wid,
        ))
    return hits


def ask(question: str, k: int = 5, videos: Sequence[str] | None = None,
        time_range: tuple[float, float] | None = None, db: str | Path | None = None,
        llm_url: str | None = None, llm_model: str | None = None, *,
        fusion: FusionConfig | str | Path | None = None, backend: LLMBackend | None = None,
        extractive_only: bool = False, budget_tokens: int = DEFAULT_BUDGET_TOKENS,
        neighbours: str = "auto", abstain_threshold: float = DEFAULT_ABSTAIN_THRESHOLD) -> Answer:
    """Answer ``question`` from the indexed evidence, with timecode citations.

    Args:
        question, k, videos, time_range, db, fusion: as for :func:`search` (``k`` windows are packed).
        llm_url, llm_model: an OpenAI-compatible endpoint and model; default: the local Gemma 3 270M.
        backend: an explicit backend (overrides ``llm_url``).
        extractive_only: skip the LLM; quote the best evidence lines.
        budget_tokens: evidence pack budget.
        neighbours: ``"auto"`` (add adjacent windows when a line touches a window edge), ``"always"``
            or ``"never"``.
        abstain_threshold: support score under which the answer abstains.

    Raises:
        ValueError: empty question, ``k < 1``, or ``llm_url`` without ``llm_model``.
        QueryError: no database, no or empty ``windows`` table, bad time range.
    """
    _check_question(question)
    if neighbours not in ("auto", "always", "never"):
        raise ValueError(f"neighbours must be auto, always or never, got {neighbours!r}")
    if backend is None and not extractive_only:
        backend = make_backend(llm_url, llm_model)
    r = _retrieve(question, k, videos, time_range, db, fusion)
    near = {}
    if neighbours != "never" and r.rows:
        offsets = {row["window_id"]: ((-1, 1) if neighbours == "always" else boundary_offsets(row)) for row in r.rows}
        for o in (-1, 1):
            near.update(fetch_neighbours(r.table, [row for row in r.rows if o in offsets[row["window_id"]]], (o,)))
    pack = build_pack(r.rows, near.values(), budget_tokens=budget_tokens)
    e5_vector = next((v for c, v in r.question_vectors.items() if r.encoders[c].name == E5Small.name), None)
    return answer_question(question, pack, None if extractive_only else backend, abstain_threshold=abstain_threshold,
                           question_vector=e5_vector, extra_notice=r.notice)
