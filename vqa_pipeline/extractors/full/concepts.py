"""Concept tags from spatio-temporal tokens: a label bank, time bins, and zero-shot scoring (numpy only).

A video encoder such as VideoPrism returns ``[T * P, D]`` tokens for a clip of ``T`` frames with
``P`` patches per frame (``P = 16 * 16`` at 288x288), ordered frame by frame: token ``i`` belongs to
frame ``i // P``. Frames are grouped into time bins (by the media time of each frame), each bin's
tokens are pooled into one vector (mean, or the model's own pooling head), and that vector is scored
against the text embeddings of a label bank. A bin's evidence is its best labels joined by ``"; "``:
``[12.0-13.0s] dog running; red frisbee``.

The label bank is a text file, one label per line, ``# comments``, and ``[section]`` headers that
name the category of the labels below them (``objects``, ``actions``, ``attributes``, ``scenes``).
The default bank ships as ``data/concept_labels.txt``; more files can be added (or replace it).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

DEFAULT_LABELS = Path(__file__).with_name("data") / "concept_labels.txt"
ENV_LABELS = "VQA_VP_LABELS"


@dataclass(frozen=True, slots=True)
class Label:
    text: str
    category: str


@dataclass(frozen=True, slots=True)
class ConceptTag:
    """One label scored in one time bin; ``score`` is its softmax probability over the bank."""

    start_s: float
    end_s: float
    label: str
    category: str
    score: float


@dataclass(frozen=True, slots=True)
class TaggingOptions:
    """How bins are scored.

    Attributes:
        bin_s: length of a time bin in seconds.
        top_k: labels kept per bin at most.
        min_prob: softmax probability a label needs to be kept.
        temperature: softmax temperature over cosine similarities (0.01 = logit scale 100, as CLIP).
        min_sim: cosine similarity a label needs as well (the softmax alone crowns some label even
            when nothing in the bank is in the picture).
    """

    bin_s: float = 1.0
    top_k: int = 3
    min_prob: float = 0.15
    temperature: float = 0.01
    min_sim: float = 0.05


def read_label_file(path: str | Path) -> list[Label]:
    """Labels of one bank file (categories from ``[section]`` headers; ``misc`` before any)."""
    labels: list[Label] = []
    category = "misc"
    for raw in Path(path).read_text(encoding="utf-8").splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        if line.startswith("[") and line.endswith("]"):
            category = line[1:-1].strip().lower() or "misc"
            continue
        labels.append(Label(" ".join(line.split()), category))
    return labels


def load_label_bank(extra: Sequence[str | Path] | str | None = None, replace_default: bool = False) -> list[Label]:
    """The default bank plus ``extra`` files (``os.pathsep``-separated when a string), de-duplicated.

    ``extra=None`` reads ``$VQA_VP_LABELS``.

    Raises:
        FileNotFoundError: a bank file does not exist.
    """
    if extra is None:
        extra = os.environ.get(ENV_LABELS) or ()
    if isinstance(extra, (str, Path)):
        extra = [p for p in str(extra).split(os.pathsep) if p]
    files = ([] if replace_default else [DEFAULT_LABELS]) + [Path(p).expanduser() for p in extra]
    seen: set[str] = set()
    out: list[Label] = []
    for f in files:
        if not f.is_file():
            raise FileNotFoundError(f"label bank file {f} does not exist")
        for lab in read_label_file(f):
            key = lab.text.lower()
            if key not in seen:
                seen.add(key)
                out.append(lab)
    return out


def time_bins(start_s: float, end_s: float, bin_s: float) -> list[tuple[float, float]]:
    """Consecutive bins of ``bin_s`` covering ``[start_s, end_s)``; the last one may be shorter."""
    bin_s = max(float(bin_s), 1e-3)
    out: list[tuple[float, float]] = []
    s = float(start_s)
    while s < end_s - 1e-9:
        e = min(float(end_s), s + bin_s)
        if e - s < 0.25 * bin_s and out:  # fold a sliver into the previous bin
            out[-1] = (out[-1][0], e)
        else:
            out.append((round(s, 3), round(e, 3)))
        s += bin_s
    return out or [(float(start_s), float(end_s))]


def frames_per_bin(frame_times: Sequence[float] | np.ndarray, bins: Sequence[tuple[float, float]]) -> list[list[int]]:
    """Indices of the frames whose time falls in each bin (the last bin is closed)."""
    out: list[list[int]] = [[] for _ in bins]
    for f, t in enumerate(frame_times):
        for b, (s, e) in enumerate(bins):
            last = b == len(bins) - 1
            if s <= t < e or (last and t == e):
                out[b].append(f)
                break
    return out


def token_indices(frames: Sequence[int], tokens_per_frame: int) -> np.ndarray:
    """Token indices of the given frames in a frame-major ``[T * P, D]`` token array."""
    if not frames:
        return np.zeros(0, np.int64)
    p = int(tokens_per_frame)
    return np.concatenate([np.arange(f * p, (f + 1) * p) for f in frames])


def mean_pool(tokens: np.ndarray) -> np.ndarray:
    """The L2-normalized mean of ``[n, D]`` tokens."""
    v = np.asarray(tokens, dtype=np.float32).mean(axis=0)
    return (v / max(float(np.linalg.norm(v)), 1e-12)).astype(np.float32)


def pool_bins(
    tokens: np.ndarray,
    tokens_per_frame: int,
    frame_times: Sequence[float] | np.ndarray,
    bins: Sequence[tuple[float, float]],
    pool: Callable[[np.ndarray], np.ndarray] = mean_pool,
) -> list[np.ndarray | None]:
    """One pooled vector per bin from the tokens of its frames (``None`` for a bin without frames).

    Args:
        tokens: ``[T * P, D]`` frame-major tokens of one clip.
        tokens_per_frame: ``P``.
        frame_times: media time of each of the ``T`` frames.
        bins: ``(start_s, end_s)`` time bins.
        pool: ``[n, D] -> [D]``; must return an L2-normalized vector in the labels' space.
    """
    if tokens.shape[0] != len(frame_times) * tokens_per_frame:
        raise ValueError(
            f"{tokens.shape[0]} tokens do not match {len(frame_times)} frames x {tokens_per_frame} tokens per frame"
        )
    out: list[np.ndarray | None] = []
    for frames in frames_per_bin(frame_times, bins):
        out.append(pool(tokens[token_indices(frames, tokens_per_frame)]) if frames else None)
    return out


def score_labels(vector: np.ndarray, label_emb: np.ndarray, opts: TaggingOptions) -> list[tuple[int, float]]:
    """``(label index, probability)`` of the labels kept for one pooled vector, best first."""
    if label_emb.shape[0] == 0:
        return []
    sims = label_emb @ np.asarray(vector, dtype=np.float32)
    logits = sims / max(opts.temperature, 1e-6)
    logits = logits - logits.max()
    probs = np.exp(logits)
    probs = probs / probs.sum()
    order = np.argsort(-probs, kind="stable")[: max(0, opts.top_k)]
    return [(int(i), float(probs[i])) for i in order if probs[i] >= opts.min_prob and sims[i] >= opts.min_sim]


def tag_bins(
    bin_vectors: Sequence[np.ndarray | None],
    bins: Sequence[tuple[float, float]],
    labels: Sequence[Label],
    label_emb: np.ndarray,
    opts: TaggingOptions,
) -> list[ConceptTag]:
    """Concept tags of every bin that has a pooled vector."""
    tags: list[ConceptTag] = []
    for vec, (s, e) in zip(bin_vectors, bins):
        if vec is None:
            continue
        for i, p in score_labels(vec, label_emb, opts):
            tags.append(ConceptTag(s, e, labels[i].text, labels[i].category, round(p, 4)))
    return tags


def tag_lines(tags: Sequence[ConceptTag]) -> list[tuple[float, float, str]]:
    """Evidence lines ``(start_s, end_s, "label; label")``, merging adjacent bins with the same labels."""
    by_bin: dict[tuple[float, float], list[str]] = {}
    for t in tags:
        by_bin.setdefault((t.start_s, t.end_s), []).append(t.label)
    lines: list[tuple[float, float, str]] = []
    for (s, e), labs in sorted(by_bin.items()):
        text = "; ".join(labs)
        if lines and lines[-1][2] == text and abs(lines[-1][1] - s) < 1e-6:
            lines[-1] = (lines[-1][0], e, text)
        else:
            lines.append((s, e, text))
    return lines
