"""VideoPrism: a global video embedding per window, and concept tags from its spatio-temporal tokens.

Two extractors share one loaded video-text (LvT) model:

- ``videoprism-lvt`` (group ``videoprism``): ``emb_videoprism``, the model's L2-normalized video
  embedding of each window, searched with the text tower (:func:`embed_text`).
- ``videoprism-tags`` (group ``vp_tags``, kind ``visual``): the LvT model's video encoder gives
  ``[T * 16 * 16, D]`` tokens per window; the tokens of the frames in each time bin (``bin_s``,
  1 s) are pooled with the model's own pooling head (auxiliary layers + attention pooling), which
  puts the bin in the text space, and scored against a label bank embedded with the prompt
  template ``"a video of {}."`` (see ``concepts.py``). Evidence: ``[12.0-13.0s] dog running; red``.

A window becomes a clip of ``T`` frames (``num_frames``; default the checkpoint's: 16 for base,
8 for large) at 288x288, RGB in [0, 1]: ``T`` evenly spaced times inside the window, each taking the
nearest keyframe, so a window with fewer keyframes repeats them (frame padding). Index with denser
keyframes (``WindowingOptions.keyframe_every_s``) for real motion within a window.

Backends (``backend`` option / ``$VQA_VIDEOPRISM_BACKEND``):

- ``transformers`` (default): the PyTorch port, ``VideoPrismClipModel``. Weights: ``checkpoint``
  option / ``$VQA_VIDEOPRISM_CHECKPOINT`` (a folder with ``config.json`` + ``model.safetensors``, as
  ``save_pretrained`` writes it), else ``model`` (``$VQA_VIDEOPRISM_MODEL``,
  ``google/videoprism-lvt-base-f16r288``) in the Hugging Face cache.
- ``jax``: the official ``videoprism`` package (installed by users from its repository; imported
  lazily, with jax and flax). Weights: ``checkpoint`` (a ``.npz``), else a ``*.npz`` in the cached
  ``model`` repo, else the package's own loader. Concept tags need the ``transformers`` backend.

Text tokenizer: ``tokenizer`` option / ``$VQA_VIDEOPRISM_TOKENIZER``: a local SentencePiece model file
(the ``c4_en`` model; upstream's bucket is private now) or a folder holding ``spiece.model`` /
``tokenizer.json``; else the tokenizer files inside the checkpoint folder. Texts are canonicalized as
upstream does (lower case, punctuation to spaces, a final period) and padded to 64 tokens.

Other options (environment variable, default): ``num_frames``, ``device`` (``$VQA_DEVICE``, ``auto``),
``precision`` (``$VQA_VIDEOPRISM_PRECISION``, ``auto`` = bf16 on a GPU), ``batch_size``
(``$VQA_VIDEOPRISM_BATCH_SIZE``, 8 windows); tags also ``labels`` (extra bank files, or
``$VQA_VP_LABELS``), ``replace_default_labels``, ``bin_s``, ``top_k``, ``min_prob``, ``temperature``, ``min_sim``.

Install: ``pip install -e .[videoprism]`` (transformers backend).
"""

from __future__ import annotations

import json
import string
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from vqa_pipeline.extractors.base import EvidenceLine, ExtractorOutput
from vqa_pipeline.extractors.full import concepts
from vqa_pipeline.extractors.full.common import (
    FullExtractor,
    WeightsNotFound,
    WeightsSource,
    batches,
    cached,
    explicit_path,
    hf_hub_cache_dir,
    hf_snapshot,
    nearest_frames,
    option,
    sample_times,
    torch_device,
    torch_dtype,
    window_keyframes,
)
from vqa_pipeline.extractors.models import module_available
from vqa_pipeline.media.types import DecodedMedia, Keyframe, Window
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
    tokenizer: Path | None
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
        model = VideoPrismClipModel.from_pretrained(str(spec.source.path), dtype=self.dtype, local_files_only=True)
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


def text_encoder(**options):
    """The loaded model whose ``embed_text`` encodes questions for ``emb_videoprism``."""
    return load_videoprism(locate_weights(options))


def embed_text(texts: Sequence[str], template: str | None = PROMPT_TEMPLATE, **options) -> np.ndarray:
    """``(n, D)`` normalized VideoPrism text embeddings in the space of ``emb_videoprism``.

    Each text goes through ``template`` first (``"a video of {}."``; pass ``None`` to use it as is).
    """
    return text_encoder(**options).embed_text(texts, template=template)


# --------------------------------------------------------------------------------------------
# frames


def _resized(kf: Keyframe, size: int, memo: dict[int, np.ndarray]) -> np.ndarray:
    key = id(kf)
    if key not in memo:
        from PIL import Image

        im = Image.fromarray(kf.rgb()).resize((size, size), Image.BILINEAR)
        memo[key] = np.asarray(im, dtype=np.uint8)
    return memo[key]


def window_clip(
    frames: Sequence[Keyframe], window: Window, num_frames: int, size: int, memo: dict[int, np.ndarray] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """``([T, size, size, 3] uint8, [T] media time of each frame)`` for a window with keyframes.

    ``T`` evenly spaced times; each takes the nearest keyframe (repeats pad short windows).
    """
    memo = {} if memo is None else memo
    pick = nearest_frames(frames, sample_times(window, num_frames))
    clip = np.stack([_resized(frames[i], size, memo) for i in pick])
    return clip, np.asarray([frames[i].t_s for i in pick], dtype=np.float64)


def _clips(media: DecodedMedia, model, notes: list[str]) -> list[tuple[int, np.ndarray, np.ndarray]]:
    """``(window index, clip, frame times)`` of every window that has a decodable keyframe."""
    memo: dict[int, np.ndarray] = {}
    out = []
    for w, frames in zip(media.windows, window_keyframes(media)):
        good = []
        for kf in frames:
            try:
                _resized(kf, model.image_size, memo)
                good.append(kf)
            except Exception as err:  # a corrupt keyframe must not sink the file
                notes.append(f"keyframe at {kf.t_s:.2f}s could not be decoded: {err}")
        if good:
            clip, times = window_clip(good, w, model.num_frames, model.image_size, memo)
            out.append((w.index, clip, times))
    return out


# --------------------------------------------------------------------------------------------
# extractors


class _VideoPrismBase(FullExtractor):
    extra = "videoprism"
    extra_modules = ("torch", "transformers", "sentencepiece")
    modality = "video"
    kind = "visual"
    num_gpus = 0.5

    def __init__(self, **options) -> None:
        super().__init__(**options)
        repo = str(option(options, "model", ENV_MODEL, DEFAULT_MODEL))
        ckpt = option(options, "checkpoint", ENV_CHECKPOINT)
        self._size = _size_of(Path(str(ckpt)).name if ckpt else repo)
        self.model_id = f"videoprism-{Path(str(ckpt)).name if ckpt else repo.rsplit('/', 1)[-1]}"
        self._model = None
        self._spec: VideoPrismSpec | None = None

    @property
    def backend(self) -> str:
        return str(self.opt("backend", ENV_BACKEND, "transformers")).lower()

    def availability(self) -> tuple[bool, str]:
        if self.backend == "jax":
            missing = [m for m in ("jax", "flax", "sentencepiece", "videoprism") if not module_available(m)]
            if missing:
                return False, (f"the jax backend needs jax, flax and the videoprism package (installed from its "
                               f"repository) (missing: {', '.join(missing)})")
            try:
                return True, self.locate().describe()
            except WeightsNotFound as err:
                return False, f"weights not found: {err}"
        return super().availability()

    def locate(self) -> WeightsSource:
        self._spec = locate_weights(self.options)
        return WeightsSource(self._spec.source.path,
                             f"{self._spec.source.origin}; {self._spec.backend} backend; tokenizer {self._spec.tokenizer}")

    def spec(self) -> VideoPrismSpec | None:
        if self._spec is None:
            try:
                self._spec = locate_weights(self.options)
            except WeightsNotFound:
                return None
        return self._spec

    def dim(self) -> int:
        return embedding_dim(self.spec(), self._size)

    def load(self) -> None:
        if self._model is None:
            spec = self.spec()
            if spec is None:
                locate_weights(self.options)  # raises with the reason
            self._model = load_videoprism(spec)

    def embed_text(self, texts: Sequence[str], template: str | None = PROMPT_TEMPLATE) -> np.ndarray:
        self.load()
        return self._model.embed_text(texts, template=template)

    def _batch_size(self) -> int:
        return int(self.opt("batch_size", "VQA_VIDEOPRISM_BATCH_SIZE", 8))


class VideoPrismLvt(_VideoPrismBase):
    """VideoPrism LvT video embedding of every window (``emb_videoprism``)."""

    name = "videoprism-lvt"
    group = "videoprism"
    version = "1"
    query_columns = ("emb_videoprism",)

    def embed_query(self, text: str) -> np.ndarray:
        return self.embed_text([text])[0]

    def fields(self) -> list[pa.Field]:
        return [pa.field("emb_videoprism", pa.list_(pa.float32(), self.dim()), nullable=True)]

    def extract(self, media: DecodedMedia, upstream: Mapping[str, ExtractorOutput]) -> ExtractorOutput:
        n = len(media.windows)
        if not media.keyframes:
            return ExtractorOutput.empty(n, ["emb_videoprism"],
                                         note="no video track" if not media.info.has_video else "no keyframes")
        self.load()
        t0 = time.perf_counter()
        notes: list[str] = []
        items = _clips(media, self._model, notes)
        col: list[list[float] | None] = [None] * n
        for chunk in batches(items, self._batch_size()):
            emb = self._model.embed_videos(np.stack([c for _, c, _ in chunk]))
            for (w, _, _), v in zip(chunk, emb):
                col[w] = v.tolist()
        dt = time.perf_counter() - t0
        stats = {"windows_embedded": len(items), "frames_per_window": self._model.num_frames,
                 "seconds": round(dt, 3), "seconds_per_window": round(dt / max(len(items), 1), 4)}
        return ExtractorOutput(lines=[[] for _ in range(n)], columns={"emb_videoprism": col}, notes=notes, stats=stats)


TAG_TYPE = pa.struct([("start_s", pa.float64()), ("end_s", pa.float64()), ("label", pa.string()),
                      ("category", pa.string()), ("score", pa.float32())])


class VideoPrismTags(_VideoPrismBase):
    """Concept tags per time bin from VideoPrism tokens scored against a label bank (``vp_tags``)."""

    name = "videoprism-tags"
    group = "vp_tags"
    version = "1"
    num_gpus = 0.25

    def __init__(self, **options) -> None:
        super().__init__(**options)
        self.tagging = concepts.TaggingOptions(
            bin_s=float(options.get("bin_s", 1.0)),
            top_k=int(options.get("top_k", 3)),
            min_prob=float(options.get("min_prob", 0.15)),
            temperature=float(options.get("temperature", 0.01)),
            min_sim=float(options.get("min_sim", 0.05)),
        )
        self._labels: list[concepts.Label] | None = None
        self._label_emb: np.ndarray | None = None

    def fields(self) -> list[pa.Field]:
        return [pa.field("vp_tags", pa.list_(TAG_TYPE), nullable=True)]

    def availability(self) -> tuple[bool, str]:
        if self.backend == "jax":
            return False, "concept tags need the transformers backend of VideoPrism (set backend=transformers)"
        return super().availability()

    def load(self) -> None:
        super().load()
        if self._label_emb is None:
            self._labels = concepts.load_label_bank(self.options.get("labels"),
                                                    bool(self.options.get("replace_default_labels", False)))
            self._label_emb = self._model.embed_text([lab.text for lab in self._labels])

    def extract(self, media: DecodedMedia, upstream: Mapping[str, ExtractorOutput]) -> ExtractorOutput:
        n = len(media.windows)
        if not media.keyframes:
            return ExtractorOutput.empty(n, ["vp_tags"],
                                         note="no video track" if not media.info.has_video else "no keyframes")
        self.load()
        t0 = time.perf_counter()
        notes: list[str] = []
        items = _clips(media, self._model, notes)
        lines: list[list[EvidenceLine]] = [[] for _ in range(n)]
        col: list[list[dict] | None] = [None] * n
        n_tags = 0
        for chunk in batches(items, self._batch_size()):
            tokens = self._model.video_tokens(np.stack([c for _, c, _ in chunk]))
            for (w, _, times), tok in zip(chunk, tokens):
                win = media.windows[w]
                bins = concepts.time_bins(win.start_s, win.end_s, self.tagging.bin_s)
                vecs = concepts.pool_bins(tok, self._model.tokens_per_frame, times, bins, self._model.pool_tokens)
                tags = concepts.tag_bins(vecs, bins, self._labels, self._label_emb, self.tagging)
                n_tags += len(tags)
                col[w] = [{"start_s": t.start_s, "end_s": t.end_s, "label": t.label, "category": t.category,
                           "score": t.score} for t in tags]
                lines[w] = [EvidenceLine(s, e, self.kind, text) for s, e, text in concepts.tag_lines(tags)]
        dt = time.perf_counter() - t0
        stats = {"windows_tagged": len(items), "tags": n_tags, "labels": len(self._labels or ()),
                 "seconds": round(dt, 3), "seconds_per_window": round(dt / max(len(items), 1), 4)}
        return ExtractorOutput(lines=lines, columns={"vp_tags": col}, notes=notes, stats=stats)
