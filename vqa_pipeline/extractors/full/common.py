"""What the full-profile extractors share: finding weights, picking a device and precision, caching.

Nothing here downloads anything. Weights come from

- an explicit path (an extractor option, or the model's ``VQA_*`` environment variable), or
- the Hugging Face cache (``$HF_HUB_CACHE``, else ``$HF_HOME/hub``, else ``~/.cache/huggingface/hub``),
  looked up with ``huggingface_hub``'s offline functions (``snapshot_download(local_files_only=True)``,
  ``try_to_load_from_cache``); they read files and never reach the network.

Functions that only look at files (``hf_snapshot``, ``hf_cached_file``, ``require_modules``) never
import torch; ``torch_device``/``torch_dtype`` do, and run only inside ``load()``.

Shared environment variables:

- ``VQA_DEVICE``: ``auto`` (default: CUDA when visible, else CPU), ``cpu``, ``cuda``, ``cuda:1``.
"""

from __future__ import annotations

import logging
import os
import threading
from abc import abstractmethod
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TypeVar

import numpy as np

from vqa_pipeline.extractors.base import Extractor
from vqa_pipeline.extractors.models import module_available
from vqa_pipeline.media.types import DecodedMedia, Keyframe, Window

log = logging.getLogger(__name__)

Precision = Literal["auto", "fp32", "fp16", "bf16"]
ENV_DEVICE = "VQA_DEVICE"

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class WeightsSource:
    """Where a model's weights were found.

    Attributes:
        path: the file or folder to load.
        origin: how it was found, e.g. ``"VQA_CLIP_CHECKPOINT"``, ``"option checkpoint"``,
            ``"HF cache laion/CLIP-ViT-B-32-laion2B-s34B-b79K"``.
    """

    path: Path
    origin: str

    def describe(self) -> str:
        return f"weights: {self.path} (from {self.origin})"


class WeightsNotFound(RuntimeError):
    """No weights in any place we look; ``str(err)`` says where to put them."""


# --------------------------------------------------------------------------------------------
# options and environment


def option(options: dict, key: str, env: str | None = None, default: Any = None) -> Any:
    """An extractor option, else the environment variable ``env``, else ``default``."""
    value = options.get(key)
    if value is None and env:
        value = os.environ.get(env) or None
    return default if value is None else value


def explicit_path(options: dict, key: str, env: str) -> WeightsSource | None:
    """The path given by option ``key`` or environment variable ``env`` (``None`` if neither is set).

    Raises:
        WeightsNotFound: a path is set but does not exist.
    """
    if options.get(key):
        raw, origin = options[key], f"option {key}"
    elif os.environ.get(env):
        raw, origin = os.environ[env], env
    else:
        return None
    path = Path(str(raw)).expanduser()
    if not path.exists():
        raise WeightsNotFound(f"{origin} points to {path}, which does not exist")
    return WeightsSource(path, origin)


def require_modules(extra: str, modules: Sequence[str], hint: str = "") -> tuple[bool, str]:
    """Whether every module of an extra is importable, checked without importing any of them."""
    missing = [m for m in modules if not module_available(m)]
    if missing:
        return False, (
            f"install the {extra} extra: pip install -e .[{extra}]{hint} (missing: {', '.join(missing)})"
        )
    return True, "ok"


# --------------------------------------------------------------------------------------------
# Hugging Face cache (huggingface_hub's cache readers, local files only; imported lazily)


def hf_hub_cache_dir() -> Path:
    env = os.environ.get("HF_HUB_CACHE") or os.environ.get("HUGGINGFACE_HUB_CACHE")
    if env:
        return Path(env).expanduser()
    home = os.environ.get("HF_HOME")
    if home:
        return Path(home).expanduser() / "hub"
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "huggingface" / "hub"


def hf_snapshot(repo_id: str, cache_dir: Path | None = None) -> Path | None:
    """The cached snapshot folder of a model repo: the ``main`` revision, else the newest one.

    ``main`` is resolved by ``huggingface_hub.snapshot_download(local_files_only=True)``. A repo
    fetched only by commit hash has no ``refs/main``: then the most recently written snapshot folder
    is taken (``huggingface_hub`` has no offline "any revision" lookup).
    """
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    cache = cache_dir or hf_hub_cache_dir()
    repo_id = repo_id.strip("/")
    try:
        return Path(snapshot_download(repo_id, cache_dir=cache, local_files_only=True))
    except (LocalEntryNotFoundError, FileNotFoundError):
        pass
    snaps = cache / ("models--" + repo_id.replace("/", "--")) / "snapshots"
    dirs = [d for d in snaps.iterdir() if d.is_dir()] if snaps.is_dir() else []
    return max(dirs, key=lambda d: d.stat().st_mtime) if dirs else None


def hf_cached_file(repo_id: str, names: Sequence[str], cache_dir: Path | None = None) -> Path | None:
    """The first of ``names`` present in the cached snapshot of ``repo_id`` (``None`` if none is).

    ``huggingface_hub.try_to_load_from_cache`` looks in the snapshot :func:`hf_snapshot` picked;
    a dangling blob link (a partial download) counts as absent.
    """
    from huggingface_hub import try_to_load_from_cache

    snap = hf_snapshot(repo_id, cache_dir)
    if snap is None:
        return None
    cache = cache_dir or hf_hub_cache_dir()
    for name in names:
        found = try_to_load_from_cache(repo_id.strip("/"), name, cache_dir=cache, revision=snap.name)
        if isinstance(found, str):
            return Path(found)
    return None


# --------------------------------------------------------------------------------------------
# device, precision, batching (torch imported lazily)


def torch_device(requested: str | None, name: str, wants_gpu: bool = True) -> str:
    """Resolve ``auto``/``None`` to ``cuda`` when a GPU is visible, else ``cpu`` (with a warning)."""
    import torch

    req = (requested or os.environ.get(ENV_DEVICE) or "auto").strip().lower()
    if req == "auto":
        if torch.cuda.is_available():
            return "cuda"
        if wants_gpu:
            log.warning("%s: no CUDA device visible; running on the CPU (much slower)", name)
        return "cpu"
    if req.startswith("cuda") and not torch.cuda.is_available():
        log.warning("%s: device %s requested but no CUDA device is visible; running on the CPU", name, req)
        return "cpu"
    return req


def torch_dtype(precision: str | None, device: str, default_gpu: str = "bf16"):
    """The torch dtype for ``precision`` on ``device``: half precisions only on a GPU.

    ``auto`` means ``default_gpu`` on CUDA and fp32 on the CPU; fp16/bf16 asked for on the CPU fall
    back to fp32 (CPU half kernels are slow or missing).
    """
    import torch

    p = (precision or "auto").lower()
    on_gpu = device.startswith("cuda")
    if p == "auto":
        p = default_gpu if on_gpu else "fp32"
    if p not in ("fp32", "fp16", "bf16"):
        raise ValueError(f"precision must be auto, fp32, fp16 or bf16, got {precision!r}")
    if p != "fp32" and not on_gpu:
        log.info("precision %s requested on the CPU; using fp32", p)
        p = "fp32"
    if p == "bf16" and on_gpu and not torch.cuda.is_bf16_supported():
        p = "fp16"
    return {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}[p]


def batches(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    size = max(1, int(size))
    for i in range(0, len(items), size):
        yield items[i : i + size]


# --------------------------------------------------------------------------------------------
# process-wide model cache (one load per process or Ray actor)

_CACHE: dict[tuple, Any] = {}
_LOCKS: dict[tuple, threading.Lock] = {}
_CACHE_LOCK = threading.Lock()


def cached(key: tuple, factory: Callable[[], T]) -> T:
    """``factory()`` once per ``key`` per process; concurrent callers of one key wait for it."""
    with _CACHE_LOCK:
        if key in _CACHE:
            return _CACHE[key]
        lock = _LOCKS.setdefault(key, threading.Lock())
    with lock:
        if key not in _CACHE:
            value = factory()
            with _CACHE_LOCK:
                _CACHE[key] = value
        return _CACHE[key]


def clear_cache() -> None:
    """Forget every loaded model (tests)."""
    with _CACHE_LOCK:
        _CACHE.clear()
        _LOCKS.clear()


# --------------------------------------------------------------------------------------------
# frames of a window


def window_keyframes(media: DecodedMedia) -> list[list[Keyframe]]:
    """Keyframes of each window, in time order."""
    out: list[list[Keyframe]] = [[] for _ in media.windows]
    base = media.windows[0].index if media.windows else 0  # a segment's windows do not start at 0
    for kf in sorted(media.keyframes, key=lambda k: k.t_s):
        if 0 <= kf.window_index - base < len(out):
            out[kf.window_index - base].append(kf)
    return out


def sample_times(window: Window, n: int) -> np.ndarray:
    """``n`` evenly spaced times inside a window (centres of ``n`` equal slices)."""
    length = max(window.end_s - window.start_s, 1e-6)
    return window.start_s + (np.arange(n) + 0.5) * (length / n)


def nearest_frames(frames: Sequence[Keyframe], times: np.ndarray) -> list[int]:
    """For each time, the index of the nearest keyframe (repeats pad a window with few keyframes)."""
    ts = np.asarray([k.t_s for k in frames], dtype=np.float64)
    return [int(np.argmin(np.abs(ts - t))) for t in times]


# --------------------------------------------------------------------------------------------
# the shared shape of a full-profile extractor


class FullExtractor(Extractor):
    """An extractor whose library is an optional extra and whose weights the user provides.

    Subclasses set ``extra`` / ``extra_modules`` (checked without importing them) and implement
    :meth:`find_weights` (where the weights are: cheap, no loading) and :meth:`load_model` (the
    loaded model, cached per process). The base class keeps one spec and one model per instance:
    ``availability`` reports ``(True, "weights: PATH (from ORIGIN)")`` or why not, ``load`` loads
    once, and ``embed_text`` / ``embed_query`` run the model's text tower (the question encoder of
    ``query_columns``).
    """

    extra: str = ""
    extra_modules: tuple[str, ...] = ()
    extra_hint: str = ""

    def __init__(self, **options) -> None:
        super().__init__(**options)
        self._spec: Any = None
        self._model: Any = None

    @abstractmethod
    def find_weights(self) -> Any:
        """The model's spec (where its weights are; no loading), or ``WeightsNotFound`` saying where to put them."""

    @abstractmethod
    def load_model(self, spec: Any) -> Any:
        """The loaded model for ``spec`` (cached per process, e.g. with :func:`cached`)."""

    def weights_source(self, spec: Any) -> WeightsSource:
        """How :meth:`availability` describes ``spec`` (default: its ``source``)."""
        return spec.source

    def spec(self) -> Any:
        if self._spec is None:
            self._spec = self.find_weights()
        return self._spec

    def locate(self) -> WeightsSource:
        """Where the weights are (cheap: no loading), or ``WeightsNotFound`` saying where to put them."""
        return self.weights_source(self.spec())

    def availability(self) -> tuple[bool, str]:
        ok, why = require_modules(self.extra, self.extra_modules, self.extra_hint)
        if not ok:
            return False, why
        try:
            source = self.locate()
        except WeightsNotFound as err:
            return False, f"weights not found: {err}"
        return True, source.describe()

    def load(self) -> None:
        if self._model is None:
            self._model = self.load_model(self.spec())

    def embed_text(self, texts: Sequence[str]) -> np.ndarray:
        """``(n, D)`` L2-normalized text embeddings in the space of the extractor's vectors."""
        self.load()
        return self._model.embed_text(texts)

    def embed_query(self, text: str) -> np.ndarray:
        return self.embed_text([text])[0]

    def opt(self, key: str, env: str | None = None, default: Any = None) -> Any:
        return option(self.options, key, env, default)
