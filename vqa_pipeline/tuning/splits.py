"""How a dev set's questions are divided: the held-out split that tuning never sees (fixed by the
dev set's ``split`` key, else a hash of each id) and cross-validation folds."""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass

from vqa_pipeline.tuning.devset import DevSetError
from vqa_pipeline.tuning.evaluate import RankingCache


@dataclass(frozen=True, slots=True)
class Split:
    """Question ids tuned on (``dev``) and only scored (``heldout``)."""

    dev: tuple[str, ...]
    heldout: tuple[str, ...]


def split_questions(cache: RankingCache, fraction: float, seed: int = 0) -> Split:
    """Stratified, deterministic split: per video, ``round(fraction * n)`` questions are held out.

    Questions are ordered within each video by a hash of ``(seed, id)``, so the split depends only
    on the ids and the seed, not on file order. A dev set that fixes the split (``"split"`` on its
    lines) is followed instead. Raises :class:`DevSetError` when no dev question remains.
    """
    fixed = {q.id: q.resolved.question.split for q in cache.questions}
    if any(fixed.values()):
        heldout_ids = {i for i, sp in fixed.items() if sp == "heldout"}
        dev = tuple(q.id for q in cache.questions if q.id not in heldout_ids)
        if not dev:
            raise DevSetError("every answerable question is held out; the dev split is empty")
        return Split(dev, tuple(q.id for q in cache.questions if q.id in heldout_ids))
    by_video: dict[str, list[str]] = {}
    for q in cache.questions:
        by_video.setdefault(q.resolved.video_id, []).append(q.id)
    heldout: set[str] = set()
    if fraction > 0:
        for ids in by_video.values():
            ids = sorted(ids, key=lambda i: hashlib.sha256(f"{seed}:{i}".encode()).hexdigest())
            heldout.update(ids[: int(math.floor(fraction * len(ids) + 0.5))])
        if not heldout and len(cache.questions) >= 2:  # every video has a single question
            ids = sorted((q.id for q in cache.questions), key=lambda i: hashlib.sha256(f"{seed}:{i}".encode()).hexdigest())
            heldout.update(ids[: max(1, int(fraction * len(ids)))])
    dev = tuple(q.id for q in cache.questions if q.id not in heldout)
    if not dev:
        raise DevSetError("too few answerable questions to hold some out; lower the held-out fraction")
    return Split(dev, tuple(q.id for q in cache.questions if q.id in heldout))


def fold_of(cache: RankingCache, folds: int, seed: int = 0) -> dict[str, int]:
    """Stratified fold assignment: each video's questions, in hash order, dealt round-robin."""
    by_video: dict[str, list[str]] = {}
    for q in cache.questions:
        by_video.setdefault(q.resolved.video_id, []).append(q.id)
    out: dict[str, int] = {}
    offset = 0
    for vid in sorted(by_video):
        ids = sorted(by_video[vid], key=lambda i: hashlib.sha256(f"{seed}:{i}".encode()).hexdigest())
        for j, qid in enumerate(ids):
            out[qid] = (offset + j) % folds
        offset += len(ids)
    return out
