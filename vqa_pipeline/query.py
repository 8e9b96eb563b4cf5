"""The thin query function: retrieve per column, fuse, pack evidence, answer.

Example:
    >>> from vqa_pipeline.query import ask, search
    >>> search("what temperature is the oven set to?", k=3, db=".vqa/lance")[0].start
    10.0
    >>> ask("what temperature is the oven set to?", db=".vqa/lance").to_json()["answer"]
    '180 degrees [10.2-11.8s]'
"""

from __future__ import annotations

import base64
import logging
import unicodedata
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from vqa_pipeline.answer.ask import FOLLOW_WINDOW_S, answer_question
from vqa_pipeline.answer.llm import DEFAULT_TIMEOUT_S, LLMBackend, make_backend
from vqa_pipeline.answer.pack import DEFAULT_BUDGET_TOKENS, merge_duplicates, row_units
from vqa_pipeline.answer.rerank import load_reranker, ranks_of, reranker_tags
from vqa_pipeline.answer.types import Answer, Citation
from vqa_pipeline.answer.units import rank_units
from vqa_pipeline.extractors.text_embed import E5Small
from vqa_pipeline.retrieval.fuse import FusedRanking, FusionConfig, fuse, index_fusion
from vqa_pipeline.retrieval.named_video import named_video, video_phrases
from vqa_pipeline.retrieval.retrievers import index_retrievers
from vqa_pipeline.retrieval.search import (
    IndexUnavailable,
    QueryError,
    candidate_depth,
    clip_question,
    encode_and_search,
    fetch_span,
    fetch_thumbnails,
    fetch_windows,
    make_filter,
    open_index,
    row_vector_scores,
    usable_vector_columns,
)
from vqa_pipeline.store.errors import describe, is_lance_error, raise_object_store_error
from vqa_pipeline.store.location import as_db
from vqa_pipeline.store.search import video_catalog
from vqa_pipeline.store.tables import StoreError

__all__ = ["Answer", "Citation", "IndexUnavailable", "QueryError", "SearchHit", "ask", "list_videos", "search", "thumbnail"]

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
        thumbnail: the window's small JPEG (``search(..., thumbnails=True)``), else ``None``.
    """

    video_id: str
    source: str
    start: float
    end: float
    score: float
    scores: dict[str, float] = field(default_factory=dict)
    evidence: list[str] = field(default_factory=list)
    window_id: str = ""
    thumbnail: bytes | None = None

    def to_json(self) -> dict:
        """One element of ``hits`` in the ``vqa search --json`` contract."""
        return {
            "video_id": self.video_id,
            "window_id": self.window_id,  # what `vqa open` and /api/thumbnail take
            "source": self.source,
            "start": float(self.start),
            "end": float(self.end),
            "score": float(self.score),
            "scores": {m: float(s) for m, s in self.scores.items()},
            "evidence": list(self.evidence),
            "thumbnail": jpeg_data_uri(self.thumbnail),
        }


def jpeg_data_uri(jpeg: bytes | None) -> str | None:
    """``data:image/jpeg;base64,...`` for a thumbnail (an ``<img src>`` as is), ``None`` for none."""
    return "data:image/jpeg;base64," + base64.b64encode(jpeg).decode("ascii") if jpeg else None


def search_to_json(question: str, hits: Sequence[SearchHit]) -> dict:
    """The ``vqa search --json`` object."""
    return {"question": question, "hits": [h.to_json() for h in hits]}


def default_db() -> Path | str:
    """``vqa_pipeline.config.default_db_dir()`` when available, else ``.vqa/lance``."""
    try:
        from vqa_pipeline.config import default_db_dir
    except ImportError:
        return FALLBACK_DB_DIR
    return as_db(default_db_dir())


def _check_question(question: str) -> str:
    # Control and format characters (a pasted escape sequence, NULs) are no question either.
    if not isinstance(question, str) or not any(
            not ch.isspace() and not unicodedata.category(ch).startswith("C") for ch in question):
        raise ValueError("the question is empty")
    return question


VIDEO_ROWS = 2000
"""The most windows read for a "first / last ..." question (the first 66 minutes of 2 s windows)."""
RERANK_WINDOWS = 30
"""Windows whose units are re-ranked for an answer (and for ``search(..., rerank=True)``)."""


@dataclass(frozen=True, slots=True)
class Retrieved:
    table: object
    db: Path | str
    fused: FusedRanking
    lists: dict
    rows: list[dict]
    question_vectors: dict
    notice: str | None
    encoders: dict

    def e5_vector(self):
        return next((v for c, v in self.question_vectors.items() if self.encoders[c].name == E5Small.name), None)


@contextmanager
def _index_errors(db_path: Path | str, table: str) -> Iterator[None]:
    """The store's and Lance's errors while reading ``table`` as one-line ``IndexUnavailable``."""
    try:
        yield
    except StoreError as exc:
        raise IndexUnavailable(str(exc)) from None
    except (RuntimeError, OSError, ValueError) as exc:
        raise_object_store_error(exc, db_path, IndexUnavailable)
        if not is_lance_error(exc):
            raise
        raise IndexUnavailable(describe(exc, db_path, table)) from None


def retrieve(question: str, k: int, videos, time_range, db, fusion, n_rows: int | None = None,
             strict_videos: bool = False) -> Retrieved:
    """Search every retriever, fuse, and fetch the rows of the best ``max(k, n_rows)`` windows."""
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    db_path = as_db(db) if db is not None else default_db()
    with _index_errors(db_path, "windows"):
        return _retrieve(question, k, videos, time_range, db_path, fusion, n_rows, strict_videos)


def _retrieve(question: str, k: int, videos, time_range, db_path: Path | str, fusion, n_rows: int | None,
              strict_videos: bool) -> Retrieved:
    table = open_index(db_path)
    flt = make_filter(table, videos, time_range, strict=strict_videos)
    retrievers = index_retrievers(table)
    config, notice, _ = index_fusion(db_path, retrievers.tags(), fusion)
    cols = usable_vector_columns(table, retrievers.encoders)
    # BM25 runs while the question is embedded, then each column is searched with its vector.
    qvecs, lists = encode_and_search(table, question, k=candidate_depth(k), flt=flt, retrievers=retrievers.encoders)
    fused = fuse(lists, config)
    top = [wid for wid, _ in fused.ranked[:max(k, n_rows or k)]]
    rows_by_id = fetch_windows(table, top, cols)
    notices = [n for n in (*retrievers.notices, notice) if n]
    return Retrieved(table, db_path, fused, lists, [rows_by_id[w] for w in top if w in rows_by_id], qvecs,
                      "; ".join(notices) or None, retrievers.encoders)


def candidate_units(r: Retrieved) -> list:
    """Every evidence unit of the retrieved windows, prioritized by the window's fused rank."""
    lines = []
    for rank, row in enumerate(r.rows):
        lines += row_units(row, float(rank))
    return lines


def _reranked(question: str, r: Retrieved):
    """The retrieved windows' units scored by the index's re-ranker (or the packaged one)."""
    from vqa_pipeline.answer.question import analyze

    reranker, notice = load_reranker(r.db, reranker_tags())
    q = analyze(clip_question(question))
    lines = merge_duplicates(candidate_units(r))
    return rank_units(q, lines, ranks_of(r.fused.ranked, r.lists), reranker, r.e5_vector()), reranker, notice


def _following(r: Retrieved):
    """Units of the same video around a unit (for "what happens after X")."""

    def around(line, whole: bool = False):
        if whole:
            rows = fetch_span(r.table, line.video_id, 0.0, 1e12, limit=VIDEO_ROWS)
        else:
            rows = fetch_span(r.table, line.video_id, line.start_s - FOLLOW_WINDOW_S, line.end_s + FOLLOW_WINDOW_S)
        return merge_duplicates([u for row in rows for u in row_units(row, 99.0)])

    return around


def search(question: str, k: int = 10, videos: Sequence[str] | None = None,
           time_range: tuple[float, float] | None = None, db: str | Path | None = None, *,
           fusion: FusionConfig | str | Path | None = None, rerank: bool = False,
           strict_videos: bool = False, thumbnails: bool = False) -> list[SearchHit]:
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
        rerank: order the top windows by their best evidence unit for this question (the
            re-ranker ``ask`` uses: question kind, answer type, e5 similarity); slower.
        strict_videos: a ``videos`` value naming no indexed video, or several, raises
            ``QueryError`` (listing near matches) instead of matching nothing.
        thumbnails: also read each hit's small JPEG (``SearchHit.thumbnail``; the pictures are
            not read otherwise).

    Raises:
        ValueError: empty question or ``k < 1``.
        QueryError: no database, no or empty ``windows`` table, bad time range, a damaged table.
    """
    _check_question(question)
    r = retrieve(question, k, videos, time_range, db, fusion, n_rows=RERANK_WINDOWS if rerank else None,
                 strict_videos=strict_videos)
    fused_score = dict(r.fused.ranked)
    rows = r.rows[:k]
    scores = {row["window_id"]: fused_score[row["window_id"]] for row in r.rows}
    if rerank:
        ranked, _, _ = _reranked(question, r)
        rows, scores = rerank_windows(r.rows, ranked, k)
    pictures = fetch_thumbnails(r.table, [row["window_id"] for row in rows]) if thumbnails else {}
    hits = []
    for row in rows:
        wid = row["window_id"]
        per_model = row_vector_scores(row, r.question_vectors)
        for model, s in r.fused.per_model.get(wid, {}).items():
            per_model.setdefault(model, s)
        hits.append(SearchHit(
            video_id=row["video_id"], source=row["source"], start=float(row["start_s"]), end=float(row["end_s"]),
            score=scores[wid], scores=dict(sorted(per_model.items())),
            evidence=[ln.format() for ln in row_units(row)], window_id=wid, thumbnail=pictures.get(wid),
        ))
    return hits


def thumbnail(window_id: str, db: str | Path | None = None) -> bytes | None:
    """The small JPEG of window ``window_id`` (``thumbnails`` extractor), or ``None`` when the window
    is unknown, has no picture (audio only) or the index has no thumbnails yet.

    Raises:
        QueryError: no database, no or empty ``windows`` table, a damaged table.
    """
    db_path = as_db(db) if db is not None else default_db()
    with _index_errors(db_path, "windows"):
        return fetch_thumbnails(open_index(db_path), [window_id]).get(window_id)


def rerank_windows(rows: Sequence[dict], ranked, k: int) -> tuple[list[dict], dict[str, float]]:
    """Windows ordered by their best unit's re-ranker probability (fused order breaks ties and
    places windows without units last)."""
    best: dict[str, float] = {}
    for s in ranked:
        for w in s.line.window_ids:
            best[w] = max(best.get(w, 0.0), s.score)
    order = sorted(range(len(rows)), key=lambda i: (-best.get(rows[i]["window_id"], -1.0), i))
    out = [rows[i] for i in order[:k]]
    return out, {row["window_id"]: best.get(row["window_id"], 0.0) for row in out}


def ask(question: str, k: int = 5, videos: Sequence[str] | None = None,
        time_range: tuple[float, float] | None = None, db: str | Path | None = None,
        llm_url: str | None = None, llm_model: str | None = None, *,
        fusion: FusionConfig | str | Path | None = None, backend: LLMBackend | None = None,
        extractive_only: bool = False, budget_tokens: int = DEFAULT_BUDGET_TOKENS,
        abstain_threshold: float | None = None, llm_rerank: bool = False,
        llm_timeout_s: float = DEFAULT_TIMEOUT_S, strict_videos: bool = False) -> Answer:
    """Answer ``question`` from the indexed evidence, with timecode citations.

    Args:
        question, k, videos, time_range, db, fusion, strict_videos: as for :func:`search`.
        llm_url, llm_model: an OpenAI-compatible endpoint and model; default: the local Gemma 3 270M.
        backend: an explicit backend (overrides ``llm_url``).
        extractive_only: skip the LLM; quote the best evidence lines.
        budget_tokens: budget of the evidence reported with the answer.
        abstain_threshold: re-ranker probability of the best unit under which the answer abstains
            (default: the re-ranker's calibrated threshold).
        llm_rerank: with a chat endpoint, let the model pick the best of the top units first.
        llm_timeout_s: total deadline of each request to ``llm_url`` (connect and the whole
            response); past it the extractive answer is given with a notice.

    The units (whole sentences, on-screen blocks, sound lines) of the best ``max(30, 3k)`` windows
    are re-ranked for the question and the answer is picked from the best of them.

    Raises:
        ValueError: empty question, ``k < 1``, ``llm_url`` without ``llm_model``, or a timeout <= 0.
        QueryError: no database, no or empty ``windows`` table, bad time range.
    """
    _check_question(question)
    if backend is None and not extractive_only:
        backend = make_backend(llm_url, llm_model, timeout_s=llm_timeout_s)
    named = None
    if videos is None:  # "... in the bikes street video?": answer from that recording only
        named = _named_video(question, db)
        videos = [named[0]] if named else None
    r = retrieve(question, k, videos, time_range, db, fusion, n_rows=max(RERANK_WINDOWS, 3 * k),
                 strict_videos=strict_videos)
    reranker, notice = load_reranker(r.db, reranker_tags())
    scoped = f"answered from {Path(named[1]).name} (the question names it)" if named else None
    notices = "; ".join(n for n in (r.notice, notice, scoped) if n) or None
    return answer_question(question, candidate_units(r), None if extractive_only else backend,
                           ranks=ranks_of(r.fused.ranked, r.lists), reranker=reranker,
                           abstain_threshold=abstain_threshold, question_vector=r.e5_vector(),
                           following=_following(r), extra_notice=notices, budget_tokens=budget_tokens,
                           llm_rerank=llm_rerank)


def _named_video(question: str, db: str | Path | None) -> tuple[str, str] | None:
    """``(video_id, source)`` of the one indexed video the question names by its file name's words
    (:mod:`vqa_pipeline.retrieval.named_video`), else None. The catalog is read only when the
    question has a phrase naming a recording at all."""
    if not video_phrases(question):
        return None
    db_path = as_db(db) if db is not None else default_db()
    with _index_errors(db_path, "windows"):
        catalog = video_catalog(open_index(db_path))
    vid = named_video(question, catalog)
    return (vid, catalog[vid]) if vid else None


def list_videos(db: str | Path | None = None) -> list[dict]:
    """Every video the index knows, for ``vqa list`` and ``GET /api/videos``, sorted by file name.

    One dict per video: ``video_id``, ``source`` (the indexed path), ``name`` (its file name),
    ``duration`` (seconds or ``None``), ``status`` (``indexed``, ``failed``, ...), ``error`` (the
    one-line reason or ``None``), ``windows``, ``has_video`` and ``exists`` (whether one of its
    indexed files is still there, unchanged: :mod:`vqa_pipeline.store.sources`).
    Files recorded as failed in the ``files`` table without a video row are listed too (no id).

    Raises:
        QueryError: no database, or its ``videos`` table cannot be read.
    """
    from vqa_pipeline.store import Store

    db_path = as_db(db) if db is not None else default_db()
    with _index_errors(db_path, "videos"):
        store = Store(db_path, create=False)
        videos = store.video_records()
        try:
            files = store.file_records()
        except StoreError:  # an index written before the files table existed
            files = {}
    out = []
    for v in videos.values():
        source = v.get("source") or ""
        out.append({
            "video_id": v["video_id"], "source": source, "name": Path(source).name,
            "duration": float(v["duration_s"]) if v.get("duration_s") is not None else None,
            "status": v.get("status") or "unknown", "error": v.get("error") or None,
            "windows": int(v.get("n_windows") or 0), "has_video": v.get("has_video"),
            "exists": _live(v, files),
        })
    for path, f in files.items():
        if f.get("status") == "failed" and f.get("video_id") not in videos:
            out.append({"video_id": None, "source": path, "name": Path(path).name, "duration": None,
                        "status": "failed", "error": f.get("error") or None, "windows": 0,
                        "has_video": None, "exists": _live({"source": path}, files)})
    out.sort(key=lambda r: (r["name"].casefold(), r["source"]))
    return out


def _live(video: dict, files: dict) -> bool:
    from vqa_pipeline.store.sources import SourceGone, live_source

    try:
        live_source(video, files)
    except SourceGone:
        return False
    return True
