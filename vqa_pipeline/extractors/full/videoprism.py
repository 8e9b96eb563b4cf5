"""VideoPrism: a global video embedding per window, and concept tags from its spatio-temporal tokens.

Two extractors share one loaded video-text (LvT) model:

- ``videoprism-lvt`` (group ``videoprism``): ``emb_videoprism``, the model's L2-normalized video
  embedding of each window, searched with the text tower (``embed_query``: the prompt template, then
  the text encoder).
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

import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pyarrow as pa

from vqa_pipeline.extractors.base import EvidenceLine, ExtractorOutput
from vqa_pipeline.extractors.full import concepts
from vqa_pipeline.extractors.full.common import (
    FullExtractor,
    WeightsNotFound,
    WeightsSource,
    batches,
    nearest_frames,
    option,
    sample_times,
    window_keyframes,
)
from vqa_pipeline.extractors.full.videoprism_model import (  # noqa: F401 - the model's public names, re-exported
    DEFAULT_MODEL,
    ENV_BACKEND,
    ENV_CHECKPOINT,
    ENV_MODEL,
    ENV_TOKENIZER,
    PROMPT_TEMPLATE,
    VideoPrismJax,
    VideoPrismSpec,
    VideoPrismTorch,
    _size_of,
    canonicalize_text,
    embedding_dim,
    load_videoprism,
    locate_weights,
)
from vqa_pipeline.extractors.models import module_available
from vqa_pipeline.media.types import DecodedMedia, Keyframe, Window

# --------------------------------------------------------------------------------------------
# frames


def _resized(kf: Keyframe, size: int, memo: dict[int, np.ndarray]) -> np.ndarray:
    key = id(kf)
    if key not in memo:
        from PIL import Image

        im = Image.fromarray(kf.rgb()).resize((size, size), Image.Resampling.BILINEAR)
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

    def find_weights(self) -> VideoPrismSpec:
        return locate_weights(self.options)

    def load_model(self, spec: VideoPrismSpec):
        return load_videoprism(spec)

    def weights_source(self, spec: VideoPrismSpec) -> WeightsSource:
        return WeightsSource(spec.source.path, f"{spec.source.origin}; {spec.backend} backend; tokenizer {spec.tokenizer}")

    def dim(self) -> int:
        try:
            spec = self.spec()
        except WeightsNotFound:
            spec = None
        return embedding_dim(spec, self._size)

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
        assert self._labels is not None and self._label_emb is not None  # set by load()
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
