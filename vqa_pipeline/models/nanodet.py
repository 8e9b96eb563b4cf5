"""NanoDet (COCO-80) on onnxruntime: letterbox, run, decode the distance bins, per-class NMS.

Facts from the model (see shared MODELS.md): input 1x3x416x416 **BGR**, normalised with the
mean/std below (the Human library's /255 scaling gives worse results); letterboxing (padding) a wide
frame keeps objects findable where stretching misses most. Outputs per stride 8/16/32: class
probabilities [1, HW, 80] (already 0-1) and box distributions [1, HW, 44] (left/top/right/bottom x
11 bins: softmax, expectation, times the stride, measured from the cell centre).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vqa_pipeline.models.onnx_session import cpu_session

INPUT = 416
STRIDES = (8, 16, 32)
BINS = 11
MEAN_BGR = np.array([103.53, 116.28, 123.675], np.float32)
STD_BGR = np.array([57.375, 57.12, 58.395], np.float32)

COCO80 = (
    "person", "bicycle", "car", "motorcycle", "airplane", "bus", "train", "truck", "boat", "traffic light",
    "fire hydrant", "stop sign", "parking meter", "bench", "bird", "cat", "dog", "horse", "sheep", "cow",
    "elephant", "bear", "zebra", "giraffe", "backpack", "umbrella", "handbag", "tie", "suitcase", "frisbee",
    "skis", "snowboard", "sports ball", "kite", "baseball bat", "baseball glove", "skateboard", "surfboard",
    "tennis racket", "bottle", "wine glass", "cup", "fork", "knife", "spoon", "bowl", "banana", "apple",
    "sandwich", "orange", "broccoli", "carrot", "hot dog", "pizza", "donut", "cake", "chair", "couch",
    "potted plant", "bed", "dining table", "toilet", "tv", "laptop", "mouse", "remote", "keyboard",
    "cell phone", "microwave", "oven", "toaster", "sink", "refrigerator", "book", "clock", "vase",
    "scissors", "teddy bear", "hair drier", "toothbrush",
)


@dataclass(frozen=True, slots=True)
class Detection:
    label: str
    score: float
    box: tuple[float, float, float, float]  # x1, y1, x2, y2 as fractions of the frame (0-1)


def letterbox(rgb: np.ndarray, size: int = INPUT) -> tuple[np.ndarray, float]:
    """``[1, 3, size, size]`` float32 network input (BGR, normalised; padding is the mean colour)
    and the scale from frame pixels to input pixels."""
    import cv2

    h, w = rgb.shape[:2]
    scale = size / max(h, w)
    nh, nw = max(1, round(h * scale)), max(1, round(w * scale))
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    resized = cv2.resize(np.ascontiguousarray(rgb[:, :, ::-1]), (nw, nh), interpolation=interp)
    canvas = np.zeros((size, size, 3), np.float32)  # zero after normalisation = the mean colour
    canvas[:nh, :nw] = (resized.astype(np.float32) - MEAN_BGR) / STD_BGR
    return canvas.transpose(2, 0, 1)[None], scale


def _nms(boxes: np.ndarray, scores: np.ndarray, iou: float) -> list[int]:
    order = np.argsort(-scores)
    keep: list[int] = []
    while order.size:
        i = int(order[0])
        keep.append(i)
        rest = order[1:]
        xx1 = np.maximum(boxes[i, 0], boxes[rest, 0])
        yy1 = np.maximum(boxes[i, 1], boxes[rest, 1])
        xx2 = np.minimum(boxes[i, 2], boxes[rest, 2])
        yy2 = np.minimum(boxes[i, 3], boxes[rest, 3])
        inter = np.clip(xx2 - xx1, 0, None) * np.clip(yy2 - yy1, 0, None)
        area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
        ratio = inter / np.maximum(area[i] + area[rest] - inter, 1e-9)
        order = rest[ratio <= iou]
    return keep


def decode(outputs: dict[str, np.ndarray], min_score: float = 0.3, iou: float = 0.5,
           size: int = INPUT) -> list[tuple[int, float, np.ndarray]]:
    """``(class, score, box in input pixels)`` of every detection above ``min_score`` after NMS.

    ``outputs``: the six NanoDet outputs by name; matched to strides by their row counts.
    """
    cls_by_hw: dict[int, np.ndarray] = {}
    box_by_hw: dict[int, np.ndarray] = {}
    for arr in outputs.values():
        (cls_by_hw if arr.shape[-1] == len(COCO80) else box_by_hw)[arr.shape[1]] = arr[0]
    found_cls, found_box, found_score = [], [], []
    for stride in STRIDES:
        side = -(-size // stride)
        probs, dist = cls_by_hw[side * side], box_by_hw[side * side]
        cells, classes = np.nonzero(probs > min_score)
        if cells.size == 0:
            continue
        d = dist[cells].reshape(-1, 4, BINS)
        d = np.exp(d - d.max(axis=2, keepdims=True))
        d /= d.sum(axis=2, keepdims=True)
        dists = (d * np.arange(BINS, dtype=np.float32)).sum(axis=2) * stride  # [n, 4] l, t, r, b
        cx = (cells % side + 0.5) * stride
        cy = (cells // side + 0.5) * stride
        found_box.append(np.stack([cx - dists[:, 0], cy - dists[:, 1], cx + dists[:, 2], cy + dists[:, 3]], 1))
        found_cls.append(classes)
        found_score.append(probs[cells, classes])
    if not found_cls:
        return []
    boxes = np.concatenate(found_box)
    classes = np.concatenate(found_cls)
    scores = np.concatenate(found_score)
    out = []
    for c in np.unique(classes):
        idx = np.nonzero(classes == c)[0]
        for k in _nms(boxes[idx], scores[idx], iou):
            out.append((int(c), float(scores[idx[k]]), boxes[idx[k]]))
    out.sort(key=lambda d: -d[1])
    return out


class NanoDet:
    """One onnxruntime session; :meth:`detect` takes an ``[H, W, 3]`` uint8 RGB frame."""

    def __init__(self, onnx_file: Path, threads: int = 1) -> None:
        self.session = cpu_session(onnx_file, threads)
        self.input_name = self.session.get_inputs()[0].name
        self.output_names = [o.name for o in self.session.get_outputs()]

    def raw(self, x: np.ndarray) -> dict[str, np.ndarray]:
        return dict(zip(self.output_names, self.session.run(None, {self.input_name: x}), strict=True))

    def detect(self, rgb: np.ndarray, min_score: float = 0.3, iou: float = 0.5) -> list[Detection]:
        h, w = rgb.shape[:2]
        x, scale = letterbox(rgb)
        dets = []
        for c, score, box in decode(self.raw(x), min_score=min_score, iou=iou):
            x1, y1, x2, y2 = (np.clip(box / scale, 0, [w, h, w, h]) / [w, h, w, h]).tolist()
            if x2 - x1 <= 0 or y2 - y1 <= 0:
                continue
            dets.append(Detection(COCO80[c], round(score, 4), (round(x1, 4), round(y1, 4), round(x2, 4), round(y2, 4))))
        return dets
