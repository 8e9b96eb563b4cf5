"""`devset`, `fusion_weights` and `retrieval_report`: thin wrappers over vqa_pipeline.tuning.

Not partitioned: they read the whole index (every video partition of the extraction assets).
`fusion_weights` writes ``<db>/fusion.json``, which queries load automatically;
`retrieval_report` writes ``<state>/reports/retrieval_report.{png,md,json}`` and shows the table and
the chart in the asset's metadata.
"""


import base64
import os
from pathlib import Path
from typing import Literal

import dagster as dg
from pydantic import Field

from vqa_pipeline.config import state_dir
from vqa_pipeline.orchestration.constants import GROUP_ASSETS
from vqa_pipeline.orchestration.resources import VqaSettings

EVALUATION_GROUP = "evaluation"
ENV_DEVSET = "VQA_DEVSET"
DEFAULT_DEVSET = "data/sample/devset.jsonl"


def _default_devsets() -> list[str]:
    env = os.environ.get(ENV_DEVSET)
    return [p for p in env.split(os.pathsep) if p] if env else [DEFAULT_DEVSET]


class TuningSettings(dg.ConfigurableResource):
    """Dev sets, the Optuna study and the report of the evaluation assets."""

    devsets: list[str] = Field(
        default_factory=_default_devsets,
        description=f"Dev-set files (JSON Lines, DESIGN.md format). Env: {ENV_DEVSET} ({os.pathsep}-separated); "
        f"default {DEFAULT_DEVSET}.",
    )
    skip_unknown: bool = Field(default=False, description="Skip questions naming videos that are not indexed "
                               "(default: fail with the list of them).")
    trials: int = Field(default=200, description="Optuna trials (a resumed study runs only the missing ones).")
    k: int = Field(default=10, description="Objective: mean nDCG@k on the dev split.")
    seed: int = Field(default=0, description="TPE sampler seed.")
    heldout_fraction: float = Field(default=0.3, description="Share of each video's questions held out from tuning.")
    cv_folds: int = Field(default=5, description="Cross-validation folds for the report's estimate of the tuning "
                          "procedure (0: none).")
    answers: Literal["auto", "off"] = Field(default="auto", description="Answer and citation accuracy in the "
                                            "report: auto = when an LLM backend is available; off = never.")
    llm_url: str | None = Field(default=None, description="OpenAI-compatible endpoint for the answers "
                                "(default: the local Gemma 3 270M when installed).")
    llm_model: str | None = Field(default=None, description="Model name at llm_url.")
    optuna_storage: str | None = Field(default=None, description="Optuna storage URL (default: "
                                       "sqlite:///<state>/optuna.db).")
    report_dir: str | None = Field(default=None, description="Where the report files go (default <state>/reports).")

    def options(self):
        from vqa_pipeline.tuning.study import TuneOptions

        return TuneOptions(trials=self.trials, k=self.k, seed=self.seed, heldout_fraction=self.heldout_fraction,
                           storage=self.optuna_storage)

    def on_unknown(self) -> str:
        return "skip" if self.skip_unknown else "error"

    def reports_path(self) -> Path:
        return Path(self.report_dir) if self.report_dir else state_dir() / "reports"

    def backend(self):
        """The answer backend, or ``None`` when answers are off or no backend can run here."""
        if self.answers == "off":
            return None
        from vqa_pipeline.answer.llm import make_backend

        backend = make_backend(self.llm_url, self.llm_model)
        ok, _ = backend.availability()
        return backend if ok else None


def _fail(exc: Exception) -> dg.Failure:
    return dg.Failure(description=str(exc))


def _errors():
    from vqa_pipeline.retrieval.search import QueryError
    from vqa_pipeline.tuning.devset import DevSetError

    return (QueryError, DevSetError, ValueError)


@dg.asset(group_name=EVALUATION_GROUP, kinds={"json"})
def devset(context: dg.AssetExecutionContext, settings: VqaSettings, tuning: TuningSettings) -> dg.MaterializeResult:
    """The dev-set files, validated line by line and matched against the indexed videos."""
    from vqa_pipeline.retrieval.search import open_index
    from vqa_pipeline.store.search import video_catalog
    from vqa_pipeline.tuning.devset import load_devset, resolve_devset

    try:
        questions = load_devset(tuning.devsets)
        resolved, unknown = resolve_devset(questions, video_catalog(open_index(settings.db_dir)),
                                           tuning.on_unknown())
    except _errors() as exc:
        raise _fail(exc) from None
    for q in unknown:
        context.log.warning(f"{q.origin}: video {q.video!r} is not indexed; question skipped")
    videos = sorted({r.question.video for r in resolved})
    return dg.MaterializeResult(metadata={
        "files": dg.MetadataValue.json([str(Path(p).absolute()) for p in tuning.devsets]),
        "questions": len(questions),
        "answerable": sum(r.question.answerable for r in resolved),
        "absent": sum(not r.question.answerable for r in resolved),
        "skipped_unknown_video": len(unknown),
        "videos": dg.MetadataValue.json(videos),
    })


@dg.asset(group_name=EVALUATION_GROUP, deps=[devset, GROUP_ASSETS["text"]], kinds={"optuna"})
def fusion_weights(context: dg.AssetExecutionContext, settings: VqaSettings,
                   tuning: TuningSettings) -> dg.MaterializeResult:
    """Fusion config learned by Optuna (seeded TPE) on the dev split, scored on the held-out split.

    Stored as ``<db>/fusion.json`` with its scores and model tags; queries use it automatically.
    """
    from vqa_pipeline.tuning.run import run_tune
    from vqa_pipeline.tuning.study import effective_weights

    try:
        result, path, prep = run_tune(settings.db_dir, tuning.devsets, tuning.options(), tuning.on_unknown())
    except _errors() as exc:
        raise _fail(exc) from None
    for note in prep.notes:
        context.log.info(note)
    cfg, models = result.config, prep.cache.models
    eff = effective_weights(cfg, models)
    lines = [f"| retriever | weight | {'rrf_k' if cfg.method == 'rrf' else 'temperature'} | effective weight |",
             "|---|---|---|---|"]
    for m in models:
        other = f"{cfg.rrf_k:.1f}" if cfg.method == "rrf" else f"{cfg.temperature(m):.3f}"
        lines.append(f"| `{m}` | {cfg.weight(m):.3f} | {other} | {eff[m]:.3f} |")
    held = "-" if result.heldout_score is None else f"{result.heldout_score:.4f}"
    summary = (f"**{cfg.method}** fusion, nDCG@{result.k}: dev {result.dev_score:.4f} ({len(result.split.dev)} q), "
               f"held-out {held} ({len(result.split.heldout)} q)\n\n" + "\n".join(lines))
    metadata = {
        "method": cfg.method,
        f"dev_ndcg@{result.k}": float(result.dev_score),
        f"default_dev_ndcg@{result.k}": float(result.default_dev),
        "n_dev": len(result.split.dev),
        "n_heldout": len(result.split.heldout),
        "trials": result.trials_total,
        "trials_run_now": result.trials_run,
        "tuning_seconds": round(result.seconds, 3),
        "study": result.study_name,
        "storage": result.storage,
        "config_path": dg.MetadataValue.path(str(path)),
        "config": dg.MetadataValue.json(cfg.to_dict()),
        "summary": dg.MetadataValue.md(summary),
    }
    if result.heldout_score is not None:
        metadata[f"heldout_ndcg@{result.k}"] = float(result.heldout_score)
        metadata[f"default_heldout_ndcg@{result.k}"] = float(result.default_heldout)
    for m in models:
        metadata[f"weight/{m}"] = float(eff[m])
    return dg.MaterializeResult(metadata=metadata)


@dg.asset(group_name=EVALUATION_GROUP, deps=[fusion_weights], kinds={"pillow"})
def retrieval_report(context: dg.AssetExecutionContext, settings: VqaSettings,
                     tuning: TuningSettings) -> dg.MaterializeResult:
    """nDCG@10, Recall@5/10 and MRR per model, fused, and baselines (BM25, LanceDB hybrid RRF, unweighted
    RRF) on the held-out split, with a chart; answer and citation accuracy when an LLM is available."""
    from vqa_pipeline.tuning.report import answers_markdown, markdown_table, write_report
    from vqa_pipeline.tuning.run import run_report

    backend = tuning.backend()
    if backend is None and tuning.answers != "off":
        context.log.info("no LLM backend available: answer accuracy is not computed")
    try:
        report, _ = run_report(settings.db_dir, tuning.devsets, tuning.options(), tuning.on_unknown(),
                               backend=backend, cv_folds=tuning.cv_folds)
    except _errors() as exc:
        raise _fail(exc) from None
    for note in report.notes:
        context.log.warning(note)
    paths = write_report(report, tuning.reports_path())
    png = base64.b64encode(paths["png"].read_bytes()).decode("ascii")
    md = [markdown_table(report), "", answers_markdown(report.answers)]
    cv = (report.tuning or {}).get("cv")
    if cv:
        md += ["", f"{cv['folds']}-fold cross-validation of the tuning ({cv['n']} questions, out-of-fold): "
               + ", ".join(f"{k} {v:.3f}" for k, v in cv["tuned"].items())]
    md += [""] + [f"- {n}" for n in report.notes]
    md += ["", f"![retrieval report](data:image/png;base64,{png})"]
    metadata: dict = {
        "report": dg.MetadataValue.md("\n".join(md)),
        "plot": dg.MetadataValue.path(str(paths["png"])),
        "report_json": dg.MetadataValue.path(str(paths["json"])),
        "n_heldout": report.n.get("heldout", 0),
        "n_all": report.n.get("all", 0),
    }
    for s in report.systems:
        for metric, value in s.scores.get("heldout", s.scores.get("all", {})).items():
            metadata[f"{s.name}/{metric}"] = float(value)
    if cv:
        metadata["cv/fused_tuned/ndcg@10"] = float(cv["tuned"]["ndcg@10"])
    if report.answers:
        for key in ("answer_accuracy", "citation_accuracy", "absent_abstained"):
            if report.answers.get(key) is not None:
                metadata[key] = float(report.answers[key])
    return dg.MaterializeResult(metadata=metadata)


tuning_assets = [devset, fusion_weights, retrieval_report]
