"""People: how many faces are seen, and what the most prominent person is doing.

Per sampled keyframe: BlazeFace counts faces, MoveNet Lightning estimates one body pose
(:mod:`vqa_pipeline.extractors.face_pose_models`). Per window: the largest face count among its
samples, and action tags from the poses over time (standing / sitting / walking / raising a hand /
waving), each by a documented rule in :mod:`vqa_pipeline.extractors.pose_actions`.

Evidence line (kind ``visual``), only for windows where someone is seen:
``people: 2 faces; person raising a hand``.
Columns: ``people_faces`` (int), ``people_tags`` (list of tags), ``people_pose`` (the window's best
pose, 17 x (x, y, score) flattened, x and y as fractions of the frame's width and height).

Nothing about who a person is, or their emotion, age or gender, is estimated (privacy): the
package's models for those are not installed or run.

Cost (lite profile, the bar is indexing at 10x real time or faster): both models together take
about 40-60 ms per frame on one core, on the keyframes already decoded (one per 2 s by default)
and the decoder's shot frames (a cut or fast motion between keyframes), at most ``max_per_s``
frames a second, and a frame nearly identical to the last one looked at (mean absolute difference
of 32x32 grey thumbnails under ``same_frame``) reuses its results
(:class:`~vqa_pipeline.extractors.frame_reuse.ReuseUnchanged`).

Limits: MoveNet Lightning follows one person; in a crowd it picks the most prominent one and small
people far from the camera get no usable pose (no tags then). Faces smaller than about 1/20 of the
frame's longer side are not found. Count people with the ``objects`` extractor.
"""

from __future__ import annotations

import time
from collections.abc import Mapping

import numpy as np
import pyarrow as pa

from vqa_pipeline.extractors import face_pose_models as fpm
from vqa_pipeline.extractors import pose_actions
from vqa_pipeline.extractors.base import EvidenceLine, Extractor, ExtractorOutput
from vqa_pipeline.extractors.frame_reuse import ReuseUnchanged
from vqa_pipeline.media.types import DecodedMedia
from vqa_pipeline.models.detector_models import VERSION as HM_VERSION

FACE_MODEL = "blazeface"
POSE_MODEL = "movenet-lightning"


def describe(faces: int, tags: list[str]) -> str:
    """The evidence text of a window, e.g. ``people: 2 faces; person standing, raising a hand``."""
    parts = []
    if faces:
        parts.append(f"{faces} face" + ("s" if faces > 1 else ""))
    if tags:
        parts.append("person " + ", ".join(tags))
    return "people: " + "; ".join(parts) if parts else ""


class People(Extractor):
    """Face count and action tags.

    Options: ``face_threshold`` (0.75: calibrated on the labelled frames, see docs/benchmarks.md),
    ``max_per_s`` (2.0 frames a second at most), ``same_frame`` (0.01), ``threads`` (1).
    """

    name = "people"
    group = "people"
    kind = "visual"  # what is seen, like the objects lines; the text starts with "people:"
    modality = "video"
    model_id = f"human-models-{HM_VERSION}/blazeface+movenet-lightning"  # another package version: stale columns
    version = "2"  # 2: shot frames too

    def fields(self) -> list[pa.Field]:
        return [
            pa.field("people_faces", pa.int32(), nullable=True),
            pa.field("people_tags", pa.list_(pa.string()), nullable=True),
            pa.field("people_pose", pa.list_(pa.float32()), nullable=True),
        ]

    def availability(self) -> tuple[bool, str]:
        from vqa_pipeline.extractors.models import module_available
        from vqa_pipeline.models.detector_models import availability

        if not module_available("onnxruntime"):
            return False, "python package 'onnxruntime' is not installed (pip install onnxruntime)"
        for model in (FACE_MODEL, POSE_MODEL):
            ok, why = availability(model)
            if not ok:
                return False, why
        return True, "ok"

    def load(self) -> None:
        if getattr(self, "_faces", None) is None:
            from vqa_pipeline.models.detector_models import ensure_model

            threads = int(self.options.get("threads", 1))
            self._faces = fpm.session(ensure_model(FACE_MODEL), threads)
            self._pose = fpm.session(ensure_model(POSE_MODEL), threads)

    def look(self, rgb: np.ndarray) -> tuple[int, np.ndarray]:
        """``(face count, [17, 3] pose in pixels)`` of one RGB frame."""
        self.load()
        threshold = float(self.options.get("face_threshold", 0.75))
        if rgb.ndim != 3 or rgb.shape[0] < 2 or rgb.shape[1] < 2:
            return 0, np.zeros((17, 3), np.float32)
        return len(fpm.detect_faces(self._faces, rgb, threshold)), fpm.estimate_pose(self._pose, rgb)

    def extract(self, media: DecodedMedia, upstream: Mapping[str, ExtractorOutput]) -> ExtractorOutput:
        windows = media.windows
        n = len(windows)
        cols = [f.name for f in self.fields()]
        if not media.keyframes:
            return ExtractorOutput.empty(n, cols, note="no video track" if not media.info.has_video else "no frames")
        self.load()
        t0 = time.perf_counter()
        min_gap = 1.0 / max(float(self.options.get("max_per_s", 2.0)), 1e-3)
        same = float(self.options.get("same_frame", 0.01))
        # (time, window position, faces, pose, frame width, frame height)
        samples: list[tuple[float, int, int, np.ndarray, int, int]] = []
        first_index = windows[0].index if windows else 0
        last_t = -1e9
        failed = 0
        look = ReuseUnchanged(self.look, same, (32, 32), grey=True)
        for kf in sorted([*media.keyframes, *media.shot_frames], key=lambda k: k.t_s):
            if kf.t_s - last_t < min_gap - 1e-6:
                continue
            try:
                rgb = kf.rgb()
            except Exception:  # a corrupt keyframe must not sink the file; counted in the stats
                failed += 1
                continue
            result = look(rgb)
            last_t = kf.t_s
            samples.append((kf.t_s, kf.window_index - first_index, result[0], result[1], rgb.shape[1], rgb.shape[0]))

        faces_col: list[int | None] = [None] * n
        tags_col: list[list[str] | None] = [None] * n
        pose_col: list[list[float] | None] = [None] * n
        lines: list[list[EvidenceLine]] = [[] for _ in range(n)]
        for wi, win in enumerate(windows):
            mine = [s for s in samples if s[1] == wi]
            if not mine:
                continue
            before = [s for s in samples if s[0] < mine[0][0]]
            previous = (before[-1][0], before[-1][3]) if before else None
            tags = pose_actions.window_tags([(s[0], s[3]) for s in mine], previous)
            faces = max(s[2] for s in mine)
            best = max(mine, key=lambda s: float(s[3][:, 2].mean()))
            pose = best[3].copy()
            pose[:, 0] /= max(best[4], 1)
            pose[:, 1] /= max(best[5], 1)
            faces_col[wi], tags_col[wi] = faces, tags
            pose_col[wi] = [round(float(v), 4) for v in pose.reshape(-1)]
            text = describe(faces, tags)
            if text:
                lines[wi].append(EvidenceLine(win.start_s, win.end_s, self.kind, text))
        dt = time.perf_counter() - t0
        notes = [f"{failed} keyframe(s) could not be decoded and were skipped"] if failed else []
        looked = look.looked
        stats = {"frames_looked": looked, "frames_reused": look.reused, "frames_undecodable": failed,
                 "seconds": round(dt, 4), "seconds_per_frame": round(dt / max(looked, 1), 6)}
        return ExtractorOutput(lines=lines, columns={"people_faces": faces_col, "people_tags": tags_col,
                                                     "people_pose": pose_col}, notes=notes, stats=stats)
