"""The index on a local folder vs an S3-compatible server (moto's, on 127.0.0.1): what it costs.

Times the `vqa` command (wall time, start-up included) for a first `vqa index --windows-only` of N
short clips, the no-op re-run and a search, on a folder, on ``s3://`` and on ``s3+ddb://`` (commits
through DynamoDB), and two writers at once on ``s3+ddb://`` (N/2 clips each).

Usage:
    PYTHONPATH=. .venv/bin/python benchmarks/object_store.py [--clips 8]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import REPO, command_line, machine  # noqa: E402

sys.path.insert(0, str(REPO))
from vqa_pipeline_tests.media_factory import make_clip  # noqa: E402
from vqa_pipeline_tests.s3_server import start_s3_server  # noqa: E402

VQA = str(Path(sys.executable).parent / "vqa")


def timed(env: dict, *args: str) -> float:
    t0 = time.perf_counter()
    out = subprocess.run([VQA, *args], capture_output=True, text=True, env=env)
    if out.returncode != 0:
        raise SystemExit(f"{' '.join(args)}: {out.stderr[-2000:]}")
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clips", type=int, default=8)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        media = root / "media"
        halves = [media / "a", media / "b"]
        for i in range(args.clips):
            folder = halves[i % 2]
            folder.mkdir(parents=True, exist_ok=True)
            make_clip(folder / f"clip{i:02d}.mp4", duration_s=4.0, tone_hz=200 + 37 * i)
        server = start_s3_server(root / "moto.log")
        try:
            server.create_bucket("vqa")
            table = server.create_commit_table()
            env = {**os.environ, **server.env(), "PYTHONPATH": str(REPO), "VQA_HOME": str(root / "state"),
                   "HF_HUB_OFFLINE": "1"}
            rows = []
            for name, db in (("folder", str(root / "db")), ("s3://", "s3://vqa/plain"),
                             ("s3+ddb://", f"s3+ddb://vqa/ddb?ddbTableName={table}")):
                first = timed(env, "index", str(media), "--db", db, "--windows-only", "-q")
                again = timed(env, "index", str(media), "--db", db, "--windows-only", "-q")
                search = timed(env, "search", "a tone", "--db", db, "--json")
                rows.append((name, first, again, search))
            db = f"s3+ddb://vqa/two?ddbTableName={table}"
            t0 = time.perf_counter()
            procs = [subprocess.Popen([VQA, "index", str(h), "--db", db, "--windows-only", "-q"], env=env,
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for h in halves]
            codes = [p.wait() for p in procs]
            both = time.perf_counter() - t0
        finally:
            server.stop()
    print(f"# {command_line()}\n# {machine()}\n")
    print(f"| database | first index ({args.clips} clips) | no-op re-run | search |")
    print("|---|---|---|---|")
    for name, first, again, search in rows:
        print(f"| {name} | {first:.1f} s | {again:.1f} s | {search:.1f} s |")
    print(f"\ntwo writers at once on s3+ddb:// ({args.clips // 2} clips each): {both:.1f} s, exit codes {codes}")


if __name__ == "__main__":
    main()
