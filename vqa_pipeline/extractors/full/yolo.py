"""Full profile: the ``objects`` group from a local ultralytics YOLO weights file (``yolo``).

The same extractor as the lite NanoDet one (:class:`~vqa_pipeline.extractors.objects.Objects`:
sparse keyframes, unchanged frames skipped, counts/labels/boxes columns, ``objects: ...`` lines);
only the detector differs. Weights are never downloaded (ultralytics would fetch ``yolov8n.pt``
by name): give a file with ``VQA_DETECTOR_WEIGHTS`` or the ``weights`` option. The class names come
from the checkpoint, so a model trained on other classes names them in the lines.

``ultralytics`` is installed by ``scripts/setup.sh`` with ``VQA_SETUP_FULL=1`` (``--no-deps``: its
metadata asks for opencv-python, which clashes with the project's opencv-python-headless).
Device: ``VQA_DEVICE`` (``auto``: CUDA when visible).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from vqa_pipeline.extractors.full.common import WeightsNotFound, explicit_path, require_modules, torch_device
from vqa_pipeline.extractors.objects import Objects
from vqa_pipeline.models.nanodet import Detection

ENV_WEIGHTS = "VQA_DETECTOR_WEIGHTS"

_DIGESTS: dict[tuple[str, int, int], str] = {}


def weights_digest(path: Path) -> str:
    """``-`` and the first 12 hex digits of the file's sha256 (``""`` when it is not a readable file).

    Hashed once per process per (path, size, mtime): the tag is computed whenever the extractor is built.
    """
    import hashlib

    try:
        st = path.stat()
        key = (str(path.resolve()), st.st_size, st.st_mtime_ns)
        if key not in _DIGESTS:
            h = hashlib.sha256()
            with path.open("rb") as f:
                for block in iter(lambda: f.read(1 << 20), b""):
                    h.update(block)
            _DIGESTS[key] = h.hexdigest()[:12]
        return f"-{_DIGESTS[key]}"
    except OSError:
        return ""


class YoloObjects(Objects):
    """COCO (or the checkpoint's own) objects per window from a local YOLO ``.pt`` file."""

    name = "yolo"
    group = "objects"
    kind = "visual"
    model_id = "yolo"
    version = "3"  # 2: shot frames and "nothing seen" lines; 3: colours inside the boxes; as Objects
    num_gpus = 0.25

    def __init__(self, **options) -> None:
        super().__init__(**options)
        self._device = "cpu"
        raw = options.get("weights") or os.environ.get(ENV_WEIGHTS)
        if raw:  # the tag names the weights: another file (or new weights under the same name) makes the columns stale
            self.model_id = f"yolo-{Path(str(raw)).name}{weights_digest(Path(str(raw)))}"

    def weights(self) -> Path:
        src = explicit_path(self.options, "weights", ENV_WEIGHTS)
        if src is None:
            raise WeightsNotFound(f"set {ENV_WEIGHTS} to a local ultralytics YOLO weights file (e.g. yolov8n.pt)")
        if not src.path.is_file():
            raise WeightsNotFound(f"{src.origin} points to {src.path}, which is not a file")
        return src.path

    def availability(self) -> tuple[bool, str]:
        ok, why = require_modules("detector", ("torch", "ultralytics"),
                                  " (scripts/setup.sh installs ultralytics with VQA_SETUP_FULL=1)")
        if not ok:
            return False, why
        try:
            path = self.weights()
        except WeightsNotFound as err:
            return False, f"weights not found: {err}"
        return True, f"weights: {path} (from {ENV_WEIGHTS if not self.options.get('weights') else 'option weights'})"

    def load(self) -> None:
        if self._detector is None:
            os.environ.setdefault("YOLO_OFFLINE", "1")  # no update checks or asset downloads
            from ultralytics import YOLO

            path = self.weights()
            try:
                model = YOLO(str(path), task="detect")
            except Exception as err:  # a damaged or foreign file: one line naming it
                raise RuntimeError(f"{path}: not a loadable YOLO weights file ({type(err).__name__})") from None
            self._device = torch_device(self.options.get("device"), self.name)
            self._detector = model

    def detect(self, rgb: np.ndarray, min_score: float) -> list:
        self.load()
        h, w = rgb.shape[:2]
        result = self._detector.predict(np.ascontiguousarray(rgb[:, :, ::-1]), conf=min_score, device=self._device,
                                        verbose=False, imgsz=int(self.options.get("imgsz", 640)))[0]
        names = result.names
        boxes = result.boxes
        out = []
        for (x1, y1, x2, y2), score, cls in zip(boxes.xyxy.cpu().numpy().tolist(), boxes.conf.cpu().numpy().tolist(),
                                                boxes.cls.cpu().numpy().astype(int).tolist(), strict=True):
            box = (round(max(0.0, x1 / w), 4), round(max(0.0, y1 / h), 4), round(min(1.0, x2 / w), 4),
                   round(min(1.0, y2 / h), 4))
            out.append(Detection(str(names[cls]), round(float(score), 4), box))
        out.sort(key=lambda d: -d.score)
        return out
