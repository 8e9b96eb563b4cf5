"""Learned fusion: an Optuna study (seeded TPE) maximizing mean nDCG@K on the dev split of a dev set.

Search space (parameter names follow the retriever names, e.g. ``w_emb_text``):

- ``method``: ``"rrf"`` or ``"zscore"`` (see :mod:`vqa_pipeline.retrieval.fuse`);
- ``w_<retriever>``: one weight per retriever, in ``[0, 1]`` (2-5 retrievers in practice);
- ``rrf_k`` (RRF only): damping constant, log-uniform in ``[1, 200]``;
- ``t_<retriever>`` (z-score only): temperature, log-uniform in ``[0.25, 4]``.

The answerable questions are split once, per video, into a dev part (tuned on) and a held-out part
(only scored), so the reported held-out score is not the tuned one. Trials only re-fuse cached
ranked lists (:class:`~vqa_pipeline.tuning.evaluate.FusionProblem`), so each takes milliseconds.
The first two trials are the untuned defaults and unweighted RRF, so the tuned config never scores
below them on the dev split.

The study lives in SQLite under the state folder (``$VQA_HOME/optuna.db``) and is named after a
fingerprint of the dev split's ranked lists, the model tags and the search options: rerunning with the
same inputs resumes it (only the missing trials run); any change starts a new study. Inspect it with
``optuna-dashboard sqlite:///.vqa/optuna.db`` or ``optuna.load_study``.

Example:
    >>> result = tune(cache, TuneOptions(trials=200))
    >>> save_tuned(result, Path(".vqa/lance") / "fusion.json")

About 400 lines: the search space, the study's storage and naming, the tuning record and the
cross-validation of the same procedure change together, and split apart they would share most of
their arguments.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from vqa_pipeline.config import state_dir
from vqa_pipeline.retrieval.fuse import DEFAULT_RRF_K, FUSION_METHODS, FusionConfig
from vqa_pipeline.store.location import ObjectFile, SideFile, as_side_file
from vqa_pipeline.tuning.devset import DevSetError
from vqa_pipeline.tuning.evaluate import FusionProblem, Progress, RankingCache
from vqa_pipeline.tuning.splits import Split, fold_of, split_questions

log = logging.getLogger(__name__)

SPACE_VERSION = 1
"""Bump when the search space changes meaning, so old studies are not resumed."""
STUDY_PREFIX = "fusion_weights"
OPTUNA_DB = "optuna.db"
TUNING_KEY = "tuning"
"""Key of the tuning record inside the stored ``fusion.json`` (ignored by ``FusionConfig.from_dict``)."""


def default_storage() -> str:
    """``sqlite:///<state>/optuna.db`` (the state folder is ``$VQA_HOME`` or ``./.vqa``)."""
    path = state_dir() / OPTUNA_DB
    path.parent.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{path}"


@dataclass(frozen=True, slots=True)
class TuneOptions:
    """How the fusion is tuned.

    Attributes:
        trials: total trials of the study (a resumed study runs only the missing ones).
        k: the objective is mean nDCG@k over the dev split.
        seed: TPE sampler seed.
        heldout_fraction: share of each video's answerable questions held out (0 = no held-out).
        split_seed: seed of the dev / held-out split (kept apart from ``seed`` so changing the
            sampler seed does not change what is held out).
        storage: Optuna storage URL (default :func:`default_storage`).
        methods: fusion methods to search.
        weight_range, rrf_k_range, temperature_range: bounds of the search space.
    """

    trials: int = 200
    k: int = 10
    seed: int = 0
    heldout_fraction: float = 0.3
    split_seed: int = 0
    storage: str | None = None
    methods: tuple[str, ...] = FUSION_METHODS
    weight_range: tuple[float, float] = (0.0, 1.0)
    rrf_k_range: tuple[float, float] = (1.0, 200.0)
    temperature_range: tuple[float, float] = (0.25, 4.0)

    def __post_init__(self) -> None:
        if self.trials < 1:
            raise ValueError(f"trials must be at least 1, got {self.trials}")
        if self.k < 1:
            raise ValueError(f"k must be at least 1, got {self.k}")
        if not (0.0 <= self.heldout_fraction < 1.0):
            raise ValueError(f"heldout_fraction must be in [0, 1), got {self.heldout_fraction}")
        bad = [m for m in self.methods if m not in FUSION_METHODS]
        if bad or not self.methods:
            raise ValueError(f"methods must be among {', '.join(FUSION_METHODS)}, got {self.methods}")

    def space(self) -> dict:
        """What defines the search (part of the study fingerprint)."""
        return {"v": SPACE_VERSION, "k": self.k, "methods": list(self.methods), "w": list(self.weight_range),
                "rrf_k": list(self.rrf_k_range), "t": list(self.temperature_range), "seed": self.seed}


def config_from_params(params: Mapping, models: Sequence[str], model_tags: Mapping[str, str]) -> FusionConfig:
    """The :class:`FusionConfig` of an Optuna parameter dict (``method``, ``w_*``, ``rrf_k``, ``t_*``)."""
    method = params["method"]
    return FusionConfig(
        method=method,
        weights={m: float(params[f"w_{m}"]) for m in models},
        rrf_k=float(params["rrf_k"]) if method == "rrf" else DEFAULT_RRF_K,
        temperatures={m: float(params[f"t_{m}"]) for m in models} if method == "zscore" else {},
        model_tags=dict(model_tags),
    )


def params_of(config: FusionConfig, models: Sequence[str]) -> dict:
    """Optuna parameters reproducing ``config`` (for enqueueing the baselines as first trials)."""
    p: dict = {"method": config.method}
    p.update({f"w_{m}": config.weight(m) for m in models})
    if config.method == "rrf":
        p["rrf_k"] = config.rrf_k
    else:
        p.update({f"t_{m}": config.temperature(m) for m in models})
    return p


def effective_weights(config: FusionConfig, models: Sequence[str]) -> dict[str, float]:
    """How much each model moves the ranking: ``weight`` (RRF) or ``weight / temperature`` (z-score)."""
    if config.method == "rrf":
        return {m: config.weight(m) for m in models}
    return {m: config.weight(m) / config.temperature(m) for m in models}


def suggest_config(trial, models: Sequence[str], model_tags: Mapping[str, str], options: TuneOptions) -> FusionConfig:
    """Sample one config from the search space (define-by-run: ``rrf_k`` and ``t_*`` are conditional)."""
    method = trial.suggest_categorical("method", list(options.methods))
    lo, hi = options.weight_range
    params = {"method": method, **{f"w_{m}": trial.suggest_float(f"w_{m}", lo, hi) for m in models}}
    if method == "rrf":
        params["rrf_k"] = trial.suggest_float("rrf_k", *options.rrf_k_range, log=True)
    else:
        params.update({f"t_{m}": trial.suggest_float(f"t_{m}", *options.temperature_range, log=True) for m in models})
    return config_from_params(params, models, model_tags)


@dataclass(frozen=True, slots=True)
class TuneResult:
    """A tuned fusion config with its provenance and honest scores.

    Attributes:
        config: the best trial's config (tuned on the dev split only).
        k: the objective's cutoff (nDCG@k).
        dev_score, heldout_score: mean nDCG@k of ``config`` on each split (``heldout_score`` is
            ``None`` without a held-out split).
        default_dev, default_heldout: the same for the untuned default config.
        split: question ids of each split.
        study_name, storage: where the Optuna study lives.
        trials_total, trials_run: trials in the study now, and run by this call.
        seconds: wall time of this call's trials.
        options: the options used.
    """

    config: FusionConfig
    k: int
    dev_score: float
    heldout_score: float | None
    default_dev: float
    default_heldout: float | None
    split: Split
    study_name: str
    storage: str
    trials_total: int
    trials_run: int
    seconds: float
    options: TuneOptions
    devsets: tuple[str, ...] = field(default_factory=tuple)

    def record(self) -> dict:
        """The ``tuning`` record stored beside the config in ``fusion.json``."""
        opts = asdict(self.options)
        opts.pop("storage", None)
        return {
            "objective": f"ndcg@{self.k}",
            "dev_score": self.dev_score,
            "heldout_score": self.heldout_score,
            "default_dev_score": self.default_dev,
            "default_heldout_score": self.default_heldout,
            "n_dev": len(self.split.dev),
            "n_heldout": len(self.split.heldout),
            "heldout_ids": list(self.split.heldout),
            "study_name": self.study_name,
            "storage": self.storage,
            "trials": self.trials_total,
            "seconds": round(self.seconds, 3),
            "options": opts,
            "devsets": list(self.devsets),
            "tuned_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        }


def open_storage(url: str):
    """An Optuna storage for ``url``; SQLite files get WAL journaling with ``synchronous=NORMAL``.

    With SQLite's default (a synced rollback journal per commit) each trial costs ~150 ms of
    fsyncs; in WAL mode it costs a few ms, and readers (a dashboard) do not block the study.
    """
    import optuna

    prefix = "sqlite:///"
    if not url.startswith(prefix):
        return url
    path = url[len(prefix):]

    def connect():
        import sqlite3

        con = sqlite3.connect(path, timeout=30.0)
        con.execute("PRAGMA journal_mode=WAL")
        con.execute("PRAGMA synchronous=NORMAL")
        return con

    return optuna.storages.RDBStorage(url, engine_kwargs={"creator": connect})


def _quiet_optuna():
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    return optuna


def _sampler(options: TuneOptions):
    import optuna

    # Multivariate TPE models the weights jointly (they trade off against each other); ``group``
    # handles the conditional parameters (rrf_k vs temperatures).
    return optuna.samplers.TPESampler(seed=options.seed, multivariate=True, group=True, n_startup_trials=20)


def _enqueue_baselines(study, models: Sequence[str], options: TuneOptions) -> None:
    """The untuned defaults and unweighted RRF are the first trials."""
    for baseline in (FusionConfig(), FusionConfig("rrf", weights={})):
        if baseline.method in options.methods:
            study.enqueue_trial(params_of(baseline, models), skip_if_exists=True)


def _optimize(study, problem: FusionProblem, idx: Sequence[int], options: TuneOptions, n_trials: int,
              progress: Progress | None = None, event: str = "trial") -> None:
    models, tags = problem.cache.models, problem.cache.model_tags

    def objective(trial) -> float:
        return problem.mean_ndcg(suggest_config(trial, models, tags, options), options.k, idx)

    callbacks = []
    if progress is not None:
        counter = {"n": 0}

        def report(study_, trial_) -> None:
            counter["n"] += 1
            try:
                best = study_.best_value
            except ValueError:
                best = float("nan")
            progress(event, {"done": counter["n"], "n": n_trials, "best": best})

        callbacks.append(report)
    if n_trials:
        study.optimize(objective, n_trials=n_trials, callbacks=callbacks, gc_after_trial=False)


def optimize_in_memory(problem: FusionProblem, idx: Sequence[int], options: TuneOptions,
                       progress: Progress | None = None) -> FusionConfig:
    """Best config on the questions at ``idx`` from a throw-away in-memory study (same space and seed)."""
    optuna = _quiet_optuna()
    study = optuna.create_study(direction="maximize", sampler=_sampler(options))
    _enqueue_baselines(study, problem.models, options)
    _optimize(study, problem, idx, options, options.trials, progress)
    return config_from_params(study.best_trial.params, problem.models, problem.cache.model_tags)


def tune(cache: RankingCache, options: TuneOptions | None = None, progress: Progress | None = None,
         devsets: Sequence[str] = ()) -> TuneResult:
    """Run (or resume) the study and return the best config with dev and held-out scores.

    Args:
        cache: ranked lists of the dev set (:func:`~vqa_pipeline.tuning.evaluate.collect_rankings`),
            computed with ``n_hits >= options.k``.
        options: trials, k, seeds, split, storage.
        progress: ``progress("trial", {"done", "n", "best"})`` after each trial of this call.
        devsets: dev-set paths, recorded in the result.

    Raises:
        DevSetError: too few questions for the split.
        ValueError: the cache's hits are fewer than ``k``.
    """
    options = options or TuneOptions()
    if cache.n_hits < options.k:
        raise ValueError(f"the rankings keep {cache.n_hits} hits per question; nDCG@{options.k} needs at least {options.k}")
    optuna = _quiet_optuna()
    split = split_questions(cache, options.heldout_fraction, options.split_seed)
    problem = FusionProblem(cache)
    pos = {qid: i for i, qid in enumerate(problem.ids)}
    dev_idx = [pos[i] for i in split.dev]
    held_idx = [pos[i] for i in split.heldout]
    models, tags = cache.models, cache.model_tags

    fingerprint = hashlib.sha256(
        (cache.subset(split.dev).fingerprint() + json.dumps(options.space(), sort_keys=True)).encode()
    ).hexdigest()[:16]
    name = f"{STUDY_PREFIX}-{fingerprint}"
    storage = options.storage or default_storage()
    study = optuna.create_study(study_name=name, storage=open_storage(storage), direction="maximize",
                                sampler=_sampler(options), load_if_exists=True)
    complete = optuna.trial.TrialState.COMPLETE
    done = [t for t in study.trials if t.state == complete]
    if not study.trials:
        study.set_user_attr("models", list(models))
        study.set_user_attr("model_tags", dict(tags))
        study.set_user_attr("k", options.k)
        study.set_user_attr("heldout_ids", list(split.heldout))
        study.set_user_attr("n_dev", len(split.dev))
        _enqueue_baselines(study, models, options)
    remaining = max(0, options.trials - len(done))
    t0 = time.perf_counter()
    _optimize(study, problem, dev_idx, options, remaining, progress)
    seconds = time.perf_counter() - t0
    best = study.best_trial
    config = config_from_params(best.params, models, tags)
    default = FusionConfig()
    return TuneResult(
        config=config, k=options.k,
        dev_score=problem.mean_ndcg(config, options.k, dev_idx),
        heldout_score=problem.mean_ndcg(config, options.k, held_idx) if held_idx else None,
        default_dev=problem.mean_ndcg(default, options.k, dev_idx),
        default_heldout=problem.mean_ndcg(default, options.k, held_idx) if held_idx else None,
        split=split, study_name=name, storage=storage,
        trials_total=len([t for t in study.trials if t.state == complete]), trials_run=remaining,
        seconds=seconds, options=options, devsets=tuple(str(d) for d in devsets),
    )


def save_tuned(result: TuneResult, path: str | SideFile) -> SideFile:
    """Write the tuned config (with its ``tuning`` record) where queries read it, atomically."""
    data = {**result.config.to_dict(), TUNING_KEY: result.record()}
    if isinstance(path, ObjectFile):  # one PUT replaces an object whole
        path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        return path
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(tmp, path)
    return path


def read_tuning_record(path: str | SideFile) -> dict | None:
    """The ``tuning`` record of a stored config, or ``None`` (missing, unreadable, or untuned)."""
    try:
        data = json.loads(as_side_file(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None
    rec = data.get(TUNING_KEY) if isinstance(data, dict) else None
    return rec if isinstance(rec, dict) else None


def _cv_progress(progress: Progress, fold: int, folds: int) -> Progress:
    """``progress`` for one fold: every event is reported as ``"cv"`` with the fold (1-based) added."""
    return lambda event, data: progress("cv", {**data, "fold": fold + 1, "folds": folds})


def cross_validate(cache: RankingCache, options: TuneOptions | None = None, folds: int = 5,
                   progress: Progress | None = None) -> dict:
    """K-fold estimate of the tuning procedure: every question is scored by a config tuned without it.

    Each fold runs its own in-memory study (same search space, seed and trial count); nothing is
    stored. Returns ``{"folds", "n", "tuned": {metric: mean}, "configs": [...]}`` where the means
    are over all questions' out-of-fold metrics, comparable with the other systems' scores on
    all questions.

    Raises:
        DevSetError: fewer questions than folds.
    """
    from vqa_pipeline.retrieval.metrics import mean_metrics
    from vqa_pipeline.tuning.evaluate import CUTOFFS

    options = options or TuneOptions()
    if folds < 2 or len(cache.questions) < folds:
        raise DevSetError(f"cross-validation needs at least 2 folds and as many questions ({len(cache.questions)} for {folds})")
    problem = FusionProblem(cache)
    assign = fold_of(cache, folds, options.split_seed)
    per_question = []
    configs = []
    for f in range(folds):
        train = [i for i, qid in enumerate(problem.ids) if assign[qid] != f]
        test = [i for i, qid in enumerate(problem.ids) if assign[qid] == f]
        cfg = optimize_in_memory(problem, train, options,
                                 _cv_progress(progress, f, folds) if progress else None)
        configs.append(cfg.to_dict())
        per_question += [problem.question_metrics(i, cfg, CUTOFFS) for i in test]
    n, mean = mean_metrics(per_question)
    return {
        "folds": folds,
        "n": n,
        "tuned": {"ndcg@10": mean.ndcg[10], "recall@5": mean.recall[5], "recall@10": mean.recall[10], "mrr": mean.mrr},
        "configs": configs,
    }
