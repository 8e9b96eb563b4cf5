"""`adapter_dataset`, `adapter` and `adapter_report`: thin wrappers over vqa_pipeline.adapters.

All three read one resource, :class:`AdapterSettings` (which modalities, how many generated clips,
steps, the decoder), so "per modality" is a setting: a run with ``modalities="audio"`` trains and
scores the audio adapter. The data set and the adapter live in files under ``work_dir``
(``dataset_<modalities>/``, ``adapter_<modalities>/``), which the next asset reads.
"""

from pathlib import Path

import dagster as dg
from pydantic import Field

from vqa_pipeline.orchestration.metadata import image_markdown, rounded_floats

ADAPTER_GROUP = "adapters"

__all__ = ["ADAPTER_GROUP", "AdapterSettings", "adapter", "adapter_assets", "adapter_dataset", "adapter_report"]


class AdapterSettings(dg.ConfigurableResource):
    """What the adapter assets train and score on."""

    modalities: str = Field(default="audio,visual", description="Comma-separated feature modalities "
                            "(audio, visual, thumb, text, audio_labels, clip, clap, videoprism).")
    work_dir: str | None = Field(default=None, description="Folder of the generated corpus, the data set and the "
                                 "adapter (default: $VQA_HOME/adapter_corpus).")
    db: str | None = Field(default=None, description="Use this index instead of the generated corpus "
                           "(its clips need truth files in truth_dirs).")
    truth_dirs: list[str] = Field(default_factory=list, description="Truth-file folders for `db` "
                                  "(default: data/sample/truth).")
    clips: int = Field(default=48, description="Generated clips (8 s each).")
    seed: int = Field(default=0, description="Corpus draw, split and training seed.")
    steps: int = Field(default=300, description="Optimizer steps.")
    kind: str = Field(default="mlp", description="mlp, resampler or xattn.")
    k_tokens: int = Field(default=8, description="Soft tokens per modality.")
    lr: float = Field(default=1e-3, description="Learning rate.")
    decoder: str | None = Field(default=None, description="Local Hugging Face causal LM folder (default: the "
                                "bundled Gemma 3 270M).")
    device: str = Field(default="auto", description="auto, cpu or cuda.")
    limit: int | None = Field(default=None, description="Score only the first N held-out questions.")

    def names(self) -> tuple[str, ...]:
        from vqa_pipeline.adapters.window_features import parse_modalities

        return parse_modalities(self.modalities)

    def home(self) -> Path:
        from vqa_pipeline.config import state_dir

        return Path(self.work_dir) if self.work_dir else state_dir() / "adapter_corpus"

    def dataset_dir(self) -> Path:
        return self.home() / f"dataset_{'_'.join(self.names())}"

    def adapter_dir(self) -> Path:
        return self.home() / f"adapter_{'_'.join(self.names())}"


def _errors() -> tuple[type[Exception], ...]:
    from vqa_pipeline.adapters.dataset import DatasetError
    from vqa_pipeline.adapters.evaluate import EvaluationError
    from vqa_pipeline.adapters.feature_questions import FeatureQuestionError
    from vqa_pipeline.adapters.spec import AdapterError
    from vqa_pipeline.adapters.window_features import FeatureError

    return (AdapterError, FeatureError, FeatureQuestionError, DatasetError, EvaluationError)


@dg.asset(group_name=ADAPTER_GROUP, kinds={"lancedb", "numpy"})
def adapter_dataset(context: dg.AssetExecutionContext, adapter_settings: AdapterSettings) -> dg.MaterializeResult:
    """Feature questions (which sound, which colour, scene cut, speech or silence) with their windows'
    feature arrays, split by video; from the generated clips (made and indexed on first use) or `db`."""
    from vqa_pipeline.adapters.dataset import TRUTH_OF_SAMPLE, build_dataset, prepare_corpus, save_dataset

    s = adapter_settings
    try:
        if s.db:
            db, truth = Path(s.db), [Path(t) for t in s.truth_dirs] or [TRUTH_OF_SAMPLE]
        else:
            media, db = prepare_corpus(s.home(), s.clips, s.seed)
            truth = [media / "truth"]
        ds = build_dataset(db, truth, s.names(), seed=s.seed)
    except _errors() as exc:
        raise dg.Failure(description=str(exc)) from None
    folder = save_dataset(ds, s.dataset_dir())
    summary = ds.summary()
    context.log.info(f"{summary['questions']} feature questions in {folder}")
    return dg.MaterializeResult(metadata={
        "path": dg.MetadataValue.path(str(folder)),
        "index": dg.MetadataValue.path(str(db)),
        "questions": summary["questions"],
        "train": summary["train"],
        "heldout": summary["heldout"],
        "train_videos": summary["train_videos"],
        "heldout_videos": summary["heldout_videos"],
        "modalities": dg.MetadataValue.json(summary["modalities"]),
        "kinds": dg.MetadataValue.json(summary["kinds"]),
    })


@dg.asset(group_name=ADAPTER_GROUP, deps=[adapter_dataset], kinds={"pytorch"})
def adapter(context: dg.AssetExecutionContext, adapter_settings: AdapterSettings) -> dg.MaterializeResult:
    """The adapter trained on the training videos' feature questions (the LLM frozen), with its loss curve."""
    from vqa_pipeline.adapters.dataset import load_dataset
    from vqa_pipeline.adapters.decoder import load_decoder
    from vqa_pipeline.adapters.route import train_on

    s = adapter_settings
    every = max(1, s.steps // 10)

    def progress(step: int, total: int, loss: float) -> None:
        if step % every == 0 or step == total:
            context.log.info(f"step {step}/{total} loss {loss:.4f}")

    try:
        ds = load_dataset(s.dataset_dir())
        decoder = load_decoder(s.decoder, s.device)
        t = train_on(ds, decoder, s.adapter_dir(), steps=s.steps, kind=s.kind, k_tokens=s.k_tokens, lr=s.lr,
                     seed=s.seed, progress=progress)
    except _errors() as exc:
        raise dg.Failure(description=str(exc)) from None
    summary = t.summary()
    plot = t.adapter.parent / "loss.png"
    return dg.MaterializeResult(metadata=rounded_floats({
        "path": dg.MetadataValue.path(str(t.adapter)),
        "loss_curve": image_markdown(plot.read_bytes(), "adapter loss curve"),
        "loss_curve_path": dg.MetadataValue.path(str(plot)),
        "steps": t.steps,
        "steps_per_s": float(t.steps_per_s),
        "seconds": float(t.seconds),
        "peak_rss_mb": float(t.peak_rss_mb),
        "loss_first": float(summary["loss_first"]),
        "loss_last": float(summary["loss_last"]),
        "n_train": t.n_train,
        "config": dg.MetadataValue.json(t.config),
    }))


@dg.asset(group_name=ADAPTER_GROUP, deps=[adapter], kinds={"pytorch"})
def adapter_report(context: dg.AssetExecutionContext, adapter_settings: AdapterSettings) -> dg.MaterializeResult:
    """Held-out feature questions scored three ways: the LLM alone, a linear probe on the same
    features (the ceiling), and the LLM with the adapter's soft tokens."""
    import json

    from vqa_pipeline.adapters.dataset import load_dataset
    from vqa_pipeline.adapters.evaluate import markdown_table
    from vqa_pipeline.adapters.route import REPORT_FILE, adapter_path, evaluate_on, load_trained

    s = adapter_settings
    try:
        ds = load_dataset(s.dataset_dir())
        decoder, bridge, specs, _ = load_trained(adapter_path(s.adapter_dir()), s.decoder, s.device)
        report = evaluate_on(ds, decoder, bridge, specs, limit=s.limit)
    except _errors() as exc:
        raise dg.Failure(description=str(exc)) from None
    out = s.adapter_dir() / REPORT_FILE
    out.write_text(json.dumps(report, indent=2) + "\n")
    acc = report["accuracy"]
    metadata: dict = {
        "comparison": dg.MetadataValue.md(markdown_table(report)),
        "report_json": dg.MetadataValue.path(str(out)),
        "n_heldout": report["n"],
        **{f"accuracy/{m}": float(v) for m, v in acc.items()},
    }
    for key, value in report.get("goals", {}).items():
        metadata[f"goal/{key}"] = float(value) if not isinstance(value, bool) else value
    return dg.MaterializeResult(metadata=rounded_floats(metadata))


adapter_assets = [adapter_dataset, adapter, adapter_report]
