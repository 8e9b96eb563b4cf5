#!/usr/bin/env bash
# Sets up .venv (scripts/setup.sh), lints and type-checks, and runs the whole test suite offline.
set -euo pipefail
cd "$(dirname "$0")/.."
# The full-profile libraries too, so their random-weight tests run (about 4 extra minutes).
VQA_SETUP_FULL=${VQA_SETUP_FULL:-1} bash scripts/setup.sh
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
# Lint and types first (both pinned in the dev extra); either one failing fails the script. mypy runs
# from the repository root so pyproject.toml's [tool.mypy] (files = vqa_pipeline) applies.
.venv/bin/ruff check vqa_pipeline vqa_pipeline_tests benchmarks scripts
.venv/bin/mypy
# -rsx: the summary lists every skipped (and xfailed) test with its reason. With CI=true a missing
# tool or library fails its tests instead of skipping them (vqa_pipeline_tests/needs.py).
exec .venv/bin/python -m pytest -q -rsx -p no:cacheprovider "$@"
