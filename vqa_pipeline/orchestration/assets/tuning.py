"""`devset`, `fusion_weights`, `reranker` and `retrieval_report`: thin wrappers over vqa_pipeline.tuning.

Not partitioned: they read the whole index (every video partition of the extraction assets).
`fusion_weights` writes ``<db>/fusion.json`` and `reranker` ``<db>/reranker.json``, which queries
load automatically;
`retrieval_report` writes ``<state>/reports/retrieval_report.{png,md,json}`` and shows the table and
the chart in the asset's metadata. Figures in the metadata are rounded to 4 significant digits.
"""


from pathlib import Path
from typing import cast

import dagster as dg

from vqa_pipeline.orchestration.constants import GROUP_ASSETS
from vqa_pipeline.orchestration.metadata import image_markdown, rounded, rounded_floats
from vqa_pipeline.orchestration.resources import TuningSettings, VqaSettings

EVALUATION_GROUP = "evaluation"

__all__ = ["EVALUATION_GROUP", "TuningSettings", "devset", "fusion_weights", "reranker", "retrieval_report",
           "tuning_assets"]


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
        questions = load_devset(tuning.devset_files())
        resolved, unknown = resolve_devset(questions, video_catalog(open_index(settings.db_dir)),
                                           tuning.on_unknown())
    except _errors() as exc:
        raise _fail(exc) from None
    for q in unknown:
        context.log.warning(f"{q.origin}: video {q.video!r} is not indexed; question skipped")
    videos = sorted({r.question.video for r in resolved})
    return dg.MaterializeResult(metadata={
        "files": dg.MetadataValue.json([str(Path(p).absolute()) for p in tuning.devset_files()]),
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
        result, path, prep = run_tune(settings.db_dir, tuning.devset_files(), tuning.options(), tuning.on_unknown())
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
        if result.default_heldout is not None:
            metadata[f"default_heldout_ndcg@{result.k}"] = float(result.default_heldout)
    for m in models:
        metadata[f"weight/{m}"] = float(eff[m])
    return dg.MaterializeResult(metadata=rounded_floats(metadata))


@dg.asset(group_name=EVALUATION_GROUP, deps=[fusion_weights, GROUP_ASSETS["units"]], kinds={"numpy"})
def reranker(context: dg.AssetExecutionContext, settings: VqaSettings, tuning: TuningSettings) -> dg.MaterializeResult:
    """The evidence-unit re-ranker, trained on the dev split over the tuned fusion and scored on the
    held-out split; stored as ``<db>/reranker.json`` (with its calibrated abstention threshold),
    which ``ask`` and ``search(rerank=True)`` load."""
    from vqa_pipeline.tuning.run import run_rerank

    try:
        result, _ = run_rerank(settings.db_dir, tuning.devset_files(), tuning.options(), tuning.on_unknown())
    except _errors() as exc:
        raise _fail(exc) from None
    rows = ["| split | order | nDCG@10 | MRR | best unit holds the answer |", "|---|---|---|---|---|"]
    for split, scores in (("dev", result.dev), ("held-out", result.heldout)):
        for name, v in scores.items():
            if v.get("n"):
                rows.append(f"| {split} | {name} | {v['ndcg@10']:.3f} | {v['mrr']:.3f} | "
                            f"{v['top_unit_relevant'] if name != 'fused' else '-'} |")
    metadata: dict = {
        "path": dg.MetadataValue.path(str(result.path)),
        "abstain_threshold": float(result.model.abstain_threshold or 0.0),
        "examples": int(cast(int, result.model.info.get("examples", 0))),  # a count (tuning/reranking.py)
        "weights": dg.MetadataValue.json({k: rounded(v) for k, v in result.model.weights.items()}),
        "scores": dg.MetadataValue.md("\n".join(rows)),
    }
    for split, scores in (("dev", result.dev), ("heldout", result.heldout)):
        for name in ("fused", "reranked"):
            if scores.get(name, {}).get("n"):
                metadata[f"{split}/{name}/ndcg@10"] = float(scores[name]["ndcg@10"])
                metadata[f"{split}/{name}/mrr"] = float(scores[name]["mrr"])
    return dg.MaterializeResult(metadata=rounded_floats(metadata))


@dg.asset(group_name=EVALUATION_GROUP, deps=[fusion_weights, reranker], kinds={"matplotlib"})
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
        report, _ = run_report(settings.db_dir, tuning.devset_files(), tuning.options(), tuning.on_unknown(),
                               backend=backend, cv_folds=tuning.cv_folds)
    except _errors() as exc:
        raise _fail(exc) from None
    for note in report.notes:
        context.log.warning(note)
    paths = write_report(report, tuning.reports_path())
    plot = image_markdown(paths["png"].read_bytes(), "retrieval report")
    md = [markdown_table(report), "", answers_markdown(report.answers)]
    cv = (report.tuning or {}).get("cv")
    if cv:
        md += ["", f"{cv['folds']}-fold cross-validation of the tuning ({cv['n']} questions, out-of-fold): "
               + ", ".join(f"{k} {v:.3f}" for k, v in cv["tuned"].items())]
    md += [""] + [f"- {n}" for n in report.notes]
    md += ["", "The chart: the `plot` entry."]  # stored once (base64 PNG), not in both entries
    metadata: dict = {
        "report": dg.MetadataValue.md("\n".join(md)),
        # The chart itself (Dagster's UI renders data: images in markdown), and where its file is.
        "plot": plot,
        "plot_path": dg.MetadataValue.path(str(paths["png"])),
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
    return dg.MaterializeResult(metadata=rounded_floats(metadata))


tuning_assets = [devset, fusion_weights, reranker, retrieval_report]
