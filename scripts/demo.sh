#!/usr/bin/env bash
# Sets up .venv and runs the main job on the bundled sample corpus: index every clip with the
# lite models (Ray actors), then show the evidence of one clip. State goes to ./.vqa (VQA_HOME).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export HF_HUB_OFFLINE=1
.venv/bin/vqa index data/sample "$@"
.venv/bin/vqa evidence cooking_tutorial.mp4
