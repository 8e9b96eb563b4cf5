"""LAION-CLAP audio embeddings per window, and the matching text tower for sound queries.

Each window's audio (16 kHz) is resampled to 48 kHz, quantized to int16 and back (as CLAP was
trained), repeat-padded to CLAP's 10 s input and embedded with the audio tower; ``emb_clap`` is the
L2-normalized 512-d joint embedding. Sound queries ("a dog barking") go through :func:`embed_text`.

The model is built with ``clap_module.create_model`` (the package's own architecture code) and the
checkpoint is loaded into it; ``laion_clap``'s high-level ``CLAP_Module`` is not used, because it
fetches ``roberta-base`` from the hub at start-up. Its RoBERTa text encoder is built from a local
folder instead (``config.json`` plus the tokenizer files; the weights come from the CLAP checkpoint).
Only non-fusion checkpoints are supported (``630k-best.pt``, ``630k-audioset-best.pt``,
``music_audioset_epoch_15_esc_90.14.pt``...); windows are at most 8 s, shorter than CLAP's 10 s.

Where things come from (nothing is downloaded):

- checkpoint: ``checkpoint`` option / ``$VQA_CLAP_CHECKPOINT`` (a ``.pt`` file), else
  ``checkpoint_name`` (``630k-audioset-best.pt``) in the Hugging Face cache of ``lukewys/laion_clap``.
- text encoder: ``text_encoder_dir`` option / ``$VQA_CLAP_TEXT_ENCODER`` (a ``roberta-base`` folder),
  else ``FacebookAI/roberta-base`` (or ``roberta-base``) in the Hugging Face cache.

Options (environment variable, default): ``amodel`` (``$VQA_CLAP_AMODEL``; ``HTSAT-tiny``, or
``HTSAT-base`` for checkpoints named ``music_*``), ``device`` (``$VQA_DEVICE``, ``auto``),
``precision`` (``$VQA_CLAP_PRECISION``, ``auto`` = fp32; fp16/bf16 run under autocast on a GPU),
``batch_size`` (``$VQA_CLAP_BATCH_SIZE``, 16 windows), ``allow_pickle`` (``$VQA_CLAP_ALLOW_PICKLE``, off: see
:func:`load_checkpoint_state`).

Install: ``pip install -e .[clap]`` and ``pip install --no-deps laion_clap==1.1.5`` (its metadata
pulls wandb, webdataset and more; 1.1.6+ pin numpy<2). ``scripts/setup.sh`` does both with ``VQA_SETUP_FULL=1``.

About 380 lines because building CLAP offline (the RoBERTa folder, the safe checkpoint loader) has
to work around ``laion_clap``'s own loader; the extractor itself is the last 60 lines.
"""

from __future__ import annotations

import contextlib
import logging
import sys
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
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
    hf_cached_file,
    hf_hub_cache_dir,
    hf_snapshot,
    option,
    torch_device,
    torch_dtype,
)
from vqa_pipeline.extractors.models import package_dir
from vqa_pipeline.media.types import AUDIO_SAMPLE_RATE, DecodedMedia

log = logging.getLogger(__name__)

DIM = 512
CLAP_SAMPLE_RATE = 48_000
CLIP_SAMPLES = 480_000  # CLAP's input: 10 s at 48 kHz
TEXT_MAX_LENGTH = 77
HF_REPO = "lukewys/laion_clap"
DEFAULT_CHECKPOINT = "630k-audioset-best.pt"
ROBERTA_REPOS = ("FacebookAI/roberta-base", "roberta-base")
ENV_CHECKPOINT = "VQA_CLAP_CHECKPOINT"
ENV_TEXT_ENCODER = "VQA_CLAP_TEXT_ENCODER"
ENV_AMODEL = "VQA_CLAP_AMODEL"
ENV_ALLOW_PICKLE = "VQA_CLAP_ALLOW_PICKLE"
_TOKENIZER_FILES = (("tokenizer.json",), ("vocab.json", "merges.txt"))

_BUILD_LOCK = threading.Lock()


@dataclass(frozen=True, slots=True)
class ClapSpec:
    checkpoint: WeightsSource
    text_encoder: WeightsSource
    amodel: str
    device: str | None = None
    precision: str | None = None
    allow_pickle: bool = False


class UnsafeCheckpoint(RuntimeError):
    """A checkpoint that only a full unpickle (which can run code from the file) could read."""


def _truthy(value: Any) -> bool:
    return str(value).strip().lower() in ("1", "true", "yes", "on")


def _text_dir_ok(folder: Path) -> bool:
    return (folder / "config.json").is_file() and any(all((folder / f).is_file() for f in fs) for fs in _TOKENIZER_FILES)


def locate_text_encoder(options: Mapping[str, Any]) -> WeightsSource:
    src = explicit_path(dict(options), "text_encoder_dir", ENV_TEXT_ENCODER)
    if src is not None:
        if not _text_dir_ok(src.path):
            raise WeightsNotFound(
                f"{src.origin}: {src.path} needs config.json and tokenizer.json (or vocab.json + merges.txt) of roberta-base"
            )
        return src
    for repo in ROBERTA_REPOS:
        snap = hf_snapshot(repo)
        if snap is not None and _text_dir_ok(snap):
            return WeightsSource(snap, f"HF cache {repo}")
    raise WeightsNotFound(
        f"CLAP's text encoder files: set {ENV_TEXT_ENCODER} to a roberta-base folder (config.json + tokenizer "
        f"files) or put FacebookAI/roberta-base in the Hugging Face cache ({hf_hub_cache_dir()})"
    )


def locate_weights(options: Mapping[str, Any]) -> ClapSpec:
    """Checkpoint and text-encoder folder for ``options``.

    Raises:
        WeightsNotFound: with where to put them.
    """
    opts = dict(options)
    ckpt = explicit_path(opts, "checkpoint", ENV_CHECKPOINT)
    if ckpt is None:
        name = str(opts.get("checkpoint_name") or DEFAULT_CHECKPOINT)
        found = hf_cached_file(HF_REPO, [name])
        if found is None:
            raise WeightsNotFound(
                f"set {ENV_CHECKPOINT} to a LAION-CLAP checkpoint (e.g. {DEFAULT_CHECKPOINT}) or put {HF_REPO}/{name} "
                f"in the Hugging Face cache ({hf_hub_cache_dir()})"
            )
        ckpt = WeightsSource(found, f"HF cache {HF_REPO}")
    elif not ckpt.path.is_file():
        raise WeightsNotFound(f"{ckpt.origin}: {ckpt.path} is not a checkpoint file")
    if "fusion" in ckpt.path.name.lower():
        raise WeightsNotFound(f"{ckpt.path.name} is a fusion checkpoint; only non-fusion CLAP checkpoints are supported")
    text = locate_text_encoder(opts)
    default_amodel = "HTSAT-base" if ckpt.path.name.lower().startswith("music") else "HTSAT-tiny"
    amodel = str(option(opts, "amodel", ENV_AMODEL, default_amodel))
    return ClapSpec(ckpt, text, amodel, opts.get("device"), option(opts, "precision", "VQA_CLAP_PRECISION"),
                    _truthy(option(opts, "allow_pickle", ENV_ALLOW_PICKLE, False)))


def clap_module():
    """``laion_clap``'s ``clap_module`` package, imported without ``laion_clap/__init__``.

    ``import laion_clap`` runs its ``hook.py``, which imports training code (wandb, webdataset,
    pandas, ...); the model code lives in the top-level package ``clap_module`` inside it (the
    package itself appends its folder to ``sys.path`` the same way).
    """
    folder = str(package_dir("laion_clap"))
    if folder not in sys.path:
        sys.path.append(folder)
    import clap_module as cm

    return cm


@contextlib.contextmanager
def _roberta_from(folder: Path) -> Iterator[None]:
    """Make ``RobertaModel.from_pretrained('roberta-base')`` inside clap_module build from ``folder``.

    The architecture comes from ``folder/config.json``; its weights are then replaced by the CLAP
    checkpoint's, so no RoBERTa weights need to be present.
    """
    import transformers

    cm_model: Any = sys.modules["clap_module.model"]  # a plain module: its RobertaModel name is swapped below

    class _LocalRoberta:
        @staticmethod
        def from_pretrained(*_args, **_kwargs):
            cfg = transformers.RobertaConfig.from_pretrained(str(folder))
            return transformers.RobertaModel(cfg, add_pooling_layer=True)

    with _BUILD_LOCK:
        original = cm_model.RobertaModel
        cm_model.RobertaModel = _LocalRoberta
        try:
            yield
        finally:
            cm_model.RobertaModel = original


def _numpy_safe_globals() -> list:
    """numpy scalars and dtypes, which released checkpoints pickle next to the weights (data, no code)."""
    core = getattr(np, "_core", None) or np.core
    scalar = core.multiarray.scalar
    dtype_classes = [getattr(np.dtypes, n) for n in dir(np.dtypes) if n.endswith("DType")]
    # numpy 1.x pickles name the scalar constructor numpy.core.multiarray.scalar
    return [np.dtype, *dtype_classes, scalar, (scalar, "numpy.core.multiarray.scalar")]


def _why_unsafe(path: Path, err: Exception) -> str:
    import torch

    try:
        names = torch.serialization.get_unsafe_globals_in_checkpoint(str(path))
    except Exception:  # not a zip checkpoint, or unreadable: say what torch.load said
        names = []
    if names:
        return "it pickles " + ", ".join(names[:3]) + (" ..." if len(names) > 3 else "")
    first = (str(err).strip().splitlines() or [""])[0]
    return f"{type(err).__name__}: {first[:160]}"


def load_checkpoint_state(path: Path, allow_pickle: bool = False) -> dict:
    """A CLAP checkpoint's state dict (``state_dict`` key and DDP ``module.`` prefix handled).

    The file is read with ``torch.load(weights_only=True)``, which runs no code from it; numpy
    scalars and dtypes are allowed through. A file that needs any other Python object is read with
    a full unpickle only when ``allow_pickle`` is set (extractor option ``allow_pickle``, or
    ``VQA_CLAP_ALLOW_PICKLE=1``): do that only for a file whose source you trust.

    Raises:
        UnsafeCheckpoint: the file needs a full unpickle and ``allow_pickle`` is off.
    """
    import torch

    try:
        with torch.serialization.safe_globals(_numpy_safe_globals()):
            ckpt = torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as err:
        if not allow_pickle:
            raise UnsafeCheckpoint(
                f"{path}: not loadable without running code from it ({_why_unsafe(path, err)}); if you trust the file, "
                f"set {ENV_ALLOW_PICKLE}=1 (or the extractor option allow_pickle) to unpickle it in full"
            ) from err
        log.warning("%s: not loadable with weights_only=True (%s); unpickling it in full (allow_pickle is on)", path,
                    type(err).__name__)
        ckpt = torch.load(str(path), map_location="cpu", weights_only=False)
    state = ckpt.get("state_dict", ckpt) if isinstance(ckpt, dict) else ckpt
    if state and next(iter(state)).startswith("module."):
        state = {k[len("module.") :]: v for k, v in state.items()}
    return state


def prepare_audio(audio_16k: np.ndarray) -> np.ndarray | None:
    """CLAP's input for one window: 48 kHz, int16-quantized, repeat-padded to 10 s (``None`` if empty)."""
    from scipy.signal import resample_poly

    x = np.nan_to_num(np.asarray(audio_16k, dtype=np.float32).reshape(-1))
    if x.size == 0:
        return None
    x = resample_poly(x, CLAP_SAMPLE_RATE // AUDIO_SAMPLE_RATE, 1).astype(np.float32)
    x = (np.clip(x, -1.0, 1.0) * 32767.0).astype(np.int16).astype(np.float32) / 32767.0
    if x.size >= CLIP_SAMPLES:
        start = (x.size - CLIP_SAMPLES) // 2
        return x[start : start + CLIP_SAMPLES]
    reps = CLIP_SAMPLES // x.size
    if reps > 1:
        x = np.tile(x, reps)
    return np.pad(x, (0, CLIP_SAMPLES - x.size)).astype(np.float32)


class ClapModel:
    """A loaded LAION-CLAP model (audio + RoBERTa text tower) and its tokenizer."""

    def __init__(self, spec: ClapSpec) -> None:
        import torch
        import transformers

        self.spec = spec
        self.device = torch_device(spec.device, "laion_clap")
        self.autocast_dtype = torch_dtype(spec.precision or "fp32", self.device, default_gpu="fp32")
        cm = clap_module()
        with _roberta_from(spec.text_encoder.path):
            model, cfg = cm.create_model(spec.amodel, "roberta", pretrained="", precision="fp32", device="cpu",
                                         enable_fusion=False)
        state = load_checkpoint_state(spec.checkpoint.path, spec.allow_pickle)
        missing, unexpected = model.load_state_dict(state, strict=False)
        unexpected = [k for k in unexpected if not k.endswith("position_ids")]  # a buffer newer transformers dropped
        if missing or unexpected:
            raise RuntimeError(
                f"{spec.checkpoint.path} does not fit CLAP {spec.amodel}/roberta: "
                f"missing {missing[:5]}{'...' if len(missing) > 5 else ''}, unexpected {unexpected[:5]}"
            )
        self.model = model.to(self.device).eval()
        self.model_cfg = cfg
        self.tokenizer = transformers.AutoTokenizer.from_pretrained(str(spec.text_encoder.path))
        self._torch = torch

    def _autocast(self):
        torch = self._torch
        if self.device.startswith("cuda") and self.autocast_dtype != torch.float32:
            return torch.autocast("cuda", dtype=self.autocast_dtype)
        return contextlib.nullcontext()

    def embed_audio(self, clips: Sequence[np.ndarray], batch_size: int = 16) -> np.ndarray:
        """``(n, 512)`` normalized embeddings of prepared 10 s / 48 kHz clips (see ``prepare_audio``)."""
        torch = self._torch
        out = []
        with torch.inference_mode(), self._autocast():
            for chunk in batches(list(clips), batch_size):
                data = [{"waveform": torch.from_numpy(c), "longer": torch.tensor([False])} for c in chunk]
                out.append(self.model.get_audio_embedding(data).float().cpu().numpy())
        return np.concatenate(out).astype(np.float32) if out else np.zeros((0, DIM), np.float32)

    def embed_text(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        """``(n, 512)`` normalized text embeddings of sound queries."""
        torch = self._torch
        texts = [str(t) if t else " " for t in texts]
        out = []
        with torch.inference_mode(), self._autocast():
            for chunk in batches(texts, batch_size):
                tok = self.tokenizer(list(chunk), padding="max_length", truncation=True, max_length=TEXT_MAX_LENGTH,
                                     return_tensors="pt")
                data = {"input_ids": tok["input_ids"], "attention_mask": tok["attention_mask"]}
                out.append(self.model.get_text_embedding(data).float().cpu().numpy())
        return np.concatenate(out).astype(np.float32) if out else np.zeros((0, DIM), np.float32)


def load_clap(spec: ClapSpec) -> ClapModel:
    key = ("laion_clap", str(spec.checkpoint.path), str(spec.text_encoder.path), spec.amodel, spec.device, spec.precision,
           spec.allow_pickle)
    return cached(key, lambda: ClapModel(spec))


class LaionClap(FullExtractor):
    """LAION-CLAP audio embedding of every window; registry name ``clap-htsat``."""

    name = "clap-htsat"
    group = "clap"
    kind = "audio"
    modality = "audio"
    model_id = "laion-clap-630k-audioset-best"
    version = "1"
    num_gpus = 0.25
    query_columns = ("emb_clap",)
    extra = "clap"
    extra_modules = ("torch", "torchvision", "transformers", "torchlibrosa", "laion_clap")
    extra_hint = " and pip install --no-deps laion_clap==1.1.5"

    def __init__(self, **options) -> None:
        super().__init__(**options)
        ckpt = option(options, "checkpoint", ENV_CHECKPOINT)
        name = Path(str(ckpt)).stem if ckpt else Path(str(options.get("checkpoint_name") or DEFAULT_CHECKPOINT)).stem
        self.model_id = f"laion-clap-{name}"

    def find_weights(self) -> ClapSpec:
        return locate_weights(self.options)

    def load_model(self, spec: ClapSpec) -> ClapModel:
        return load_clap(spec)

    def weights_source(self, spec: ClapSpec) -> WeightsSource:
        return WeightsSource(spec.checkpoint.path, f"{spec.checkpoint.origin}; text encoder {spec.text_encoder.path} "
                                                   f"from {spec.text_encoder.origin}")

    def fields(self) -> list[pa.Field]:
        return [pa.field("emb_clap", pa.list_(pa.float32(), DIM), nullable=True)]

    def extract(self, media: DecodedMedia, upstream: Mapping[str, ExtractorOutput]) -> ExtractorOutput:
        n = len(media.windows)
        if not media.has_audio:
            return ExtractorOutput.empty(n, ["emb_clap"], note="no audio track")
        self.load()
        t0 = time.perf_counter()
        clips, owners = [], []
        for i, w in enumerate(media.windows):
            clip = prepare_audio(media.window_audio(w))
            if clip is not None:
                clips.append(clip)
                owners.append(i)
        emb = self._model.embed_audio(clips, int(self.opt("batch_size", "VQA_CLAP_BATCH_SIZE", 16)))
        col: list[list[float] | None] = [None] * n
        for i, v in zip(owners, emb):
            col[i] = v.tolist()
        dt = time.perf_counter() - t0
        audio_s = media.audio.size / AUDIO_SAMPLE_RATE
        stats = {"windows_embedded": len(owners), "seconds": round(dt, 3),
                 "seconds_per_audio_second": round(dt / max(audio_s, 1e-6), 4)}
        return ExtractorOutput(lines=[[] for _ in range(n)], columns={"emb_clap": col}, stats=stats)
