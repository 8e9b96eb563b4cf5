"""On-screen text with RapidOCR (PP-OCRv6 small det/rec ONNX bundled in the ``rapidocr`` wheel).

- Keyframes whose downscaled grayscale barely differs from the last OCR'd keyframe are not OCR'd
  again; they reuse that frame's result (``stats["frames_skipped"]``). That signature comes from a
  reduced JPEG decode (DCT scaling, :func:`jpeg_signature`): only the frames that are OCR'd are
  decoded at full size.
- With ``region_max`` set (off by default), a keyframe whose change from the last OCR'd one is
  confined to a small region (a moving shape, a caption appearing: at most ``region_max`` of the
  frame, after growing it by the text boxes it touches) is first OCR'd on that region only. Text that appears, moves or goes away changes its
  own pixels, so it is inside the region: when the region holds no text, the reads outside it are
  kept and the frame costs a small crop (``stats["frames_region"]``); when it holds some, the whole
  frame is read as before (a crop reads some texts differently, e.g. "220 °C" as "220 °℃").
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
from collections.abc import Mapping, Sequence
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


def jpeg_signature(jpeg: bytes, width: int = 160) -> np.ndarray:
    """:func:`frame_signature` of a JPEG without decoding it at full size.

    The decoder's DCT scaling (``draft``) gives a grayscale image at 1/2-1/8 of the size, still at
    least ``width`` wide, and the same box filter brings it to ``width`` (about 4x less work for a
    720p frame).
    """
    import io

    from PIL import Image

    with Image.open(io.BytesIO(jpeg)) as im:
        w, h = im.size
        height = max(1, round(h * width / max(w, 1)))
        im.draft("L", (width, height))
        small = im.convert("L").resize((width, height), Image.Resampling.BOX)
    return np.asarray(small, dtype=np.float32)


def frame_change(a: np.ndarray, b: np.ndarray, level: float = 16.0) -> float:
    """Fraction of signature pixels that changed by more than ``level`` grey levels."""
    if a.shape != b.shape:
        return 1.0
    return float(np.mean(np.abs(a - b) > level))


Box = tuple[float, float, float, float]  # x0, y0, x1, y1 as fractions of the frame


def changed_box(a: np.ndarray, b: np.ndarray, level: float = 16.0, margin: int = 4) -> Box | None:
    """The bounding box of the signature pixels that changed by more than ``level`` grey levels,
    grown by ``margin`` signature pixels; ``None`` when none did (or the sizes differ)."""
    if a.shape != b.shape:
        return None
    ys, xs = np.nonzero(np.abs(a - b) > level)
    if ys.size == 0:
        return None
    h, w = a.shape
    return (max(0, int(xs.min()) - margin) / w, max(0, int(ys.min()) - margin) / h,
            min(w, int(xs.max()) + 1 + margin) / w, min(h, int(ys.max()) + 1 + margin) / h)


def _overlaps(a: Sequence[float], b: Sequence[float]) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def grow_over(region: Box, boxes: Sequence[Sequence[float]]) -> Box:
    """``region`` grown until no box only partly inside it remains (a text it touches is read whole)."""
    changed = True
    while changed:
        changed = False
        for b in boxes:
            if _overlaps(region, b) and not (region[0] <= b[0] and region[1] <= b[1] and b[2] <= region[2]
                                             and b[3] <= region[3]):
                region = (min(region[0], b[0]), min(region[1], b[1]), max(region[2], b[2]), max(region[3], b[3]))
                changed = True
    return region


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
    (0.002: fraction of changed signature pixels under which a keyframe reuses the last OCR),
    ``region_max`` (the largest changed share of the frame OCR'd as a region first; 0, the default:
    whole frames; 0.1 halves the OCR CPU on the sample corpus but costs one exact match there).
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

    def read_region(self, rgb: np.ndarray, region: Box) -> list[_Read]:
        """OCR the part of a frame inside ``region``; boxes as fractions of the whole frame."""
        h, w = rgb.shape[:2]
        x0, y0 = int(region[0] * w), int(region[1] * h)
        x1, y1 = max(x0 + 32, int(np.ceil(region[2] * w))), max(y0 + 32, int(np.ceil(region[3] * h)))
        x1, y1 = min(w, x1), min(h, y1)
        x0, y0 = max(0, min(x0, x1 - 32)), max(0, min(y0, y1 - 32))
        cw, ch = x1 - x0, y1 - y0
        reads = self.read_frame(np.ascontiguousarray(rgb[y0:y1, x0:x1]))
        for r in reads:
            r.box = [(x0 + r.box[0] * cw) / w, (y0 + r.box[1] * ch) / h, (x0 + r.box[2] * cw) / w,
                     (y0 + r.box[3] * ch) / h]
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
        # Off by default: on the sample corpus it halves the OCR CPU but changes one clip's lines
        # ("220 °C" read as "220 °℃" wins the vote over fewer full reads; docs/benchmarks.md).
        region_max = float(self.options.get("region_max", 0.0))
        notes: list[str] = []

        per_window: list[list[_Read]] = [[] for _ in range(n)]
        has_frame = [False] * n
        last_sig: np.ndarray | None = None
        last_reads: list[_Read] = []
        frames_ocr = frames_skipped = frames_region = 0
        base = windows[0].index if windows else 0  # a segment's windows do not start at 0
        for kf in sorted(media.keyframes, key=lambda k: k.t_s):
            i = kf.window_index - base
            if not 0 <= i < n:
                continue
            try:
                sig = jpeg_signature(kf.jpeg)
                rgb = None if last_sig is not None and frame_change(sig, last_sig) < threshold else kf.rgb()
            except Exception as err:  # a corrupt keyframe must not sink the file
                notes.append(f"keyframe at {kf.t_s:.2f}s could not be decoded: {err}")
                continue
            has_frame[i] = True
            if rgb is None:  # the text cannot have changed: reuse the last frame's reads
                reads = last_reads
                frames_skipped += 1
            else:
                region = changed_box(sig, last_sig) if last_sig is not None and region_max > 0 else None
                if region is not None:
                    region = grow_over(region, [r.box for r in last_reads])
                small = region is not None and (region[2] - region[0]) * (region[3] - region[1]) <= region_max
                if small and region is not None and not self.read_region(rgb, region):
                    # only this region changed and it holds no text: the text outside it is as last read
                    reads = [r for r in last_reads if not _overlaps(r.box, region)]
                    frames_region += 1
                else:
                    reads = self.read_frame(rgb)
                    frames_ocr += 1
                last_sig, last_reads = sig, reads
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
        total = frames_ocr + frames_skipped + frames_region
        stats = {
            "frames_ocr": frames_ocr,
            "frames_region": frames_region,
            "frames_skipped": frames_skipped,
            "seconds": round(dt, 3),
            "seconds_per_frame": round(dt / max(total, 1), 4),
            "text_lines": len(runs),
        }
        return ExtractorOutput(lines=lines, columns={"ocr_boxes": boxes_col}, notes=notes, stats=stats)
