#!/usr/bin/env bash
# Runs a dagster command against the project's own instance (.vqa/dagster, sqlite) with the local
# deployment's settings; each variable below keeps a value you set. Examples:
#   bash scripts/dagster.sh dev                         # the UI on http://127.0.0.1:3000
#   bash scripts/dagster.sh asset materialize --select videos,windows --partition <video id>
#   VQA_SOURCE_DIR=~/clips VQA_PROFILE=full bash scripts/dagster.sh dev
# `dev` keeps one Ray up while it runs (stopped when it exits), so the runs reuse the extractors'
# loaded models instead of starting a Ray per run; VQA_SHARED_RAY=0 turns that off.
set -euo pipefail
cd "$(dirname "$0")/.."
# The project's instance (dagster.yaml) is refreshed in the default DAGSTER_HOME; a DAGSTER_HOME
# you set keeps the dagster.yaml it has (it gets the project's one only when it has none).
own_home=${DAGSTER_HOME:+1}
export DAGSTER_HOME="${DAGSTER_HOME:-$PWD/.vqa/dagster}"
export VQA_DEPLOYMENT="${VQA_DEPLOYMENT:-local}"
export VQA_HOME="${VQA_HOME:-$PWD/.vqa}"
export VQA_DB="${VQA_DB:-$VQA_HOME/lance}"
export VQA_SOURCE_DIR="${VQA_SOURCE_DIR:-$PWD/data/sample}"
export VQA_PROFILE="${VQA_PROFILE:-lite}"
export VQA_DEVSET="${VQA_DEVSET:-$PWD/data/sample/devset.jsonl}"
export HF_HUB_OFFLINE=1
# VQA_DAGSTER_STORAGE=postgres: runs, events and schedules in Postgres (deploy/dagster-postgres.yaml, its
# DAGSTER_PG_* settings; README "Dagster on Postgres"), at most VQA_MAX_CONCURRENT_RUNS runs at once.
instance_yaml=dagster.yaml
[ "${VQA_DAGSTER_STORAGE:-sqlite}" = postgres ] && instance_yaml=deploy/dagster-postgres.yaml
cpus=$(nproc 2>/dev/null || echo 1)
export VQA_MAX_CONCURRENT_RUNS="${VQA_MAX_CONCURRENT_RUNS:-$(( cpus / 4 > 1 ? cpus / 4 : 1 ))}"
mkdir -p "$DAGSTER_HOME"
if [ -z "$own_home" ] || [ ! -f "$DAGSTER_HOME/dagster.yaml" ]; then
  sed "s#base_dir: .vqa/dagster#base_dir: $DAGSTER_HOME#" "$instance_yaml" > "$DAGSTER_HOME/dagster.yaml"
fi
# A Postgres instance whose server does not answer: one line now, not Dagster's retries and traceback.
.venv/bin/python -m vqa_pipeline.orchestration.instance_check
cmd=${1:-dev}; shift || true
case "$cmd" in
  asset|job) exec .venv/bin/dagster "$cmd" "$1" -m vqa_pipeline.orchestration.definitions "${@:2}" ;;
  dev)
    # `dagster dev` warns about a dagster.yaml in its current folder that is not DAGSTER_HOME's (the
    # project's own, here): it runs inside DAGSTER_HOME, with this repository's workspace.
    repo=$PWD; cd "$DAGSTER_HOME"
    case " $* " in *" -w "*|*" -f "*|*" -m "*|*" --workspace"*|*" --python-file"*|*" --module-name"*) ;;
      *) set -- -w "$repo/workspace.yaml" "$@" ;; esac
    if [ "$VQA_DEPLOYMENT" = local ] && [ -z "${VQA_RAY_ADDRESS:-}" ] && [ "${VQA_SHARED_RAY:-1}" != 0 ]; then
      exec "$repo/.venv/bin/python" -m vqa_pipeline.orchestration.shared_ray -- "$repo/.venv/bin/dagster" dev "$@"
    fi
    exec "$repo/.venv/bin/dagster" dev "$@" ;;
  *) exec .venv/bin/dagster "$cmd" "$@" ;;
esac
