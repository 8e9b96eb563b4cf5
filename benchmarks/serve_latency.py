"""Warm latency of `vqa serve` through HTTP: ``/api/search`` and ``/api/ask`` on an index.

Starts ``vqa serve --db DB --port 0`` as a subprocess (the models load once, before the URL is
printed), then sends every dev-set question one at a time, ``--rounds`` times, to ``/api/search``
(k=10) and to ``/api/ask`` (the local Gemma 3 270M unless ``--extractive``), and reports the
start-up time and p50/p95/max per endpoint. Targets (issue 11): search p50 <= 100 ms, ask p50 <= 1 s
on 2 cores with the bundled model.

Usage:
    .venv/bin/vqa index data/sample --db /tmp/vqa-sample          # once
    .venv/bin/python benchmarks/serve_latency.py --db /tmp/vqa-sample [--rounds 2] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import REPO, SAMPLE, command_line, machine  # noqa: E402


def percentile(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, max(0, round(p / 100 * (len(s) - 1))))]


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux ``/proc``): what a request costs the
    server whatever else the machine is doing."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def get(url: str) -> tuple[float, dict]:
    t = time.perf_counter()
    with urllib.request.urlopen(url, timeout=300) as resp:
        body = json.loads(resp.read())
    return time.perf_counter() - t, body


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--db", type=Path, required=True, help="an index (e.g. of data/sample)")
    ap.add_argument("--devset", type=Path, default=SAMPLE / "devset.jsonl")
    ap.add_argument("--rounds", type=int, default=2, help="times each question is sent to each endpoint")
    ap.add_argument("--extractive", action="store_true", help="serve answers without the model")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()

    questions = [json.loads(line)["question"] for line in args.devset.read_text().splitlines() if line.strip()]
    cmd = [sys.executable, "-m", "vqa_pipeline.cli", "serve", "--db", str(args.db), "--port", "0"]
    if args.extractive:
        cmd.append("--extractive")
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                            env={**os.environ, "HF_HUB_OFFLINE": "1"})
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        startup = time.perf_counter() - t0
        m = re.search(r"http://[^/]+:(\d+)/", line)
        if not m:
            print(f"serve_latency: vqa serve did not start ({line.strip() or 'no output'})", file=sys.stderr)
            return 1
        base = f"http://127.0.0.1:{m.group(1)}"
        times: dict[str, list[float]] = {"search": [], "ask": []}
        cpu: dict[str, float] = {"search": 0.0, "ask": 0.0}
        answered = 0
        for _ in range(args.rounds):
            c = cpu_seconds(proc.pid)
            for q in questions:
                dt, _ = get(f"{base}/api/search?q={urllib.parse.quote(q)}&k=10")
                times["search"].append(dt)
            cpu["search"] += cpu_seconds(proc.pid) - c
            c = cpu_seconds(proc.pid)
            for q in questions:
                dt, body = get(f"{base}/api/ask?q={urllib.parse.quote(q)}")
                times["ask"].append(dt)
                answered += not body["abstained"]
            cpu["ask"] += cpu_seconds(proc.pid) - c
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    result = {
        "machine": machine(), "load_average": os.getloadavg(), "command": command_line(),
        "db": str(args.db), "questions": len(questions), "rounds": args.rounds, "startup_s": round(startup, 2),
        "answered": answered,
        **{f"{name}_cpu_ms_per_request": round(1000 * cpu[name] / len(times[name]), 1) for name in times},
        **{f"{name}_{stat}_ms": round(1000 * fn(v), 1) for name, v in times.items()
           for stat, fn in (("p50", statistics.median), ("p95", lambda x: percentile(x, 95)), ("max", max))},
    }
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    print(f"machine: {result['machine']}; load average {', '.join(f'{x:.1f}' for x in result['load_average'])}")
    print(f"command: {result['command']}")
    print(f"start-up (models loaded, one warm-up question): {startup:.1f} s")
    for name in times:
        print(f"{name:6s} n={len(times[name]):3d}  p50 {result[f'{name}_p50_ms']:7.1f} ms  "
              f"p95 {result[f'{name}_p95_ms']:7.1f} ms  max {result[f'{name}_max_ms']:7.1f} ms  "
              f"server CPU {result[f'{name}_cpu_ms_per_request']:7.1f} ms/request")
    print(f"answered (not abstained): {answered} of {len(times['ask'])}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
