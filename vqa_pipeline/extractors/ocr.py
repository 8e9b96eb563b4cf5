"""On-screen text with RapidOCR (PP-OCRv6 small det/rec ONNX bundled in the ``rapidocr`` wheel).

- Keyframes whose downscaled grayscale barely differs from the last OCR'd keyframe are not OCR'd
  again; they reuse that frame's result (``stats["frames_skipped"]``).
- Lines with a recognition score below ``min_score`` (0.5) are dropped.
- The same text (normalized: case, spaces and punctuation ignored; near-identical reads matched)
  seen in consecutive windows becomes ONE evidence line spanning those windows, put in each of them.

Speed settings (RapidOCR 3.10): the detector input is capped at ``det_side`` (736 px) on the
longer side (``Det.limit_type="max"``; the default ``"min"`` upscales a 720p frame to 1308x736), and
the 0/180 degree direction classifier is off (video text is upright). Recognition still runs on
crops of the full-resolution frame.
"""

from __future__ import annotations

import difflib
import re
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from vqa_pipeline.extractors import models
from vqa_pipeline.extractors.base import EvidenceLine, Extractor, ExtractorOutput
from vqa_pipeline.media.types import DecodedMedia

BOX_TYPE = pa.struct([("text", pa.string()), ("score", pa.float32()), ("box", pa.list_(pa.float32()))])

_ENGINES: dict[tuple, object] = {}
_ENGINE_LOCK = threading.Lock()


def normalize_text(text: str) -> str:
    """Key for "the same text": casefolded, only letters and digits."""
    return re.sub(r"[\W_]+", "", text.casefold())


def same_text(a: str, b: str, ratio: float = 0.88) -> bool:
    """Normalized keys equal, or nearly so for longer strings (one OCR character flip)."""
    if a == b:
        return True
    if min(len(a), len(b)) < 6:
        return False
    return difflib.SequenceMatcher(None, a, b, autojunk=False).ratio() >= ratio


def frame_signature(rgb: np.ndarray, width: int = 160) -> np.ndarray:
    """Small grayscale float32 image used to decide whether a frame changed."""
    from PIL import Image

    h, w = rgb.shape[:2]
    height = max(1, round(h * width / max(w, 1)))
    im = Image.fromarray(rgb).convert("L").resize((width, height), Image.Resampling.BOX)
    return np.asarray(im, dtype=np.float32)


def frame_change(a: np.ndarray, b: np.ndarray, level: float = 16.0) -> float:
    """Fraction of signature pixels that changed by more than ``level`` grey levels."""
    if a.shape != b.shape:
        return 1.0
    return float(np.mean(np.abs(a - b) > level))


@dataclass
class _Read:
    text: str
    score: float
    box: list[float]  # [x0, y0, x1, y1] as fractions of the keyframe size


@dataclass
class _Run:
    key: str
    first: int
    last: int
    reads: list[_Read] = field(default_factory=list)

    def best_text(self) -> str:
        # the most frequent exact reading, ties broken by score
        counts: dict[str, list[float]] = {}
        for r in self.reads:
            counts.setdefault(r.text, []).append(r.score)
        return max(counts.items(), key=lambda kv: (len(kv[1]), max(kv[1])))[0]


def load_rapidocr(params: dict):
    key = tuple(sorted(params.items()))
    with _ENGINE_LOCK:
        eng = _ENGINES.get(key)
        if eng is None:
            from rapidocr import RapidOCR

            eng = RapidOCR(params=dict(params))
            _ENGINES[key] = eng
        return eng


class RapidOcr(Extractor):
    """RapidOCR on keyframes.

    Options: ``min_score`` (0.5), ``det_side`` (736), ``use_cls`` (False), ``skip_threshold``
    (0.002: fraction of changed signature pixels under which a keyframe reuses the last OCR).
    """

    name = "rapidocr"
    group = "ocr"
    kind = "ocr"
    modality = "video"
    model_id = "rapidocr-ppocrv6"
    version = "1"

    def fields(self) -> list[pa.Field]:
        return [pa.field("ocr_boxes", pa.list_(BOX_TYPE), nullable=True)]

    def availability(self) -> tuple[bool, str]:
        return models.rapidocr_available()

    def _params(self) -> dict:
        threads = self.options.get("threads")
        return {
            **({"EngineConfig.onnxruntime.intra_op_num_threads": int(threads)} if threads else {}),
            "Global.log_level": "error",
            "Global.use_cls": bool(self.options.get("use_cls", False)),
            "Global.text_score": float(self.options.get("min_score", 0.5)),
            "Det.limit_type": "max",
            "Det.limit_side_len": int(self.options.get("det_side", 736)),
        }

    def load(self) -> None:
        if getattr(self, "_engine", None) is None:
            self._engine = load_rapidocr(self._params())

    def read_frame(self, rgb: np.ndarray) -> list[_Read]:
        """OCR one RGB frame; reads above ``min_score`` with normalized boxes."""
        self.load()
        h, w = rgb.shape[:2]
        res = self._engine(np.ascontiguousarray(rgb[:, :, ::-1]))  # RapidOCR takes arrays as BGR
        txts = getattr(res, "txts", None) or ()
        scores = getattr(res, "scores", None) or ()
        boxes = getattr(res, "boxes", None)
        min_score = float(self.options.get("min_score", 0.5))
        reads = []
        for i, (txt, score) in enumerate(zip(txts, scores)):
            txt = " ".join(str(txt).split())
            if score < min_score or not normalize_text(txt):
                continue
            if boxes is not None and len(boxes) > i:
                pts = np.asarray(boxes[i], dtype=np.float32).reshape(-1, 2)
                box = [
                    float(pts[:, 0].min() / w),
                    float(pts[:, 1].min() / h),
                    float(pts[:, 0].max() / w),
                    float(pts[:, 1].max() / h),
                ]
                box = [min(1.0, max(0.0, v)) for v in box]
            else:
                box = [0.0, 0.0, 1.0, 1.0]
            reads.append(_Read(txt, float(score), box))
        return reads

    def extract(self, media: DecodedMedia, upstream: Mapping[str, ExtractorOutput]) -> ExtractorOutput:
        windows = media.windows
        n = len(windows)
        if not media.keyframes:
            note = "no video track" if not media.info.has_video else "no keyframes"
            out = ExtractorOutput.empty(n, ["ocr_boxes"], note=note)
            out.stats = {"frames_ocr": 0, "frames_skipped": 0}
            return out
        self.load()
        t0 = time.perf_counter()
        threshold = float(self.options.get("skip_threshold", 0.002))
        notes: list[str] = []

        per_window: list[list[_Read]] = [[] for _ in range(n)]
        has_frame = [False] * n
        last_sig: np.ndarray | None = None
        last_reads: list[_Read] = []
        frames_ocr = frames_skipped = 0
        base = windows[0].index if windows else 0  # a segment's windows do not start at 0
        for kf in sorted(media.keyframes, key=lambda k: k.t_s):
            i = kf.window_index - base
            if not 0 <= i < n:
                continue
            try:
                rgb = kf.rgb()
            except Exception as err:  # a corrupt keyframe must not sink the file
                notes.append(f"keyframe at {kf.t_s:.2f}s could not be decoded: {err}")
                continue
            has_frame[i] = True
            sig = frame_signature(rgb)
            if last_sig is not None and frame_change(sig, last_sig) < threshold:
                reads = last_reads
                frames_skipped += 1
            else:
                reads = self.read_frame(rgb)
                last_sig, last_reads = sig, reads
                frames_ocr += 1
            per_window[i].extend(reads)

        # one entry per distinct text in a window (best score wins)
        window_texts: list[dict[str, _Read]] = []
        for reads in per_window:
            best: dict[str, _Read] = {}
            for r in reads:
                k = normalize_text(r.text)
                if k not in best or r.score > best[k].score:
                    best[k] = r
            window_texts.append(best)

        # merge the same text over consecutive windows into runs
        runs: list[_Run] = []
        active: list[_Run] = []
        for i in range(n):
            if not has_frame[i]:
                continue  # no evidence either way: keep runs open across it
            still: list[_Run] = []
            for k, r in window_texts[i].items():
                match = next(
                    (run for run in active if all(run is not s for s in still) and same_text(run.key, k)), None
                )
                if match is None:
                    match = _Run(key=k, first=i, last=i)
                    runs.append(match)
                match.last = i
                match.reads.append(r)
                still.append(match)
            active = still

        lines: list[list[EvidenceLine]] = [[] for _ in range(n)]
        order: list[list[tuple[tuple[float, float], EvidenceLine]]] = [[] for _ in range(n)]
        for run in runs:
            line = EvidenceLine(windows[run.first].start_s, windows[run.last].end_s, self.kind, run.best_text())
            pos = (run.reads[0].box[1], run.reads[0].box[0])
            for i in range(run.first, run.last + 1):
                order[i].append((pos, line))
        for i in range(n):
            lines[i] = [ln for _, ln in sorted(order[i], key=lambda x: x[0])]

        boxes_col: list[list[dict[str, object]] | None] = []
        for i in range(n):
            if not has_frame[i]:
                boxes_col.append(None)
                continue
            items = sorted(window_texts[i].values(), key=lambda r: (r.box[1], r.box[0]))
            boxes_col.append([{"text": r.text, "score": float(r.score), "box": [float(v) for v in r.box]} for r in items])

        dt = time.perf_counter() - t0
        total = frames_ocr + frames_skipped
        stats = {
            "frames_ocr": frames_ocr,
            "frames_skipped": frames_skipped,
            "seconds": round(dt, 3),
            "seconds_per_frame": round(dt / max(total, 1), 4),
            "text_lines": len(runs),
        }
        return ExtractorOutput(lines=lines, columns={"ocr_boxes": boxes_col}, notes=notes, stats=stats)
