"""Objects seen in each window: a COCO-80 detector on the decoded keyframes (lite: NanoDet).

Per window, from at most ``frames_per_window`` keyframes (sparse on purpose: lite indexing must stay
well above real time on two cores), a frame that barely differs from the last one looked at reuses
its detections instead of running the detector again.

- ``objects_counts``: per class, the most instances seen in one frame of the window and the best
  score, for detections scoring at least ``threshold`` (0.5: on real footage walking people scored
  0.54-0.79 and false positives 0.35-0.45, see shared MODELS.md);
- ``objects_labels``: those classes; ``objects_boxes``: every detection from ``box_threshold``
  (0.35) up, with its frame time and a box in frame fractions, for later use;
- evidence lines (kind ``visual``): ``objects: 3 people, 1 car, 1 truck``, and, track-free, where a
  class starts or stops being seen compared with the previous window: ``appears: car`` /
  ``disappears: dog`` (the first appearance and the last disappearance give when a class is seen).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

from vqa_pipeline.extractors.base import EvidenceLine, Extractor, ExtractorOutput
from vqa_pipeline.media.types import DecodedMedia, Keyframe
from vqa_pipeline.models.detector_models import VERSION as HM_VERSION

COUNT_TYPE = pa.struct([("label", pa.string()), ("count", pa.int32()), ("score", pa.float32())])
BOX_TYPE = pa.struct([("t_s", pa.float32()), ("label", pa.string()), ("score", pa.float32()),
                      ("box", pa.list_(pa.float32()))])
PLURALS = {"person": "people", "bus": "buses", "knife": "knives", "mouse": "mice", "skis": "skis",
           "sheep": "sheep", "wine glass": "wine glasses", "bench": "benches", "couch": "couches",
           "toothbrush": "toothbrushes", "sandwich": "sandwiches", "dining table": "dining tables"}
CHANGE_MAD = 2.0 / 255
"""A keyframe whose 32x18 thumbnail differs from the last detected one by less than this (mean
absolute difference, 0-1) reuses its detections."""


def plural(label: str, n: int) -> str:
    if n == 1:
        return label
    return PLURALS.get(label, label if label.endswith("s") else label + "s")


def count_phrase(counts: list[dict]) -> str:
    """``3 people, 1 car`` (most numerous first, then best score)."""
    order = sorted(counts, key=lambda c: (-c["count"], -c["score"], c["label"]))
    return ", ".join(f"{c['count']} {plural(c['label'], c['count'])}" for c in order)


@dataclass(slots=True)
class _Frame:
    t_s: float
    dets: list  # Detection-like: label, score, box


def _thumb(rgb: np.ndarray) -> np.ndarray:
    from PIL import Image

    return np.asarray(Image.fromarray(rgb).resize((32, 18), Image.Resampling.BOX), np.float32) / 255.0


class Objects(Extractor):
    """COCO objects per window from the NanoDet ONNX model converted at setup.

    Options: ``threshold`` (0.5), ``box_threshold`` (0.35), ``frames_per_window`` (1),
    ``threads`` (1), ``change_mad`` (2/255).
    """

    name = "nanodet"
    group = "objects"
    kind = "visual"
    modality = "video"
    model_id = f"nanodet-coco80-human-models-{HM_VERSION}"  # another package version: stale columns
    version = "1"

    def __init__(self, **options) -> None:
        super().__init__(**options)
        self._detector: Any = None

    def fields(self) -> list[pa.Field]:
        return [
            pa.field("objects_labels", pa.list_(pa.string()), nullable=True),
            pa.field("objects_counts", pa.list_(COUNT_TYPE), nullable=True),
            pa.field("objects_boxes", pa.list_(BOX_TYPE), nullable=True),
        ]

    def availability(self) -> tuple[bool, str]:
        from vqa_pipeline.models import detector_models

        return detector_models.availability("nanodet")

    def load(self) -> None:
        if self._detector is None:
            from vqa_pipeline.models.detector_models import ensure_model
            from vqa_pipeline.models.nanodet import NanoDet

            self._detector = NanoDet(ensure_model("nanodet"), threads=int(self.options.get("threads", 1)))

    def detect(self, rgb: np.ndarray, min_score: float) -> list:
        """Detections of one ``[H, W, 3]`` RGB frame (overridden by other detector back-ends)."""
        self.load()
        assert self._detector is not None
        return self._detector.detect(rgb, min_score=min_score)

    def _sample(self, media: DecodedMedia) -> dict[int, list[Keyframe]]:
        """Per window (list position), the keyframes to look at: the ones nearest its middle."""
        per = max(1, int(self.options.get("frames_per_window", 1)))
        pos = {w.index: i for i, w in enumerate(media.windows)}
        by_window: dict[int, list[Keyframe]] = {}
        for kf in media.keyframes:
            if kf.window_index in pos:
                by_window.setdefault(pos[kf.window_index], []).append(kf)
        out = {}
        for i, kfs in by_window.items():
            mid = media.windows[i].mid_s
            out[i] = sorted(sorted(kfs, key=lambda k: abs(k.t_s - mid))[:per], key=lambda k: k.t_s)
        return out

    def extract(self, media: DecodedMedia, upstream: Mapping[str, ExtractorOutput]) -> ExtractorOutput:
        n = len(media.windows)
        cols = [f.name for f in self.fields()]
        if not media.keyframes:
            return ExtractorOutput.empty(n, cols, note="no video track" if not media.info.has_video else "no frames")
        threshold = float(self.options.get("threshold", 0.5))
        box_threshold = min(float(self.options.get("box_threshold", 0.35)), threshold)
        change = float(self.options.get("change_mad", CHANGE_MAD))
        t0 = time.perf_counter()
        frames: dict[int, list[_Frame]] = {}
        last_thumb: np.ndarray | None = None
        last_dets: list = []
        ran = skipped = 0
        failures: list[str] = []
        for wi, kfs in sorted(self._sample(media).items()):
            for kf in kfs:
                try:
                    rgb = kf.rgb()
                except Exception as err:  # a corrupt keyframe is reported, not fatal
                    failures.append(f"{kf.t_s:.2f}s: {type(err).__name__}")
                    continue
                thumb = _thumb(rgb)
                if last_thumb is not None and float(np.abs(thumb - last_thumb).mean()) < change:
                    dets = last_dets
                    skipped += 1
                else:
                    dets = self.detect(rgb, box_threshold)
                    ran += 1
                    last_thumb, last_dets = thumb, dets
                frames.setdefault(wi, []).append(_Frame(kf.t_s, dets))

        labels_col: list = [None] * n
        counts_col: list = [None] * n
        boxes_col: list = [None] * n
        lines: list[list[EvidenceLine]] = [[] for _ in range(n)]
        prev: set[str] | None = None
        for wi, win in enumerate(media.windows):
            seen = frames.get(wi)
            if seen is None:  # no keyframe looked at here: no claim either way
                continue
            best: dict[str, dict] = {}
            boxes = []
            for fr in seen:
                per_frame: dict[str, int] = {}
                for d in fr.dets:
                    boxes.append({"t_s": round(fr.t_s, 3), "label": d.label, "score": float(d.score),
                                  "box": [float(v) for v in d.box]})
                    if d.score >= threshold:
                        per_frame[d.label] = per_frame.get(d.label, 0) + 1
                        entry = best.setdefault(d.label, {"label": d.label, "count": 0, "score": 0.0})
                        entry["score"] = max(entry["score"], round(float(d.score), 4))
                for label, k in per_frame.items():
                    best[label]["count"] = max(best[label]["count"], k)
            counts = sorted(best.values(), key=lambda c: (-c["count"], -c["score"], c["label"]))
            present = {c["label"] for c in counts}
            labels_col[wi] = [c["label"] for c in counts]
            counts_col[wi] = counts
            boxes_col[wi] = boxes
            parts = [f"objects: {count_phrase(counts)}"] if counts else []
            if prev is not None or counts:
                came = sorted(present - (prev or set()))
                went = sorted((prev or set()) - present)
                if came:
                    parts.append("appears: " + ", ".join(came))
                if went:
                    parts.append("disappears: " + ", ".join(went))
            if parts and not counts:
                parts.insert(0, "objects: none")
            if parts:
                lines[wi].append(EvidenceLine(win.start_s, win.end_s, self.kind, "; ".join(parts)))
            prev = present

        dt = time.perf_counter() - t0
        notes = []
        if failures:
            notes.append(f"{len(failures)} keyframe(s) could not be decoded and were skipped; first at {failures[0]}")
        return ExtractorOutput(
            lines=lines,
            columns={"objects_labels": labels_col, "objects_counts": counts_col, "objects_boxes": boxes_col},
            notes=notes,
            stats={"frames_detected": ran, "frames_skipped": skipped, "seconds": round(dt, 4),
                   "seconds_per_frame": round(dt / max(ran, 1), 6)},
        )
