"""Dev sets, retrieval evaluation, and the Optuna study that learns the fusion (no Dagster here)."""

from vqa_pipeline.tuning.devset import DevQuestion, DevSetError, ResolvedQuestion, load_devset, resolve_devset
from vqa_pipeline.tuning.evaluate import FusionProblem, RankingCache, collect_rankings, eval_json
from vqa_pipeline.tuning.study import TuneOptions, TuneResult, cross_validate, save_tuned, tune

__all__ = [
    "DevQuestion",
    "DevSetError",
    "FusionProblem",
    "RankingCache",
    "ResolvedQuestion",
    "TuneOptions",
    "TuneResult",
    "collect_rankings",
    "cross_validate",
    "eval_json",
    "load_devset",
    "resolve_devset",
    "save_tuned",
    "tune",
]
