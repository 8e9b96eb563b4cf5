"""The VideoPrism video-text (LvT) model itself: finding its weights and tokenizer, and running it
through the PyTorch port in ``transformers`` or the official JAX package.

The extractors in :mod:`vqa_pipeline.extractors.full.videoprism` (global embeddings and concept
tags) share one loaded model from :func:`load_videoprism`; see that module for the options.
"""

from __future__ import annotations

import json
import string
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from vqa_pipeline.extractors.full.common import (
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
)
from vqa_pipeline.vectors import l2_normalize

DEFAULT_MODEL = "google/videoprism-lvt-base-f16r288"
PROMPT_TEMPLATE = "a video of {}."
TEXT_MAX_LENGTH = 64
IMAGE_SIZE = 288
ENV_BACKEND = "VQA_VIDEOPRISM_BACKEND"
ENV_CHECKPOINT = "VQA_VIDEOPRISM_CHECKPOINT"
ENV_MODEL = "VQA_VIDEOPRISM_MODEL"
ENV_TOKENIZER = "VQA_VIDEOPRISM_TOKENIZER"
_WEIGHT_FILES = ("model.safetensors", "model.safetensors.index.json", "pytorch_model.bin")
_SPM_FILES = ("spiece.model", "sentencepiece.model", "tokenizer.model")
# upstream JAX configuration names by the size in the checkpoint/repo name
_JAX_NAMES = {"base": "videoprism_lvt_public_v1_base", "large": "videoprism_lvt_public_v1_large"}
_DIMS = {"base": 768, "large": 1024}


def canonicalize_text(text: str) -> str:
    """Upstream's text canonicalization: punctuation to spaces, lower case, single spaces, final period."""
    p = string.punctuation
    text = str(text).translate(str.maketrans(p, " " * len(p))).lower()
    return " ".join(text.split()) + "."


@dataclass(frozen=True, slots=True)
class VideoPrismSpec:
    backend: str
    source: WeightsSource
    tokenizer: Path  # locate_weights raises when there is none
    size: str  # "base" | "large"
    num_frames: int | None = None
    device: str | None = None
    precision: str | None = None


def _size_of(name: str) -> str:
    return "large" if "large" in name.lower() else "base"


def _find_tokenizer(folder: Path) -> Path | None:
    for name in (*_SPM_FILES, "tokenizer.json"):
        if (folder / name).is_file():
            return folder if name == "tokenizer.json" else folder / name
    return None


def _locate_tokenizer(opts: dict, checkpoint_dir: Path | None) -> Path | None:
    src = explicit_path(opts, "tokenizer", ENV_TOKENIZER)
    if src is not None:
        if src.path.is_dir():
            found = _find_tokenizer(src.path)
            if found is None:
                raise WeightsNotFound(f"{src.origin}: no spiece.model or tokenizer.json in {src.path}")
            return found
        return src.path
    return _find_tokenizer(checkpoint_dir) if checkpoint_dir is not None else None


def locate_weights(options: Mapping[str, Any]) -> VideoPrismSpec:
    """Backend, weights and tokenizer for ``options`` (see the module docstring).

    Raises:
        WeightsNotFound: with where to put them.
    """
    opts = dict(options)
    backend = str(option(opts, "backend", ENV_BACKEND, "transformers")).lower()
    if backend not in ("transformers", "jax"):
        raise ValueError(f"videoprism backend must be transformers or jax, got {backend!r}")
    repo = str(option(opts, "model", ENV_MODEL, DEFAULT_MODEL))
    num_frames = opts.get("num_frames")
    common = dict(num_frames=int(num_frames) if num_frames else None, device=opts.get("device"),
                  precision=option(opts, "precision", "VQA_VIDEOPRISM_PRECISION"))
    src = explicit_path(opts, "checkpoint", ENV_CHECKPOINT)
    hint = (f"set {ENV_CHECKPOINT} or put {repo} in the Hugging Face cache ({hf_hub_cache_dir()}), "
            f"and {ENV_TOKENIZER} to the c4_en SentencePiece model if the checkpoint has no tokenizer")
    if backend == "transformers":
        if src is None:
            snap = hf_snapshot(repo)
            if snap is None:
                raise WeightsNotFound(hint)
            src = WeightsSource(snap, f"HF cache {repo}")
        folder = src.path
        if not folder.is_dir() or not (folder / "config.json").is_file() or not any(
            (folder / f).is_file() for f in _WEIGHT_FILES
        ):
            raise WeightsNotFound(f"{src.origin}: {folder} needs config.json and model.safetensors (save_pretrained layout)")
        cfg = json.loads((folder / "config.json").read_text())
        if cfg.get("model_type") != "videoprism":
            raise WeightsNotFound(
                f"{folder} holds a {cfg.get('model_type')!r} model; a VideoPrism video-text (LvT) checkpoint is needed"
            )
        tok = _locate_tokenizer(opts, folder)
        if tok is None:
            raise WeightsNotFound(f"no text tokenizer in {folder}: set {ENV_TOKENIZER} to the c4_en SentencePiece model")
        size = "large" if cfg.get("vision_config", {}).get("hidden_size", 768) >= 1024 else "base"
        return VideoPrismSpec("transformers", src, tok, size, **common)
    # jax
    snap = None
    if src is None:
        snap = hf_snapshot(repo)
        npz = sorted(snap.glob("*.npz")) if snap else []
        src = WeightsSource(npz[0], f"HF cache {repo}") if npz else None
    if src is None:
        raise WeightsNotFound(hint)
    tok = _locate_tokenizer(opts, src.path.parent if src.path.is_file() else src.path)
    if tok is None:
        raise WeightsNotFound(f"set {ENV_TOKENIZER} to the c4_en SentencePiece model file")
    return VideoPrismSpec("jax", src, tok, _size_of(repo if snap else src.path.name), **common)


def embedding_dim(spec: VideoPrismSpec | None, default_size: str = "base") -> int:
    if spec is None:
        return _DIMS[default_size]
    if spec.backend == "transformers":
        cfg = json.loads((spec.source.path / "config.json").read_text())
        return int(cfg.get("vision_config", {}).get("hidden_size", _DIMS[spec.size]))
    return _DIMS[spec.size]


# --------------------------------------------------------------------------------------------
# tokenizers


class _SpmTokenizer:
    """A SentencePiece model used as upstream does: ids of the canonical text, no BOS/EOS, pad 0."""

    def __init__(self, path: Path) -> None:
        import sentencepiece

        self.sp = sentencepiece.SentencePieceProcessor(model_file=str(path))

    def __call__(self, texts: Sequence[str], max_length: int = TEXT_MAX_LENGTH) -> tuple[np.ndarray, np.ndarray]:
        ids = np.zeros((len(texts), max_length), np.int64)
        mask = np.zeros((len(texts), max_length), np.int64)
        for i, t in enumerate(texts):
            toks = self.sp.encode(t)[:max_length]
            ids[i, : len(toks)] = toks
            mask[i, : len(toks)] = 1
        return ids, mask


class _HfTokenizer:
    def __init__(self, folder: Path) -> None:
        from transformers import AutoTokenizer

        self.tok = AutoTokenizer.from_pretrained(str(folder))

    def __call__(self, texts: Sequence[str], max_length: int = TEXT_MAX_LENGTH) -> tuple[np.ndarray, np.ndarray]:
        enc = self.tok(list(texts), padding="max_length", truncation=True, max_length=max_length, return_tensors="np")
        return enc["input_ids"].astype(np.int64), enc["attention_mask"].astype(np.int64)


def _tokenizer(path: Path):
    return _HfTokenizer(path) if path.is_dir() else _SpmTokenizer(path)


# --------------------------------------------------------------------------------------------
# models


class VideoPrismTorch:
    """``VideoPrismClipModel`` (transformers) on one device: video embeddings, tokens, text embeddings."""

    backend = "transformers"

    def __init__(self, spec: VideoPrismSpec) -> None:
        import torch
        from transformers import VideoPrismClipModel
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
        self.spec = spec
        self.device = torch_device(spec.device, "videoprism")
        self.dtype = torch_dtype(spec.precision, self.device, default_gpu="bf16")
        # Any: transformers types PreTrainedModel.to as an unbound wrapper and its sub-configs as dict | config | None
        model: Any = VideoPrismClipModel.from_pretrained(str(spec.source.path), dtype=self.dtype, local_files_only=True)
        self.model = model.to(self.device).eval()
        vcfg = model.config.vision_config
        self.trained_frames = int(vcfg.num_frames)
        self.num_frames = int(spec.num_frames or self.trained_frames)
        size = vcfg.image_size
        self.image_size = int(size if isinstance(size, int) else size[0])
        t = vcfg.tubelet_size
        self.tokens_per_frame = (self.image_size // int(t[1])) * (self.image_size // int(t[2]))
        self.dim = int(vcfg.hidden_size)
        self.tokenizer = _tokenizer(spec.tokenizer)
        self._torch = torch

    def _pixels(self, clips: np.ndarray):
        """``[B, T, H, W, 3]`` uint8 -> ``[B, T, 3, H, W]`` in [0, 1] on the device."""
        torch = self._torch
        x = torch.from_numpy(np.ascontiguousarray(clips)).to(self.device)
        return x.permute(0, 1, 4, 2, 3).to(self.dtype).div_(255.0)

    @property
    def _interpolate(self) -> bool:
        return self.num_frames != self.trained_frames

    def embed_videos(self, clips: np.ndarray) -> np.ndarray:
        """``(B, D)`` normalized video embeddings of ``[B, T, H, W, 3]`` uint8 clips."""
        with self._torch.inference_mode():
            out = self.model.get_video_features(pixel_values_videos=self._pixels(clips),
                                                interpolate_pos_encoding=self._interpolate)
        return l2_normalize(out.pooler_output.float().reshape(len(clips), -1).cpu().numpy())

    def video_tokens(self, clips: np.ndarray) -> np.ndarray:
        """``(B, T * P, D)`` tokens of the video encoder (frame-major)."""
        with self._torch.inference_mode():
            out = self.model.video_model.vision_model(pixel_values_videos=self._pixels(clips),
                                                      interpolate_pos_encoding=self._interpolate)
        return out.last_hidden_state.float().cpu().numpy()

    def pool_tokens(self, tokens: np.ndarray) -> np.ndarray:
        """The LvT head over any subset of tokens: ``[n, D]`` -> normalized ``[D]`` in the text space."""
        torch = self._torch
        vm = self.model.video_model
        with torch.inference_mode():
            h = torch.from_numpy(np.ascontiguousarray(tokens)).to(self.device, self.dtype)[None]
            for layer in vm.auxiliary_layers:
                h = layer(h)
            pooled = vm.head_layernorm(vm.head(h)[0])
        return l2_normalize(pooled.reshape(-1).float().cpu().numpy())

    def embed_text(self, texts: Sequence[str], template: str | None = PROMPT_TEMPLATE, batch_size: int = 256) -> np.ndarray:
        """``(n, D)`` normalized text embeddings; ``template`` wraps each text (``None``: as is)."""
        torch = self._torch
        texts = [canonicalize_text(template.format(t) if template else t) for t in texts]
        out = []
        with torch.inference_mode():
            for chunk in batches(texts, batch_size):
                ids, mask = self.tokenizer(chunk)
                res = self.model.get_text_features(input_ids=torch.from_numpy(ids).to(self.device),
                                                   attention_mask=torch.from_numpy(mask).to(self.device))
                out.append(res.pooler_output.float().reshape(len(chunk), -1).cpu().numpy())
        return l2_normalize(np.concatenate(out)) if out else np.zeros((0, self.dim), np.float32)


class VideoPrismJax:
    """The official JAX/Flax LvT model (package ``videoprism``); video and text embeddings only."""

    backend = "jax"

    def __init__(self, spec: VideoPrismSpec) -> None:
        import jax
        from videoprism import models as vp
        from videoprism import tokenizers as vp_tokenizers

        name = _JAX_NAMES[spec.size]
        self.spec = spec
        self.model = vp.get_model(name)
        self.state = vp.load_pretrained_weights(name, checkpoint_path=str(spec.source.path))
        self.tokenizer = vp_tokenizers.SentencePieceTokenizer(str(spec.tokenizer))
        self._vp = vp
        self.num_frames = int(spec.num_frames or (8 if spec.size == "large" else 16))
        self.image_size = IMAGE_SIZE
        self.tokens_per_frame = 16 * 16
        self.dim = _DIMS[spec.size]
        model, state = self.model, self.state
        self._video = jax.jit(lambda x: model.apply(state, x, None, None, train=False)[0])
        self._text = jax.jit(lambda ids, pads: model.apply(state, None, ids, pads, train=False)[1])

    def embed_videos(self, clips: np.ndarray) -> np.ndarray:
        x = np.asarray(clips, np.float32) / 255.0
        return l2_normalize(np.asarray(self._video(x)))

    def video_tokens(self, clips: np.ndarray) -> np.ndarray:
        raise RuntimeError("concept tags need the transformers backend of VideoPrism (backend=transformers)")

    def pool_tokens(self, tokens: np.ndarray) -> np.ndarray:
        raise RuntimeError("concept tags need the transformers backend of VideoPrism (backend=transformers)")

    def embed_text(self, texts: Sequence[str], template: str | None = PROMPT_TEMPLATE, batch_size: int = 256) -> np.ndarray:
        texts = [canonicalize_text(template.format(t) if template else t) for t in texts]
        out = []
        for chunk in batches(texts, batch_size):
            ids, pads = self._vp.tokenize_texts(self.tokenizer, list(chunk), max_length=TEXT_MAX_LENGTH)
            out.append(np.asarray(self._text(ids, pads)))
        return l2_normalize(np.concatenate(out)) if out else np.zeros((0, self.dim), np.float32)


def load_videoprism(spec: VideoPrismSpec):
    """The model for ``spec``, loaded once per process (both extractors share it)."""
    key = ("videoprism", spec.backend, str(spec.source.path), str(spec.tokenizer), spec.num_frames, spec.device,
           spec.precision)
    return cached(key, lambda: (VideoPrismTorch if spec.backend == "transformers" else VideoPrismJax)(spec))
