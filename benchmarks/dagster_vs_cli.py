"""Indexing the sample corpus: `vqa index` against the Dagster path (issue 11, point 4).

(One self-contained script by design: a benchmark is run and read as a single file.)

    .venv/bin/python benchmarks/dagster_vs_cli.py                 # both, the sample corpus (about 2-4 min)
    .venv/bin/python benchmarks/dagster_vs_cli.py --only dagster  # the Dagster path alone
    .venv/bin/python benchmarks/dagster_vs_cli.py --ray per-run   # a Ray per run (before issue 11)

`vqa index`: ``python -m vqa_pipeline.cli index data/sample --db DB -q`` as a subprocess, into a
fresh database (the lite profile, Ray actors, as a user runs it).

Dagster: a fresh ``DAGSTER_HOME`` holding the project's ``dagster.yaml`` and a fresh database, as
``scripts/dagster.sh`` sets them up. The project's sensor (``new_videos_sensor``, from the
definitions the UI loads) ticks once over ``data/sample``; its partitions are added to the
instance, and each run request is then run as the daemon runs it: one new process per run
(``dagster job execute -m vqa_pipeline.orchestration.definitions -j index_video --tags ...``,
the request's tags: partition key and file paths), one run at a time (``max_concurrent_runs: 1``
in ``dagster.yaml``). ``--ray shared`` (the default) first starts the Ray that ``scripts/dagster.sh
dev`` keeps up for its runs (``vqa_pipeline.orchestration.shared_ray``), inside the timing, and
stops it afterwards, outside; ``--ray per-run`` leaves ``VQA_RAY_ADDRESS`` unset, so each run
starts its own Ray, as every run did before. The time covers the tick and every run.

Prints both wall times, their ratio, the per-run times, and how many videos each path indexed.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import REPO, SAMPLE, command_line, machine  # noqa: E402

sys.path.insert(0, str(REPO))  # this checkout's vqa_pipeline, as the subprocesses (cwd REPO) use

PY = sys.executable
DAGSTER = str(Path(sys.executable).parent / "dagster")
DEFS = "vqa_pipeline.orchestration.definitions"
STEP_DONE = re.compile(r'Finished execution of step "(\w+)" in ([\d.]+)(ms|s)\.')


def indexed_count(db: Path) -> tuple[int, int]:
    """(indexed, failed) videos in a database, read in a subprocess so this process stays light."""
    code = ("import json, sys; from vqa_pipeline.store import Store; v = Store(sys.argv[1]).video_records(); "
            "print(json.dumps([sum(r['status'] == s for r in v.values()) for s in ('indexed', 'failed')]))")
    out = subprocess.run([PY, "-c", code, str(db)], cwd=REPO, capture_output=True, text=True, check=True)
    indexed, failed = json.loads(out.stdout)
    return indexed, failed


def run_cli(work: Path) -> float:
    db = work / "cli" / "lance"
    cmd = [PY, "-m", "vqa_pipeline.cli", "index", str(SAMPLE), "--db", str(db), "-q"]
    t0 = time.perf_counter()
    subprocess.run(cmd, cwd=REPO, check=True, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - t0
    print(f"vqa index: {wall:.1f} s, indexed/failed {indexed_count(db)}", flush=True)
    return wall


def dagster_env(work: Path) -> dict[str, str]:
    home = work / "dagster_home"
    home.mkdir(parents=True)
    config = (REPO / "dagster.yaml").read_text().replace("base_dir: .vqa/dagster", f"base_dir: {home}")
    (home / "dagster.yaml").write_text(config)
    return {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "VQA_DEPLOYMENT": "local",
        "VQA_HOME": str(work / "state"),
        "VQA_DB": str(work / "state" / "lance"),
        "VQA_SOURCE_DIR": str(SAMPLE),
        "VQA_PROFILE": "lite",
        "VQA_DEVSET": str(SAMPLE / "devset.jsonl"),
        "HF_HUB_OFFLINE": "1",
    }


# The sensor tick, in a process of its own with the instance of DAGSTER_HOME: adds the partitions
# and prints the run requests' tags.
TICK = """
import json
import dagster as dg
from vqa_pipeline.orchestration.definitions import defs
instance = dg.DagsterInstance.get()
sensor = defs.get_sensor_def("new_videos_sensor")
tick = sensor(dg.build_sensor_context(instance=instance, resources={"settings": defs.resources["settings"]}))
for request in tick.dynamic_partitions_requests:
    instance.add_dynamic_partitions(request.partitions_def_name, list(request.partition_keys))
print(json.dumps([{**request.tags, "dagster/partition": request.partition_key} for request in tick.run_requests]))
"""


def run_dagster(work: Path, ray: str) -> tuple[float, list[float]]:
    env = dagster_env(work)
    t0 = time.perf_counter()
    with contextlib.ExitStack() as stack:
        if ray == "shared":
            from vqa_pipeline.orchestration.shared_ray import ENV_RAY_ADDRESS, auth_env, shared_ray

            auth = auth_env()  # one token for the head and the runs that join it
            env.update(auth, **{ENV_RAY_ADDRESS: stack.enter_context(shared_ray(auth=auth))})
        started = time.perf_counter() - t0
        wall, per_run, n = _tick_and_runs(env, t0)
    print(f"dagster ({ray} Ray): {wall:.1f} s for {n} runs (Ray start {started:.1f} s; per run min/median/max "
          f"{min(per_run):.1f}/{sorted(per_run)[n // 2]:.1f}/{max(per_run):.1f} s), indexed/failed "
          f"{indexed_count(Path(env['VQA_DB']))}", flush=True)
    return wall, per_run


def _tick_and_runs(env: dict[str, str], t0: float) -> tuple[float, list[float], int]:
    tick = subprocess.run([PY, "-c", TICK], cwd=REPO, env=env, capture_output=True, text=True)
    if tick.returncode:
        sys.exit(f"sensor tick failed: {tick.stderr[-2000:]}")
    requests = json.loads(tick.stdout.strip().splitlines()[-1])
    per_run: list[float] = []
    steps: dict[str, list[float]] = {}
    for tags in requests:
        t1 = time.perf_counter()
        out = subprocess.run([DAGSTER, "job", "execute", "-m", DEFS, "-d", str(REPO), "-j", "index_video", "--tags",
                              json.dumps(tags)], cwd=REPO, env=env, capture_output=True, text=True)
        per_run.append(time.perf_counter() - t1)
        if out.returncode:
            errors = [ln for ln in out.stderr.splitlines() if "ERROR" in ln or "Error" in ln]
            sys.exit(f"run for {tags['vqa/paths']} failed: {errors[-5:] or out.stderr[-2000:]}")
        for step, value, unit in STEP_DONE.findall(out.stdout + out.stderr):
            steps.setdefault(step, []).append(float(value) / (1000.0 if unit == "ms" else 1.0))
    # Where a run's time goes: each step's median, and the rest (process start, imports, the run's records).
    medians = {k: statistics.median(v) for k, v in steps.items()}
    rest = statistics.median(w - sum(v[i] for v in steps.values() if i < len(v)) for i, w in enumerate(per_run))
    print("per run, median s: " + ", ".join(f"{k} {v:.1f}" for k, v in medians.items())
          + f", outside the steps {rest:.1f}", flush=True)
    return time.perf_counter() - t0, per_run, len(requests)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--only", choices=("cli", "dagster"), help="run one of the two paths")
    ap.add_argument("--ray", choices=("shared", "per-run"), default="shared",
                    help="Dagster runs join one Ray kept up for them (default), or start a Ray each")
    args = ap.parse_args()
    print(f"machine: {machine()}")
    print(f"command: {command_line()}", flush=True)
    with tempfile.TemporaryDirectory(prefix="vqa-dagster-vs-cli-") as tmp:
        work = Path(tmp)
        cli = run_cli(work) if args.only != "dagster" else None
        dag, _ = run_dagster(work, args.ray) if args.only != "cli" else (None, [])
    if cli and dag:
        print(f"dagster / vqa index: {dag / cli:.2f}x")


if __name__ == "__main__":
    main()
