"""CLIP image embeddings of a window's keyframes (open_clip), and the matching text tower for questions.

Each window's keyframes (at most ``max_frames`` of them, evenly spread) are embedded with the image
tower; the window's ``emb_clip`` is the L2-normalized mean of the normalized frame embeddings.
Questions are embedded with the extractor's ``embed_query`` (same model, same space).

Where the weights come from (first match wins; nothing is downloaded):

1. ``checkpoint`` option / ``$VQA_CLIP_CHECKPOINT``: a weights file (``.safetensors``, ``.bin``,
   ``.pt``) for the architecture ``model``, or a folder laid out like a Hugging Face open_clip repo
   (``open_clip_config.json`` + ``open_clip_model.safetensors`` or ``open_clip_pytorch_model.bin``).
2. ``hf_repo`` option / ``$VQA_CLIP_HF_REPO``: that repo's snapshot in the Hugging Face cache.
3. the Hugging Face cache entry of the open_clip tag ``pretrained`` for ``model`` (e.g.
   ``laion/CLIP-ViT-B-32-laion2B-s34B-b79K`` for ``ViT-B-32`` / ``laion2b_s34b_b79k``).

Options (environment variable, default):

- ``model`` (``$VQA_CLIP_MODEL``, ``ViT-B-32``): open_clip architecture.
- ``pretrained`` (``$VQA_CLIP_PRETRAINED``, ``laion2b_s34b_b79k``): open_clip pretrained tag.
- ``device`` (``$VQA_DEVICE``, ``auto``), ``precision`` (``$VQA_CLIP_PRECISION``, ``auto`` = fp16 on a
  GPU, fp32 on the CPU), ``batch_size`` (``$VQA_CLIP_BATCH_SIZE``, 64 frames), ``max_frames`` (4 per window).

Install: ``pip install -e .[clip]``.
"""

from __future__ import annotations

import functools
import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from vqa_pipeline.extractors.base import ExtractorOutput
from vqa_pipeline.extractors.full.common import (
    FullExtractor,
    WeightsNotFound,
    WeightsSource,
    batches,
    cached,
    explicit_path,
    hf_hub_cache_dir,
    hf_snapshot,
    option,
    torch_device,
    torch_dtype,
    window_keyframes,
)
from vqa_pipeline.extractors.models import package_dir
from vqa_pipeline.media.types import DecodedMedia
from vqa_pipeline.vectors import l2_normalize

DEFAULT_MODEL = "ViT-B-32"
DEFAULT_PRETRAINED = "laion2b_s34b_b79k"
DEFAULT_DIM = 512
WEIGHT_NAMES = (
    "open_clip_model.safetensors",
    "open_clip_pytorch_model.safetensors",
    "open_clip_pytorch_model.bin",
    "open_clip_pytorch_model.pth",
)
ENV_CHECKPOINT = "VQA_CLIP_CHECKPOINT"
ENV_HF_REPO = "VQA_CLIP_HF_REPO"
ENV_MODEL = "VQA_CLIP_MODEL"
ENV_PRETRAINED = "VQA_CLIP_PRETRAINED"


@dataclass(frozen=True, slots=True)
class ClipSpec:
    """What to load: architecture, where its weights are, and how to run it."""

    model: str
    tag: str  # the pretrained tag, or the checkpoint's file/folder name
    source: WeightsSource
    device: str | None = None
    precision: str | None = None


def _spec_options(options: Mapping[str, Any]) -> tuple[str, str]:
    return (
        str(option(dict(options), "model", ENV_MODEL, DEFAULT_MODEL)),
        str(option(dict(options), "pretrained", ENV_PRETRAINED, DEFAULT_PRETRAINED)),
    )


def _weights_in(folder: Path) -> Path | None:
    return next((folder / n for n in WEIGHT_NAMES if (folder / n).is_file()), None)


def _any_open_clip_weights_cached() -> bool:
    """Cheap pre-check before importing open_clip to map a tag to its repo."""
    root = hf_hub_cache_dir()
    if not root.is_dir():
        return False
    return any(any(root.glob(f"models--*/snapshots/*/{n}")) for n in WEIGHT_NAMES)


def locate_weights(options: Mapping[str, Any]) -> ClipSpec:
    """Find the weights for ``options`` (see the module docstring for the order).

    Raises:
        WeightsNotFound: with where to put them.
    """
    opts = dict(options)
    model, pretrained = _spec_options(opts)
    device, precision = opts.get("device"), option(opts, "precision", "VQA_CLIP_PRECISION")
    src = explicit_path(opts, "checkpoint", ENV_CHECKPOINT)
    if src is not None:
        if src.path.is_dir() and (not (src.path / "open_clip_config.json").is_file() or _weights_in(src.path) is None):
            raise WeightsNotFound(
                f"{src.origin}: folder {src.path} needs open_clip_config.json and one of {', '.join(WEIGHT_NAMES)}"
            )
        return ClipSpec(model, src.path.stem if src.path.is_file() else src.path.name, src, device, precision)
    repo = option(opts, "hf_repo", ENV_HF_REPO)
    if repo is None:
        hint = (
            f"set {ENV_CHECKPOINT} (a weights file or an open_clip folder) or put {model} "
            f"({pretrained}) in the Hugging Face cache ({hf_hub_cache_dir()})"
        )
        if not _any_open_clip_weights_cached():
            raise WeightsNotFound(hint)
        repo = _tag_repo(model, pretrained)
        if repo is None:
            raise WeightsNotFound(f"open_clip has no Hugging Face repo for {model} / {pretrained}; {hint}")
    snap = hf_snapshot(str(repo))
    weights = _weights_in(snap) if snap else None
    if weights is None:
        raise WeightsNotFound(
            f"{repo} is not in the Hugging Face cache ({hf_hub_cache_dir()}); set {ENV_CHECKPOINT} or download it"
        )
    assert snap is not None  # weights were found in it
    path = snap if (snap / "open_clip_config.json").is_file() else weights
    return ClipSpec(model, pretrained, WeightsSource(path, f"HF cache {repo}"), device, precision)


@functools.lru_cache(maxsize=32)
def _tag_repo(model: str, pretrained: str) -> str | None:
    """The Hugging Face repo id of an open_clip pretrained tag (imports open_clip)."""
    from open_clip.pretrained import get_pretrained_cfg

    cfg = get_pretrained_cfg(model, pretrained) or {}
    hub = (cfg.get("hf_hub") or "").strip("/")
    if not hub:
        return None
    parts = hub.split("/")
    return "/".join(parts[:2])


def embedding_dim(spec_or_model: ClipSpec | str) -> int:
    """Embedding size of a model, read from its config file (no import when the config is a file)."""
    if isinstance(spec_or_model, ClipSpec) and spec_or_model.source.path.is_dir():
        cfg = json.loads((spec_or_model.source.path / "open_clip_config.json").read_text())
        return int(cfg.get("model_cfg", cfg)["embed_dim"])
    model = spec_or_model.model if isinstance(spec_or_model, ClipSpec) else spec_or_model
    try:
        f = package_dir("open_clip") / "model_configs" / f"{model}.json"
        return int(json.loads(f.read_text())["embed_dim"])
    except (RuntimeError, OSError, KeyError, ValueError):
        return DEFAULT_DIM


class ClipModel:
    """A loaded open_clip model: image tower, text tower, preprocessing, on one device."""

    def __init__(self, spec: ClipSpec) -> None:
        import open_clip
        import torch

        self.spec = spec
        self.device = torch_device(spec.device, f"open_clip {spec.model}")
        self.dtype = torch_dtype(spec.precision, self.device, default_gpu="fp16")
        path = spec.source.path
        if path.is_dir():
            name = f"local-dir:{path}"
            model, _, preprocess = open_clip.create_model_and_transforms(name, device="cpu")
            tokenizer = open_clip.get_tokenizer(name)
        else:
            model, _, preprocess = open_clip.create_model_and_transforms(spec.model, pretrained=str(path), device="cpu")
            tokenizer = open_clip.get_tokenizer(spec.model)
        self.model = model.to(self.device, self.dtype).eval()
        self.preprocess = preprocess
        self.tokenizer = tokenizer
        self.dim = embedding_dim(spec)
        self._torch = torch

    def embed_images(self, images: Sequence, batch_size: int = 64) -> np.ndarray:
        """``(n, D)`` L2-normalized embeddings of PIL images."""
        torch = self._torch
        out = []
        with torch.inference_mode():
            for chunk in batches(list(images), batch_size):
                x = torch.stack([self.preprocess(im) for im in chunk]).to(self.device, self.dtype)
                out.append(self.model.encode_image(x).float().cpu().numpy())
        return l2_normalize(np.concatenate(out)) if out else np.zeros((0, self.dim), np.float32)

    def embed_text(self, texts: Sequence[str], batch_size: int = 256) -> np.ndarray:
        """``(n, D)`` L2-normalized text embeddings (questions, labels)."""
        torch = self._torch
        texts = [str(t) if t else " " for t in texts]
        out = []
        with torch.inference_mode():
            for chunk in batches(texts, batch_size):
                ids = self.tokenizer(list(chunk)).to(self.device)
                out.append(self.model.encode_text(ids).float().cpu().numpy())
        return l2_normalize(np.concatenate(out)) if out else np.zeros((0, self.dim), np.float32)


def load_clip(spec: ClipSpec) -> ClipModel:
    """The model for ``spec``, loaded once per process."""
    key = ("open_clip", spec.model, str(spec.source.path), spec.device, spec.precision)
    return cached(key, lambda: ClipModel(spec))


class OpenClip(FullExtractor):
    """open_clip image embeddings of keyframes; registry name ``clip-vit-b32`` (any open_clip model works)."""

    name = "clip-vit-b32"
    group = "clip"
    kind = "visual"
    modality = "video"
    model_id = "open_clip-ViT-B-32-laion2b_s34b_b79k"
    version = "1"
    num_gpus = 0.25
    query_columns = ("emb_clip",)
    extra = "clip"
    extra_modules = ("torch", "torchvision", "open_clip")

    def __init__(self, **options) -> None:
        super().__init__(**options)
        model, pretrained = _spec_options(options)
        ckpt = option(options, "checkpoint", ENV_CHECKPOINT)
        if ckpt and Path(str(ckpt)).expanduser().is_dir():  # an open_clip folder names its own architecture
            self.model_id = f"open_clip-{Path(str(ckpt)).name}"
        else:
            self.model_id = f"open_clip-{model}-{Path(str(ckpt)).name if ckpt else pretrained}"

    def find_weights(self) -> ClipSpec:
        return locate_weights(self.options)

    def load_model(self, spec: ClipSpec) -> ClipModel:
        return load_clip(spec)

    def dim(self) -> int:
        try:
            return embedding_dim(self.spec())
        except WeightsNotFound:
            return embedding_dim(_spec_options(self.options)[0])

    def fields(self) -> list[pa.Field]:
        return [pa.field("emb_clip", pa.list_(pa.float32(), self.dim()), nullable=True)]

    def extract(self, media: DecodedMedia, upstream: Mapping[str, ExtractorOutput]) -> ExtractorOutput:
        n = len(media.windows)
        if not media.keyframes:
            return ExtractorOutput.empty(n, ["emb_clip"], note="no video track" if not media.info.has_video else "no keyframes")
        self.load()
        from PIL import Image

        t0 = time.perf_counter()
        max_frames = max(1, int(self.opt("max_frames", None, 4)))
        batch = int(self.opt("batch_size", "VQA_CLIP_BATCH_SIZE", 64))
        owners: list[int] = []
        images = []
        notes: list[str] = []
        for w, frames in enumerate(window_keyframes(media)):
            if len(frames) > max_frames:
                idx = np.linspace(0, len(frames) - 1, max_frames).round().astype(int)
                frames = [frames[i] for i in idx]
            for kf in frames:
                try:
                    images.append(Image.fromarray(kf.rgb()))
                except Exception as err:  # a corrupt keyframe must not sink the file
                    notes.append(f"keyframe at {kf.t_s:.2f}s could not be decoded: {err}")
                    continue
                owners.append(w)
        emb = self._model.embed_images(images, batch)
        col: list[list[float] | None] = [None] * n
        owners_arr = np.asarray(owners, dtype=np.int64)
        for w in sorted(set(owners)):
            col[w] = l2_normalize(emb[owners_arr == w].mean(axis=0)).tolist()
        dt = time.perf_counter() - t0
        stats = {
            "frames": len(images),
            "windows_embedded": sum(v is not None for v in col),
            "seconds": round(dt, 3),
            "seconds_per_frame": round(dt / max(len(images), 1), 4),
        }
        return ExtractorOutput(lines=[[] for _ in range(n)], columns={"emb_clip": col}, notes=notes, stats=stats)
