#!/usr/bin/env bash
# Sets up .venv and runs the main job on the bundled sample corpus: index every clip with the
# lite models (Ray actors), show the evidence of one clip, search, and answer a question.
# State goes to ./.vqa (VQA_HOME).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export HF_HUB_OFFLINE=1
.venv/bin/vqa index data/sample "$@"
.venv/bin/vqa evidence cooking_tutorial.mp4
.venv/bin/vqa search "when does the fire alarm sound?" --k 3
.venv/bin/vqa ask "which platform for Cambridge?"
