"""PaddleOCR on keyframes, from local PaddlePaddle model folders, as an alternative to rapidocr.

Same pipeline and columns as ``rapidocr`` (group ``ocr``: change-skipping over keyframes, runs of the
same text merged over windows, ``ocr_boxes``); only the engine that reads a frame differs.

Backends (``backend`` option / ``$VQA_PADDLEOCR_BACKEND``, ``auto`` picks the first that imports):

- ``paddleocr``: the official PaddleOCR 3.x pipeline (``PaddleOCR(...).predict``) with the model
  folders passed as ``text_detection_model_dir`` / ``text_recognition_model_dir`` (no document
  orientation, unwarping or text-line orientation models). PaddleOCR's helper package paddlex pins
  numpy<2.4 and opencv-contrib 4.10, which clash with this project's pins: install it in its own
  environment, or with ``--no-deps`` at your own risk.
- ``rapidocr-paddle``: rapidocr's pipeline with its PaddlePaddle inference engine on the same model
  folders (needs only ``paddlepaddle``, the ``paddle`` extra).

Model folders (PaddleX layout: ``inference.json`` or ``inference.pdmodel``, ``inference.pdiparams``,
``inference.yml``), first match wins:

1. ``det_model_dir`` / ``$VQA_PADDLEOCR_DET_DIR`` and ``rec_model_dir`` / ``$VQA_PADDLEOCR_REC_DIR``;
2. ``model_dir`` / ``$VQA_PADDLEOCR_MODEL_DIR``: a folder holding ``*_det`` and ``*_rec`` subfolders
   (e.g. ``PP-OCRv5_server_det``, ``PP-OCRv5_server_rec``);
3. PaddleX's own cache, ``$PADDLE_PDX_CACHE_HOME/official_models`` or ``~/.paddlex/official_models``.

``det_model``/``rec_model`` pick among several folders by name (default: PP-OCRv5 server, then mobile).
Other options as ``rapidocr`` (``min_score``, ``skip_threshold``), plus ``device`` (``cpu``/``gpu``)
and ``rec_keys_path`` (rapidocr-paddle: the character dictionary; default: read from ``inference.yml``).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np

from vqa_pipeline.extractors.full.common import WeightsNotFound, WeightsSource, cached, option
from vqa_pipeline.extractors.models import cache_root, module_available
from vqa_pipeline.extractors.ocr import RapidOcr, _Read, normalize_text

ENV_BACKEND = "VQA_PADDLEOCR_BACKEND"
ENV_MODEL_DIR = "VQA_PADDLEOCR_MODEL_DIR"
ENV_DET_DIR = "VQA_PADDLEOCR_DET_DIR"
ENV_REC_DIR = "VQA_PADDLEOCR_REC_DIR"
PREFERRED = {
    "det": ("PP-OCRv5_server_det", "PP-OCRv5_mobile_det", "PP-OCRv4_server_det", "PP-OCRv4_mobile_det"),
    "rec": ("PP-OCRv5_server_rec", "PP-OCRv5_mobile_rec", "PP-OCRv4_server_rec", "PP-OCRv4_mobile_rec"),
}
_MODEL_NAME_RE = re.compile(r"^\s*model_name:\s*['\"]?([\w.\-]+)", re.M)


def is_model_dir(folder: Path) -> bool:
    return (folder / "inference.pdiparams").is_file() and (
        (folder / "inference.json").is_file() or (folder / "inference.pdmodel").is_file()
    )


def model_name(folder: Path) -> str:
    """The PaddleX model name in ``inference.yml`` (``Global.model_name``), else the folder name."""
    yml = folder / "inference.yml"
    if yml.is_file():
        m = _MODEL_NAME_RE.search(yml.read_text(encoding="utf-8", errors="replace"))
        if m:
            return m.group(1)
    return folder.name


def _pdx_cache() -> Path:
    env = os.environ.get("PADDLE_PDX_CACHE_HOME")
    return (Path(env).expanduser() if env else Path.home() / ".paddlex") / "official_models"


def _pick(root: Path, task: str, wanted: str | None) -> Path | None:
    if not root.is_dir():
        return None
    cands = [d for d in root.iterdir() if d.is_dir() and is_model_dir(d) and d.name.lower().endswith(f"_{task}")]
    if wanted:
        return next((d for d in cands if d.name == wanted or model_name(d) == wanted), None)
    for name in PREFERRED[task]:
        hit = next((d for d in cands if d.name == name), None)
        if hit is not None:
            return hit
    return sorted(cands)[0] if cands else None


def locate_models(options: dict) -> tuple[WeightsSource, WeightsSource]:
    """(detection folder, recognition folder) for ``options``.

    Raises:
        WeightsNotFound: with where to put them.
    """
    found: dict[str, WeightsSource] = {}
    for task, key, env in (("det", "det_model_dir", ENV_DET_DIR), ("rec", "rec_model_dir", ENV_REC_DIR)):
        raw, origin = option(options, key), f"option {key}"
        if raw is None and os.environ.get(env):
            raw, origin = os.environ[env], env
        if raw is not None:
            p = Path(str(raw)).expanduser()
            if not is_model_dir(p):
                raise WeightsNotFound(f"{origin}: {p} is not a PaddlePaddle model folder (inference.json/pdiparams)")
            found[task] = WeightsSource(p, origin)
    roots = []
    base = option(options, "model_dir", ENV_MODEL_DIR)
    if base:
        roots.append((Path(str(base)).expanduser(), "option model_dir" if options.get("model_dir") else ENV_MODEL_DIR))
    roots.append((_pdx_cache(), "PaddleX cache"))
    for task in ("det", "rec"):
        if task in found:
            continue
        for root, origin in roots:
            hit = _pick(root, task, options.get(f"{task}_model"))
            if hit is not None:
                found[task] = WeightsSource(hit, origin)
                break
    missing = [t for t in ("det", "rec") if t not in found]
    if missing:
        raise WeightsNotFound(
            f"no PaddleOCR {' and '.join(missing)} model folder: set {ENV_MODEL_DIR} to a folder holding "
            f"e.g. PP-OCRv5_server_det and PP-OCRv5_server_rec, or {ENV_DET_DIR} / {ENV_REC_DIR}"
        )
    return found["det"], found["rec"]


def choose_backend(requested: str | None) -> str | None:
    req = (requested or "auto").lower()
    if req == "auto":
        if module_available("paddleocr"):
            return "paddleocr"
        if module_available("paddle"):
            return "rapidocr-paddle"
        return None
    if req not in ("paddleocr", "rapidocr-paddle"):
        raise ValueError(f"PaddleOCR backend must be auto, paddleocr or rapidocr-paddle, got {requested!r}")
    return req


def reads_from_result(result, width: int, height: int, min_score: float) -> list[_Read]:
    """``_Read`` items from one PaddleOCR 3.x result (``rec_texts``, ``rec_scores``, ``rec_polys``)."""
    texts = list(result.get("rec_texts") or [])
    scores = list(result.get("rec_scores") or [])
    polys = result.get("rec_polys")
    if polys is None:
        polys = result.get("dt_polys")
    reads = []
    for i, (txt, score) in enumerate(zip(texts, scores)):
        txt = " ".join(str(txt).split())
        if float(score) < min_score or not normalize_text(txt):
            continue
        box = [0.0, 0.0, 1.0, 1.0]
        if polys is not None and len(polys) > i:
            pts = np.asarray(polys[i], dtype=np.float32).reshape(-1, 2)
            box = [float(pts[:, 0].min() / width), float(pts[:, 1].min() / height),
                   float(pts[:, 0].max() / width), float(pts[:, 1].max() / height)]
            box = [min(1.0, max(0.0, v)) for v in box]
        reads.append(_Read(txt, float(score), box))
    return reads


def _rec_keys(rec_dir: Path, explicit: str | None) -> str | None:
    """A character dictionary file for rapidocr: given, a ``*.txt`` in the folder, or from inference.yml."""
    if explicit:
        return str(explicit)
    txts = sorted(rec_dir.glob("*.txt"))
    if txts:
        return str(txts[0])
    yml = rec_dir / "inference.yml"
    if not yml.is_file():
        return None
    import yaml

    cfg = yaml.safe_load(yml.read_text(encoding="utf-8"))
    chars = ((cfg or {}).get("PostProcess") or {}).get("character_dict")
    if not chars:
        return None
    out = cache_root() / "paddleocr-keys" / f"{model_name(rec_dir)}.txt"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(str(c) for c in chars), encoding="utf-8")
    return str(out)


class PaddleOcr(RapidOcr):
    """PaddleOCR models from local folders; registry name ``paddleocr`` (group ``ocr``)."""

    name = "paddleocr"
    model_id = "paddleocr"
    version = "1"
    num_gpus = 0.0  # paddlepaddle (CPU build) by default; set device=gpu with paddlepaddle-gpu

    def __init__(self, **options) -> None:
        super().__init__(**options)
        try:
            det, rec = locate_models(options)
            self.model_id = f"paddleocr-{model_name(det.path)}-{model_name(rec.path)}"
        except WeightsNotFound:
            pass

    def availability(self) -> tuple[bool, str]:
        try:
            backend = choose_backend(option(self.options, "backend", ENV_BACKEND))
        except ValueError as err:
            return False, str(err)
        if backend is None:
            return False, ("install the paddle extra (pip install -e .[paddle]) for the rapidocr-paddle backend, "
                           "or PaddleOCR 3.x (its own environment) for the paddleocr backend")
        try:
            det, rec = locate_models(self.options)
        except WeightsNotFound as err:
            return False, f"weights not found: {err}"
        return True, f"weights: {det.path} + {rec.path} (from {det.origin}); {backend} backend"

    def load(self) -> None:
        if getattr(self, "_engine", None) is not None:
            return
        backend = choose_backend(option(self.options, "backend", ENV_BACKEND))
        if backend is None:
            raise RuntimeError("neither paddleocr nor paddle imports here (pip install -e .[paddle])")
        det, rec = locate_models(self.options)
        device = str(self.options.get("device") or "cpu")
        self._backend = backend
        if backend == "paddleocr":
            def build():
                from paddleocr import PaddleOCR

                return PaddleOCR(
                    text_detection_model_dir=str(det.path), text_detection_model_name=model_name(det.path),
                    text_recognition_model_dir=str(rec.path), text_recognition_model_name=model_name(rec.path),
                    use_doc_orientation_classify=False, use_doc_unwarping=False, use_textline_orientation=False,
                    device=device,
                )
        else:
            params = {
                "Global.log_level": "error",
                "Global.use_cls": False,
                "Global.text_score": float(self.options.get("min_score", 0.5)),
                "Det.engine_type": "paddle",
                "Det.model_dir": str(det.path),
                "Det.limit_type": "max",
                "Det.limit_side_len": int(self.options.get("det_side", 736)),
                "Rec.engine_type": "paddle",
                "Rec.model_dir": str(rec.path),
                "EngineConfig.paddle.use_cuda": device.startswith("gpu") or device.startswith("cuda"),
            }
            keys = _rec_keys(rec.path, self.options.get("rec_keys_path"))
            if keys:
                params["Rec.rec_keys_path"] = keys

            def build():
                from rapidocr import RapidOCR

                return RapidOCR(params=params)
        self._engine = cached(("paddleocr", backend, str(det.path), str(rec.path), device), build)

    def read_frame(self, rgb: np.ndarray) -> list[_Read]:
        self.load()
        if self._backend == "rapidocr-paddle":
            return super().read_frame(rgb)
        h, w = rgb.shape[:2]
        min_score = float(self.options.get("min_score", 0.5))
        reads: list[_Read] = []
        for res in self._engine.predict(np.ascontiguousarray(rgb[:, :, ::-1])):  # PaddleOCR takes BGR arrays
            reads.extend(reads_from_result(res, w, h, min_score))
        return reads
