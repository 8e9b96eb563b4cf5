"""Objects seen in each window: a COCO-80 detector on the decoded keyframes (lite: NanoDet).

Per window, from at most ``frames_per_window`` keyframes (sparse on purpose: lite indexing must stay
well above real time on two cores) plus at most ``shots_per_window`` shot frames (the decoder keeps
one where the picture changed a lot since the last frame kept: a short shot between two keyframes,
fast motion; see ``media.decode.SHOT_MAD``), a frame that barely differs from the last one looked
at reuses its detections instead of running the detector again
(:class:`~vqa_pipeline.extractors.frame_reuse.ReuseUnchanged`).

- ``objects_counts``: per class, the most instances seen in one frame of the window and the best
  score, for detections scoring at least ``threshold`` (0.5: on real footage walking people scored
  0.54-0.79 and false positives 0.35-0.45, see shared MODELS.md);
- ``objects_labels``: those classes; ``objects_boxes``: every detection from ``box_threshold``
  (0.35) up, with its frame time and a box in frame fractions, for later use;
- evidence lines (kind ``visual``): ``objects: 3 people, 1 car, 1 truck``, and, track-free, where a
  class starts or stops being seen compared with the previous window: ``appears: car`` /
  ``disappears: dog`` (the first appearance and the last disappearance give when a class is seen);
- colours (kind ``visual``): per class of :data:`ABSENCE_CLASSES`, the dominant colours inside its
  best-scoring box of the window, a person's from the torso (:mod:`box_colours`):
  ``colours: person (clothes): red, pink; car: white``;
- "nothing seen" (kind ``visual``, once per video or long-file segment, in the first window the
  detector looked at): ``objects: no person, car seen in 0.0-60.0 s (34 frames)`` names the
  :data:`ABSENCE_CLASSES` never detected in the span the text gives (the windows it looked at).
  The line's own span is that one window: spanning the video, it would be an evidence unit of
  every window and blur every window's text vector. It lets "how many people …?" answer 0 and
  "is there a car …?" answer no.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa

from vqa_pipeline.evidence import nothing_seen_line
from vqa_pipeline.extractors.base import EvidenceLine, Extractor, ExtractorOutput
from vqa_pipeline.extractors.box_colours import box_colours, colours_line
from vqa_pipeline.extractors.frame_reuse import ReuseUnchanged
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
ABSENCE_CLASSES = ("person", "bicycle", "car", "motorcycle", "bus", "truck", "dog", "cat", "bird", "horse")
"""Classes a "nothing seen" line names when the detector never saw them: people, the road vehicles
and the common animals (what questions about a picture most often ask for). Not all 80: a line
naming every absent class would match almost any question's words."""


def plural(label: str, n: int) -> str:
    if n == 1:
        return label
    return PLURALS.get(label, label if label.endswith("s") else label + "s")


def count_phrase(counts: list[dict]) -> str:
    """``3 people, 1 car`` (most numerous first, then best score)."""
    order = sorted(counts, key=lambda c: (-c["count"], -c["score"], c["label"]))
    return ", ".join(f"{c['count']} {plural(c['label'], c['count'])}" for c in order)


def spread(items: list, n: int) -> list:
    """At most ``n`` of ``items``, evenly spread, in their order (the first one always)."""
    if len(items) <= n:
        return items
    if n <= 1:
        return items[:max(n, 0)]
    return [items[round(i * (len(items) - 1) / (n - 1))] for i in range(n)]


@dataclass(slots=True)
class _Frame:
    t_s: float
    dets: list  # Detection-like: label, score, box
    colours: dict = field(default_factory=dict)  # {label: (score, colour names)} of its best box


class Objects(Extractor):
    """COCO objects per window from the NanoDet ONNX model converted at setup.

    Options: ``threshold`` (0.5), ``box_threshold`` (0.35), ``frames_per_window`` (1),
    ``shots_per_window`` (2), ``threads`` (1), ``change_mad`` (2/255).
    """

    name = "nanodet"
    group = "objects"
    kind = "visual"
    modality = "video"
    model_id = f"nanodet-coco80-human-models-{HM_VERSION}"  # another package version: stale columns
    version = "3"  # 2: shot frames, "nothing seen" lines; 3: colours inside the boxes

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
        """Per window (list position), the frames to look at: the keyframes nearest its middle and
        its shot frames (evenly spread when there are more than ``shots_per_window``)."""
        per = max(1, int(self.options.get("frames_per_window", 1)))
        shots = max(0, int(self.options.get("shots_per_window", 2)))
        pos = {w.index: i for i, w in enumerate(media.windows)}
        by_window: dict[int, list[Keyframe]] = {}
        for kf in media.keyframes:
            if kf.window_index in pos:
                by_window.setdefault(pos[kf.window_index], []).append(kf)
        extra: dict[int, list[Keyframe]] = {}
        for kf in media.shot_frames:
            if kf.window_index in pos:
                extra.setdefault(pos[kf.window_index], []).append(kf)
        out = {}
        for i, kfs in by_window.items():
            mid = media.windows[i].mid_s
            picked = sorted(kfs, key=lambda k: abs(k.t_s - mid))[:per]
            out[i] = sorted(picked + spread(extra.get(i, []), shots), key=lambda k: k.t_s)
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
        detect = ReuseUnchanged(lambda rgb: self.detect(rgb, box_threshold), change, (32, 18))
        failures: list[str] = []
        for wi, kfs in sorted(self._sample(media).items()):
            for kf in kfs:
                try:
                    rgb = kf.rgb()
                except Exception as err:  # a corrupt keyframe is reported, not fatal
                    failures.append(f"{kf.t_s:.2f}s: {type(err).__name__}")
                    continue
                dets = detect(rgb)
                frames.setdefault(wi, []).append(_Frame(kf.t_s, dets, box_colours(rgb, dets, ABSENCE_CLASSES, threshold)))
        ran, skipped = detect.looked, detect.reused
        shot_times = {kf.t_s for kf in media.shot_frames}

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
            colours: dict[str, tuple[float, list[str]]] = {}
            for fr in seen:  # per class, the colours of its best-scoring box in the window
                for label, found in fr.colours.items():
                    if label not in colours or found[0] > colours[label][0]:
                        colours[label] = found
            if colours:
                lines[wi].append(EvidenceLine(win.start_s, win.end_s, self.kind, colours_line(colours)))
            prev = present
        self._add_nothing_seen(media, frames, labels_col, lines)

        dt = time.perf_counter() - t0
        notes = []
        if failures:
            notes.append(f"{len(failures)} keyframe(s) could not be decoded and were skipped; first at {failures[0]}")
        return ExtractorOutput(
            lines=lines,
            columns={"objects_labels": labels_col, "objects_counts": counts_col, "objects_boxes": boxes_col},
            notes=notes,
            stats={"frames_detected": ran, "frames_skipped": skipped, "seconds": round(dt, 4),
                   "seconds_per_frame": round(dt / max(ran, 1), 6),
                   "shot_frames": sum(1 for fs in frames.values() for f in fs if f.t_s in shot_times)},
        )

    def _add_nothing_seen(self, media: DecodedMedia, frames: dict[int, list[_Frame]], labels_col: list,
                          lines: list[list[EvidenceLine]]) -> None:
        """The "nothing seen" line of this file (or segment: its own windows only), in its first
        window the detector looked at; none when every class of ABSENCE_CLASSES was seen."""
        lo, hi = media.core or (0, len(media.windows))
        looked = [wi for wi in range(lo, hi) if frames.get(wi)]
        if not looked:
            return
        seen = {label for wi in looked for label in labels_col[wi] or ()}
        absent = [c for c in ABSENCE_CLASSES if c not in seen]
        if not absent:
            return
        n = len({f.t_s for wi in looked for f in frames[wi]})
        first = media.windows[looked[0]]
        text = nothing_seen_line(absent, first.start_s, media.windows[looked[-1]].end_s, n)
        lines[looked[0]].append(EvidenceLine(first.start_s, first.end_s, self.kind, text))
