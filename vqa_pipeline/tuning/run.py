"""End-to-end entry points shared by the CLI (`vqa eval`, `vqa tune`), the Dagster assets and the benchmark.

Each opens the index, loads and resolves the dev sets, computes the ranked lists once and then
evaluates, tunes or reports. The tuned config goes to ``<db>/fusion.json``, where
:func:`vqa_pipeline.query.search` and :func:`~vqa_pipeline.query.ask` read it.

Example:
    >>> result, path = run_tune(".vqa/lance", ["data/sample/devset.jsonl"], TuneOptions(trials=200))
    >>> run_eval(".vqa/lance", ["data/sample/devset.jsonl"]).json["ndcg@10"]
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from vqa_pipeline.retrieval.fuse import FUSION_FILE, FusionConfig, index_fusion
from vqa_pipeline.retrieval.retrievers import index_retrievers
from vqa_pipeline.retrieval.search import open_index
from vqa_pipeline.store.location import SideFile, as_db, side_file
from vqa_pipeline.store.search import video_catalog
from vqa_pipeline.tuning.answers import answer_accuracy
from vqa_pipeline.tuning.devset import DevQuestion, ResolvedQuestion, load_devset, resolve_devset
from vqa_pipeline.tuning.evaluate import Progress, RankingCache, collect_rankings, eval_json
from vqa_pipeline.tuning.report import RetrievalReport, build_report
from vqa_pipeline.tuning.reranking import RerankResult
from vqa_pipeline.tuning.splits import split_questions
from vqa_pipeline.tuning.study import (
    TuneOptions,
    TuneResult,
    cross_validate,
    read_tuning_record,
    save_tuned,
    tune,
)

DEFAULT_DEVSET = Path("data") / "sample" / "devset.jsonl"


def fusion_path(db: str | Path) -> SideFile:
    return side_file(db, FUSION_FILE)


def stored_config(db: str | Path, table=None) -> tuple[FusionConfig, str | None, bool]:
    """The config queries would use for ``db``: ``(config, warning, tuned)`` (see
    :func:`~vqa_pipeline.retrieval.fuse.index_fusion`)."""
    table = table if table is not None else open_index(db)
    return index_fusion(db, index_retrievers(table).tags())


@dataclass(slots=True)
class Prepared:
    """An opened index with the dev set's ranked lists."""

    db: Path | str
    table: object
    questions: list[ResolvedQuestion]
    unknown: list[DevQuestion]
    cache: RankingCache
    devsets: tuple[str, ...]
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)


def prepare(db: str | Path, devsets: Sequence[str | Path], n_hits: int = 10,
            on_unknown: Literal["error", "skip"] = "error", hybrid: bool = True,
            progress: Progress | None = None) -> Prepared:
    """Open ``db``, load and resolve the dev sets, and search every question once.

    Raises:
        QueryError: no index at ``db``.
        DevSetError: an invalid or empty dev set, unknown videos (with ``on_unknown="error"``), or
            no question with relevant windows.
    """
    t0 = time.perf_counter()
    db = as_db(db)
    table = open_index(db)
    questions = load_devset(devsets)
    resolved, unknown = resolve_devset(questions, video_catalog(table), on_unknown)
    cache = collect_rankings(table, resolved, n_hits=n_hits, hybrid=hybrid, progress=progress)
    notes = []
    if unknown:
        notes.append(f"skipped {len(unknown)} question(s) naming videos that are not indexed")
    by_reason: dict[str, list[str]] = {}
    for qid, why in sorted(cache.skipped.items()):
        by_reason.setdefault(why, []).append(qid)
    for why, ids in by_reason.items():
        more = f", +{len(ids) - 8} more" if len(ids) > 8 else ""
        notes.append(f"left out {len(ids)} question(s), {why}: {', '.join(ids[:8])}{more}")
    return Prepared(db, table, resolved, unknown, cache, tuple(str(d) for d in devsets),
                    time.perf_counter() - t0, notes)


@dataclass(frozen=True, slots=True)
class EvalResult:
    json: dict
    config: FusionConfig
    tuned: bool
    warning: str | None
    notes: tuple[str, ...]


def run_eval(db: str | Path, devsets: Sequence[str | Path], k: int = 10,
             on_unknown: Literal["error", "skip"] = "error", progress: Progress | None = None) -> EvalResult:
    """Score what ``vqa search --k k`` returns for every dev-set question, with the fusion queries use."""
    prep = prepare(db, devsets, n_hits=k, on_unknown=on_unknown, hybrid=False, progress=progress)
    config, warning, tuned = stored_config(prep.db, prep.table)
    return EvalResult(eval_json(prep.cache, config), config, tuned, warning, tuple(prep.notes))


def run_tune(db: str | Path, devsets: Sequence[str | Path], options: TuneOptions | None = None,
             on_unknown: Literal["error", "skip"] = "error", progress: Progress | None = None,
             save: bool = True) -> tuple[TuneResult, SideFile | None, Prepared]:
    """Tune the fusion on the dev split and (by default) store it as ``<db>/fusion.json``."""
    options = options or TuneOptions()
    prep = prepare(db, devsets, n_hits=options.k, on_unknown=on_unknown, hybrid=False, progress=progress)
    result = tune(prep.cache, options, progress=progress, devsets=prep.devsets)
    path = save_tuned(result, fusion_path(prep.db)) if save else None
    return result, path, prep


def run_report(db: str | Path, devsets: Sequence[str | Path], options: TuneOptions | None = None,
               on_unknown: Literal["error", "skip"] = "error", backend=None, cv_folds: int = 0,
               progress: Progress | None = None) -> tuple[RetrievalReport, Prepared]:
    """Build the retrieval report for the index at ``db`` with its stored fusion config.

    Args:
        db, devsets, on_unknown: as for :func:`prepare`.
        options: the split options (held-out fraction and seed) the config was tuned with.
        backend: an LLM backend for answer/citation accuracy (``None``: not computed).
        cv_folds: also estimate the tuning procedure by k-fold cross-validation (0: no).
    """
    options = options or TuneOptions()
    prep = prepare(db, devsets, n_hits=10, on_unknown=on_unknown, hybrid=True, progress=progress)
    split = split_questions(prep.cache, options.heldout_fraction, options.split_seed)
    config, warning, tuned = stored_config(prep.db, prep.table)
    record = read_tuning_record(fusion_path(prep.db)) if tuned else None
    notes = list(prep.notes)
    if warning:
        notes.append(warning)
    if record is not None and sorted(record.get("heldout_ids") or []) != sorted(split.heldout):
        notes.append("the stored config was tuned on another split of the questions: its held-out score is "
                     "not an honest estimate (rerun `vqa tune`)")
    if not tuned:
        notes.append("no usable tuned config: `fused_tuned` is left out (run `vqa tune`)")
    report = build_report(prep.cache, split, config if tuned else None, record, notes)
    reranked = _reranked_row(prep, split, progress)
    if reranked is not None:
        report.systems.append(reranked)
    if cv_folds:
        report.tuning = {**(report.tuning or {}), "cv": cross_validate(prep.cache, options, cv_folds, progress)}
    if backend is not None:
        report.answers = answer_accuracy(prep.db, prep.questions, config, backend, progress)
    return report, prep


def windows_by_video(cache: RankingCache) -> dict[str, list]:
    """``{video_id: [(window_id, source, start, end)]}`` of the windows the dev set's videos hold."""
    out: dict[str, list] = {}
    for w in cache.windows.values():
        out.setdefault(w.video_id, []).append((w.window_id, w.source, w.start_s, w.end_s))
    return out


def run_rerank(db: str | Path, devsets: Sequence[str | Path], options: TuneOptions | None = None,
               on_unknown: Literal["error", "skip"] = "error", progress: Progress | None = None,
               save: bool = True, prep: Prepared | None = None) -> tuple[RerankResult, Prepared]:
    """Train the unit re-ranker on the dev split (after the fusion is tuned: its candidates come from
    the tuned fusion) and store it as ``<db>/reranker.json``; scored on the held-out split."""
    from vqa_pipeline.answer.rerank import default_reranker
    from vqa_pipeline.tuning import reranking

    options = options or TuneOptions()
    if prep is None:
        prep = prepare(db, devsets, n_hits=options.k, on_unknown=on_unknown, hybrid=False, progress=progress)
    split = split_questions(prep.cache, options.heldout_fraction, options.split_seed)
    units = reranking.collect_units(prep.db, prep.questions, windows_by_video(prep.cache), progress=progress)
    result = reranking.fit_and_score(units, split.dev, split.heldout, baseline=default_reranker())
    if save:
        reranking.save(result, prep.db)
    return result, prep


def _reranked_row(prep: Prepared, split, progress: Progress | None = None):
    """The report row of the index's stored re-ranker (``None`` when there is none, or it is stale)."""
    from vqa_pipeline.answer.rerank import RERANKER_FILE, load_reranker, reranker_tags
    from vqa_pipeline.tuning import reranking
    from vqa_pipeline.tuning.report import SystemScores

    if not side_file(prep.db, RERANKER_FILE).is_file():
        return None
    model, warning = load_reranker(prep.db, reranker_tags())
    if warning:
        prep.notes.append(warning)
        return None
    units = [u for u in reranking.collect_units(prep.db, [r for r in prep.questions if r.question.answerable],
                                                windows_by_video(prep.cache), progress=progress)
             if u.id in {q.id for q in prep.cache.questions}]
    parts = {"heldout": set(split.heldout), "dev": set(split.dev), "all": {u.id for u in units}}
    scores = {}
    for name, ids in parts.items():
        sub = [u for u in units if u.id in ids]
        if sub:
            d = reranking.score(sub, model).to_dict()
            scores[name] = {k: d[k] for k in ("ndcg@10", "recall@5", "recall@10", "mrr")}
    return SystemScores("reranked", "fused", "evidence units re-ranked (<db>/reranker.json) over the tuned fusion",
                        scores)
