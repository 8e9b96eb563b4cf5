"""Training an adapter against a frozen decoder: AdamW, bf16 autocast on CUDA, gradient accumulation,
seeded, with checkpoints that resume at the same step (weights, optimizer and sampler state)."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import resource
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from vqa_pipeline.adapters.batch import check_features, collate
from vqa_pipeline.adapters.checkpoint import atomic_write, save_adapter
from vqa_pipeline.adapters.decoder import Decoder
from vqa_pipeline.adapters.modules import KINDS, SoftTokenBridge, default_xattn_layers
from vqa_pipeline.adapters.spec import AdapterError, FeatureSpec

CHECKPOINT_NAME = "checkpoint.pt"
ADAPTER_NAME = "adapter.safetensors"
_CKPT_FORMAT = "vqa-train-checkpoint/1"


@dataclass
class Example:
    """One training pair: features per modality (pooled ``(dim,)`` or sequence ``(n, dim)`` float32;
    ``None`` = missing for this window), the prompt, and the answer to learn. ``group`` (e.g.
    ``("sound", "chime")``: question kind, answer) is what balanced batches draw evenly over."""

    features: dict[str, np.ndarray | None]
    prompt: str
    answer: str
    group: tuple[str, ...] = ()


@dataclass
class TrainConfig:
    """Training settings (stored in the adapter's metadata).

    ``kind``: ``"mlp"`` | ``"resampler"`` | ``"xattn"``; ``k_tokens``: soft tokens per modality;
    ``xattn_blocks``: cross-attention blocks spread over the decoder (kind ``"xattn"`` only);
    ``lora_rank`` > 0 adds LoRA to the decoder's attention projections.
    ``balance``: draw each batch row level by level evenly over the examples' ``group`` (a question
    kind first, then an answer within it) instead of uniformly over examples, so a majority answer
    ("no", "none") cannot be learnt as a prior in place of the features.
    ``schedule``: ``"constant"`` lr, or ``"cosine"``: linear warm-up over ``warmup`` of the run, then
    cosine decay to a tenth of ``lr``. ``max_seconds`` > 0 ends the run when that time has passed
    (the schedule then follows whichever of steps or time is further along).
    """

    steps: int = 200
    batch_size: int = 4
    grad_accum: int = 1
    lr: float = 1e-3
    seed: int = 0
    checkpoint_every: int = 50
    lora_rank: int = 0
    kind: str = "mlp"
    k_tokens: int = 8
    weight_decay: float = 0.0
    xattn_blocks: int = 4
    balance: bool = False
    schedule: str = "constant"
    warmup: float = 0.05
    max_seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass
class TrainResult:
    """What a training run did. ``losses[i]`` is the loss of step ``i + 1`` (resumed runs include the
    earlier steps). ``steps_per_s`` counts only the steps run by this call; ``peak_rss_mb`` is the
    process's peak resident memory (model load included); ``peak_cuda_mb`` is set on a GPU."""

    steps: int
    losses: list[float]
    seconds: float
    peak_rss_mb: float
    steps_per_s: float = 0.0
    peak_cuda_mb: float | None = None
    start_step: int = 0
    adapter_path: Path | None = None
    bridge: SoftTokenBridge | None = field(default=None, repr=False)


Progress = Callable[[int, int, float], None]
"""``progress(step, total_steps, loss)`` after every optimizer step."""


SCHEDULES = ("constant", "cosine")


def lr_at(cfg: TrainConfig, step: int, progress: float | None = None) -> float:
    """The learning rate of optimizer step ``step`` (0-based); ``progress`` in [0, 1] overrides ``step / steps``."""
    if cfg.schedule == "constant":
        return cfg.lr
    warm = max(1, round(cfg.warmup * cfg.steps))
    if progress is not None:  # a time limit: warm-up and decay both follow the share of the run done
        p = min(1.0, max(0.0, progress))
        if p < cfg.warmup:
            return cfg.lr * max(p / cfg.warmup, 1.0 / warm)
        frac = (p - cfg.warmup) / max(1e-9, 1.0 - cfg.warmup)
    elif step < warm:
        return cfg.lr * (step + 1) / warm
    else:
        frac = (step - warm) / max(1, cfg.steps - warm)
    return cfg.lr * (0.1 + 0.9 * 0.5 * (1.0 + math.cos(math.pi * min(1.0, max(0.0, frac)))))


def balanced_sampler(groups: Sequence[tuple[str, ...]], gen: torch.Generator) -> Callable[[int], list[int]]:
    """``draw(b)``: ``b`` example indices, each drawn evenly over the first group level, then the
    next within it, ..., then over the examples of the chosen group (seeded by ``gen``)."""
    tree: dict = {}
    for i, g in enumerate(groups):
        node = tree
        for part in g:
            node = node.setdefault(part, {})
        node.setdefault(None, []).append(i)

    def pick(node: dict) -> int:
        while True:
            keys = sorted(k for k in node if k is not None)
            leaves = node.get(None, [])
            options = len(keys) + (1 if leaves else 0)
            j = int(torch.randint(options, (1,), generator=gen))
            if j < len(keys):
                node = node[keys[j]]
                continue
            return leaves[int(torch.randint(len(leaves), (1,), generator=gen))]

    return lambda b: [pick(tree) for _ in range(b)]


def _check_config(cfg: TrainConfig) -> None:
    if cfg.kind not in KINDS:
        raise AdapterError(f"unknown adapter kind '{cfg.kind}' (choose one of {', '.join(KINDS)})")
    for name in ("steps", "batch_size", "grad_accum", "checkpoint_every", "k_tokens", "xattn_blocks"):
        if getattr(cfg, name) < 1:
            raise AdapterError(f"training setting {name} must be at least 1, not {getattr(cfg, name)}")
    if cfg.schedule not in SCHEDULES:
        raise AdapterError(f"unknown lr schedule '{cfg.schedule}' (choose one of {', '.join(SCHEDULES)})")
    if not cfg.lr > 0 or cfg.lora_rank < 0:
        raise AdapterError(f"training needs lr > 0 and lora_rank >= 0 (got lr={cfg.lr}, lora_rank={cfg.lora_rank})")


def _check_examples(specs: Sequence[FeatureSpec], examples: Sequence[Example]) -> list[dict[str, np.ndarray | None]]:
    if not examples:
        raise AdapterError("the training set is empty: no (features, question, answer) examples")
    rows = []
    for i, ex in enumerate(examples):
        if not ex.prompt.strip() or not ex.answer.strip():
            raise AdapterError(f"training example {i} has an empty prompt or answer")
        rows.append(check_features(specs, ex.features, where=f"training example {i}"))
    return rows


def _fingerprint(decoder: Decoder, specs: Sequence[FeatureSpec], examples: Sequence[Example],
                 rows: Sequence[dict[str, np.ndarray | None]], cfg: TrainConfig) -> str:
    """What must not change for a checkpoint to resume: everything but the step budget and cadence."""
    h = hashlib.sha256()
    conf = {k: v for k, v in cfg.to_dict().items() if k not in ("steps", "checkpoint_every", "max_seconds")}
    h.update(json.dumps([conf, [s.to_dict() for s in specs], decoder.name, decoder.d_model], sort_keys=True).encode())
    for ex, row in zip(examples, rows):
        h.update(ex.prompt.encode() + b"\0" + ex.answer.encode() + b"\0" + "/".join(ex.group).encode() + b"\0")
        for s in specs:
            v = row[s.name]
            h.update(b"-" if v is None else v.tobytes())
    return h.hexdigest()


def _load_checkpoint(path: Path) -> dict[str, Any]:
    try:
        ck = torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception:  # noqa: BLE001 - pickle/zip errors become one line naming the file
        raise AdapterError(f"training checkpoint {path} is corrupt; remove it to start afresh") from None
    if not isinstance(ck, dict) or ck.get("format") != _CKPT_FORMAT:
        raise AdapterError(f"{path} is not a training checkpoint of this version; remove it to start afresh")
    return ck


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux reports KiB


def train_adapter(decoder: Decoder, specs: list[FeatureSpec], examples: Sequence[Example], cfg: TrainConfig,
                  out_dir: str | Path, progress: Progress | None = None) -> TrainResult:
    """Train a `SoftTokenBridge` (and LoRA when ``cfg.lora_rank`` > 0) on ``examples``; the LLM stays frozen.

    Writes ``out_dir/checkpoint.pt`` every ``cfg.checkpoint_every`` steps and at the end, and the
    trained adapter to ``out_dir/adapter.safetensors`` (see `load_adapter`). A checkpoint already in
    ``out_dir`` from the same run (same data, specs, decoder and settings but ``steps``) is resumed.

    Raises:
        AdapterError: empty training set, wrong feature dimensions, NaN/inf features, bad settings, a
            corrupt or foreign checkpoint, or a diverging loss. Nothing in ``out_dir`` is overwritten
            by a run that fails its checks.
    """
    _check_config(cfg)
    rows = _check_examples(specs, examples)
    out = Path(out_dir)
    ckpt_path = out / CHECKPOINT_NAME
    fingerprint = _fingerprint(decoder, specs, examples, rows, cfg)
    ck = _load_checkpoint(ckpt_path) if ckpt_path.exists() else None
    if ck is not None and ck.get("fingerprint") != fingerprint:
        raise AdapterError(f"{ckpt_path} belongs to another training run (data, features or settings differ); "
                           "remove it or choose another output folder")
    if cfg.lora_rank == 0 and decoder.lora_rank:
        raise AdapterError(f"decoder {decoder.name} carries LoRA from another run; load it afresh to train without LoRA")

    dev = decoder.device
    torch.manual_seed(cfg.seed)
    layers = default_xattn_layers(len(decoder.layers), cfg.xattn_blocks) if cfg.kind == "xattn" else None
    bridge = SoftTokenBridge(specs, decoder.d_model, kind=cfg.kind, k=cfg.k_tokens,
                             out_scale=decoder.embed_rms, xattn_layers=layers).to(dev)
    bridge.decoder_name = decoder.name
    params = list(bridge.parameters())
    if cfg.lora_rank:
        lora = decoder.enable_lora(cfg.lora_rank)
        if ck is None:  # a fresh start, whether or not this decoder carried LoRA before; seeded
            torch.manual_seed(cfg.seed + 1)
            decoder.reset_lora()
        params += lora
    opt = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    gen = torch.Generator().manual_seed(cfg.seed)
    losses: list[float] = []
    step = 0
    if ck is not None:
        try:
            bridge.load_state_dict(ck["bridge"])
            if cfg.lora_rank:
                decoder.enable_lora(cfg.lora_rank, ck["lora"])
            opt.load_state_dict(ck["optim"])
            gen.set_state(ck["gen"])
            torch.set_rng_state(ck["torch_rng"])
            step, losses = int(ck["step"]), [float(x) for x in ck["losses"]]
        except (KeyError, RuntimeError, ValueError):
            raise AdapterError(f"training checkpoint {ckpt_path} does not fit this adapter; remove it") from None

    prompts = [decoder.tokenize(ex.prompt) for ex in examples]
    answers = [decoder.answer_ids(ex.answer) for ex in examples]
    n = len(examples)
    use_amp = dev.type == "cuda"
    if use_amp:
        torch.cuda.reset_peak_memory_stats(dev)
    start_step = step
    saved_at = step
    t0 = time.perf_counter()

    def save_checkpoint() -> None:
        nonlocal saved_at
        saved_at = step
        state = {"format": _CKPT_FORMAT, "fingerprint": fingerprint, "step": step, "losses": losses,
                 "bridge": {k: v.detach().cpu() for k, v in bridge.state_dict().items()},
                 "lora": decoder.lora_state(), "optim": opt.state_dict(), "gen": gen.get_state(),
                 "torch_rng": torch.get_rng_state(), "config": cfg.to_dict()}
        atomic_write(ckpt_path, lambda tmp: torch.save(state, str(tmp)))

    draw = balanced_sampler([ex.group for ex in examples], gen) if cfg.balance else None
    bridge.train()
    while step < cfg.steps:
        if cfg.max_seconds > 0 and time.perf_counter() - t0 >= cfg.max_seconds:
            break
        timed = (time.perf_counter() - t0) / cfg.max_seconds if cfg.max_seconds > 0 else 0.0
        for g in opt.param_groups:
            g["lr"] = lr_at(cfg, step, max(timed, step / cfg.steps) if cfg.max_seconds > 0 else None)
        opt.zero_grad(set_to_none=True)
        total = 0.0
        for _ in range(cfg.grad_accum):
            if draw is not None:
                idx = draw(cfg.batch_size)
            else:
                idx = (torch.randperm(n, generator=gen)[: cfg.batch_size] if n >= cfg.batch_size
                       else torch.randint(n, (cfg.batch_size,), generator=gen)).tolist()
            batch = collate(specs, [rows[i] for i in idx], dev)
            with torch.autocast("cuda", dtype=torch.bfloat16, enabled=use_amp), \
                    bridge.conditioned(decoder.layers, batch) as (soft, soft_mask):
                loss = decoder.forward_with_soft_tokens(soft, soft_mask, [prompts[i] for i in idx],
                                                        [answers[i] for i in idx])
            (loss / cfg.grad_accum).backward()
            total += float(loss.detach()) / cfg.grad_accum
        if not np.isfinite(total):
            raise AdapterError(f"training diverged at step {step + 1} (loss {total}); lower the learning rate "
                               f"(now {cfg.lr})")
        opt.step()
        step += 1
        losses.append(total)
        if step % cfg.checkpoint_every == 0 or step == cfg.steps or (
                cfg.max_seconds > 0 and time.perf_counter() - t0 >= cfg.max_seconds):
            save_checkpoint()
        if progress is not None:
            progress(step, cfg.steps, total)
    if step != saved_at:  # the time ran out between two checks: the checkpoint matches the adapter
        save_checkpoint()
    seconds = time.perf_counter() - t0
    bridge.eval()
    bridge.lora_rank = cfg.lora_rank
    bridge.lora_state = decoder.lora_state() if cfg.lora_rank else None
    meta = {"decoder": {"name": decoder.name, "d_model": decoder.d_model}, "train_config": cfg.to_dict(),
            "steps": step, "final_loss": losses[-1] if losses else None, "n_examples": n}
    adapter_path = save_adapter(out / ADAPTER_NAME, bridge, specs, meta)
    ran = step - start_step
    return TrainResult(steps=step, losses=losses, seconds=seconds, peak_rss_mb=_peak_rss_mb(),
                       steps_per_s=ran / seconds if ran and seconds > 0 else 0.0,
                       peak_cuda_mb=torch.cuda.max_memory_allocated(dev) / 2**20 if use_amp else None,
                       start_step=start_step, adapter_path=adapter_path, bridge=bridge)
