"""The adapter route end to end over the core pieces: data set -> training -> three-way evaluation.

Glue between this package's data side (:mod:`dataset`, :mod:`evaluate`) and the core
(:mod:`spec`, :mod:`decoder`, :mod:`train`, :mod:`checkpoint`, :mod:`infer`), shared by
``vqa adapt``, the Dagster assets and ``benchmarks/adapter_training.py``. Torch loads here, in
the functions, never at import.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from vqa_pipeline.adapters.dataset import AdapterDataset
from vqa_pipeline.adapters.evaluate import Answerer, evaluate_feature_questions
from vqa_pipeline.adapters.feature_questions import FeatureQuestion

ADAPTER_FILE = "adapter.safetensors"
TRAINING_FILE = "training.json"
LOSS_PLOT = "loss.png"
REPORT_FILE = "report.json"
MAX_ANSWER_TOKENS = 6  # one closed-set word (and a stray token or two)


def specs_of(ds: AdapterDataset) -> list:
    """One ``FeatureSpec`` per modality of the data set, with the column's model tag."""
    from vqa_pipeline.adapters.spec import FeatureSpec

    return [FeatureSpec(m, ds.tags[m], int(ds.shapes[m][-1]), len(ds.shapes[m]) == 2) for m in ds.modalities]


def examples_of(ds: AdapterDataset, split: str = "train") -> list:
    from vqa_pipeline.adapters.train import Example

    return [Example(dict(ds.of(q)), q.prompt, q.answer, (q.kind, q.answer)) for q in ds.split(split)]


def adapter_path(out: str | Path) -> Path:
    """``out`` itself when it names a file, else ``out/adapter.safetensors``."""
    p = Path(out)
    return p if p.suffix == ".safetensors" else p / ADAPTER_FILE


@dataclass(slots=True)
class Training:
    """A finished training run: where the adapter is, and its figures."""

    adapter: Path
    steps: int
    losses: list[float]
    seconds: float
    steps_per_s: float
    peak_rss_mb: float
    n_train: int
    config: dict = field(default_factory=dict)

    def summary(self) -> dict:
        head, tail = self.losses[: 10], self.losses[-10:]
        return {"adapter": str(self.adapter), "steps": self.steps, "seconds": round(self.seconds, 2),
                "steps_per_s": round(self.steps_per_s, 3), "peak_rss_mb": round(self.peak_rss_mb, 1),
                "n_train": self.n_train, "loss_first": round(float(np.mean(head)), 4) if head else None,
                "loss_last": round(float(np.mean(tail)), 4) if tail else None, "config": self.config}


def train_on(ds: AdapterDataset, decoder, out_dir: str | Path, steps: int = 300, kind: str = "mlp",
             k_tokens: int = 8, lr: float = 1e-3, batch_size: int = 8, seed: int = 0,
             progress: Callable[[int, int, float], None] | None = None, balance: bool = False,
             schedule: str = "constant", max_seconds: float = 0.0) -> Training:
    """Train an adapter on the data set's training split; writes ``out_dir/adapter.safetensors``,
    ``training.json`` (losses, settings) and ``loss.png``. ``balance``, ``schedule``,
    ``max_seconds``: see :class:`~vqa_pipeline.adapters.train.TrainConfig`.

    Raises:
        AdapterError: an empty training split, bad features or settings (from the core).
    """
    from vqa_pipeline.adapters.train import TrainConfig, train_adapter

    out = Path(out_dir)
    examples = examples_of(ds, "train")
    cfg = TrainConfig(steps=steps, batch_size=batch_size, lr=lr, seed=seed, kind=kind, k_tokens=k_tokens,
                      checkpoint_every=max(25, steps // 4), balance=balance, schedule=schedule,
                      max_seconds=max_seconds)
    result = train_adapter(decoder, specs_of(ds), examples, cfg, out, progress)
    training = Training(Path(result.adapter_path or out / ADAPTER_FILE), result.steps, list(result.losses),
                        result.seconds, result.steps_per_s, result.peak_rss_mb, len(examples), cfg.to_dict())
    (out / TRAINING_FILE).write_text(json.dumps({**training.summary(), "losses": training.losses,
                                                 "modalities": ds.tags}, indent=2) + "\n")
    plot_losses(training.losses, out / LOSS_PLOT)
    return training


def plot_losses(losses: Sequence[float], path: Path) -> Path:
    """The loss curve (per step, and its running mean) as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6, 3.2), dpi=100)
    ax = fig.add_subplot(1, 1, 1)
    x = np.arange(1, len(losses) + 1)
    ax.plot(x, losses, lw=0.8, alpha=0.5, label="loss per step")
    if len(losses) >= 10:
        w = max(5, len(losses) // 20)
        ax.plot(x[w - 1:], np.convolve(losses, np.ones(w) / w, mode="valid"), lw=1.8, label=f"mean of {w}")
    ax.set_xlabel("step")
    ax.set_ylabel("next-token loss")
    ax.set_title("adapter training")
    ax.legend()
    fig.tight_layout()
    fig.savefig(str(path))
    return path


def load_trained(path: str | Path, decoder_path: str | None = None, device: str = "auto") -> tuple[Any, Any, list, dict]:
    """``(decoder, bridge, specs, meta)``: a trained adapter and the decoder it belongs to.

    Raises:
        AdapterError: a missing or corrupt adapter file, or one made for another decoder.
    """
    from vqa_pipeline.adapters.checkpoint import load_adapter, read_meta
    from vqa_pipeline.adapters.decoder import load_decoder
    from vqa_pipeline.adapters.infer import check_fits

    path = adapter_path(path)
    read_meta(path)  # a corrupt file fails here, before a decoder loads
    decoder = load_decoder(decoder_path, device)
    bridge, specs, meta = load_adapter(path, device=decoder.device)
    check_fits(decoder, bridge, specs)
    return decoder, bridge, specs, meta


def check_dataset_fits(ds: AdapterDataset, specs: Sequence) -> None:
    """Raise unless the data set's features are what the adapter was trained on (model and width).

    Raises:
        AdapterError: naming the modality, both model tags or both widths.
    """
    from vqa_pipeline.adapters.spec import AdapterError, check_specs_match

    try:
        check_specs_match(list(specs), specs_of(ds))
    except AdapterError as exc:
        raise AdapterError(f"the index at {ds.db}: {exc}" if ds.db else str(exc)) from None


def _empty_soft(decoder):
    import torch

    return (torch.zeros(1, 0, decoder.d_model, dtype=decoder.dtype, device=decoder.device),
            torch.zeros(1, 0, dtype=torch.bool, device=decoder.device))


def plain_generate(decoder, prompt: str, max_new_tokens: int = MAX_ANSWER_TOKENS) -> str:
    """The decoder's greedy answer with no soft tokens (and its LoRA, if any, switched off)."""
    if getattr(decoder, "lora_rank", 0):
        decoder.set_lora_enabled(False)
        decoder._lora_owner = None
    soft, mask = _empty_soft(decoder)
    return decoder.generate(soft, mask, prompt, max_new_tokens=max_new_tokens)


def no_soft_answerer(decoder) -> Answerer:
    def answer(q: FeatureQuestion, feats: Mapping[str, np.ndarray | None]) -> str:
        return plain_generate(decoder, q.prompt)

    return answer


def adapter_answerer(decoder, bridge, specs: Sequence) -> Answerer:
    from vqa_pipeline.adapters.infer import answer_with_adapter

    def answer(q: FeatureQuestion, feats: Mapping[str, np.ndarray | None]) -> str:
        return answer_with_adapter(decoder, bridge, specs, dict(feats), q.prompt, max_new_tokens=MAX_ANSWER_TOKENS)

    return answer


def evaluate_on(ds: AdapterDataset, decoder, bridge, specs: Sequence, progress=None, limit: int | None = None) -> dict:
    """The three-way comparison on the held-out feature questions (see :mod:`evaluate`)."""
    check_dataset_fits(ds, specs)
    t0 = time.perf_counter()
    report = evaluate_feature_questions(ds, {"no_soft": no_soft_answerer(decoder),
                                             "adapter": adapter_answerer(decoder, bridge, specs)},
                                        progress=progress, limit=limit)
    report["seconds"] = round(time.perf_counter() - t0, 2)
    report["dataset"] = ds.summary()
    return report
