"""Several `vqa index` writers on one ``s3+ddb://`` index at once, again and again (issue 13's race).

Each round starts a fresh moto server (S3 + DynamoDB on 127.0.0.1), starts ``--writers`` writers on
disjoint folders ``--stagger`` seconds apart (each later one's self-check runs while the others
work), and checks that every video's record matches its window rows. Prints one line per round
(the repairs each writer reported) and exits 1 at the first round that lost rows (``--keep-going``:
after all rounds, if any did).

    PYTHONPATH=$PWD python benchmarks/s3_two_writers_stress.py --rounds 10 --writers 4 --clips 4 --stagger 3
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from vqa_pipeline_tests.deployment_battery import VQA
from vqa_pipeline_tests.media_factory import make_clip
from vqa_pipeline_tests.s3_server import start_s3_server


def one_round(tmp: Path, writers: int, clips: int, stagger_s: float) -> tuple[bool, str]:
    server = start_s3_server(tmp / "moto.log")
    try:
        server.create_bucket("vqa")
        table = server.create_commit_table()
        env = {**os.environ, **server.env(), "RAY_ADDRESS": "local", "VQA_RAY_ADDRESS": "local",
               "VQA_HOME": str(tmp / "state"), "HF_HUB_OFFLINE": "1"}
        db = f"s3+ddb://vqa/shared?ddbTableName={table}"
        folders = []
        for w in range(writers):
            folder = tmp / f"writer{w}"
            folder.mkdir()
            for i in range(clips):
                make_clip(folder / f"clip{i:02d}.mp4", duration_s=4.0, tone_hz=200 + 500 * w + 37 * i)
            folders.append(folder)
        procs = []
        for folder in folders:
            procs.append(subprocess.Popen([VQA, "index", str(folder), "--db", db, "--windows-only", "--json", "-q"],
                                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env))
            time.sleep(stagger_s)
        repairs = []
        for p in procs:
            out, err = p.communicate(timeout=600)
            if p.returncode != 0:
                return False, f"a writer failed: {err.strip().splitlines()[-1:]}"
            repairs.append(json.loads(out).get("repairs"))
        code = ("import json, sys; from vqa_pipeline.store.location import DbLocation; "
                "db = DbLocation.of(sys.argv[1]).connect(); "
                "print(json.dumps({n: db.open_table(n).search().select(c).limit(None).to_arrow().to_pylist() "
                "for n, c in [('videos', ['video_id', 'n_windows']), ('windows', ['video_id'])]}))")
        got = json.loads(subprocess.run([sys.executable, "-c", code, db], capture_output=True, text=True,
                                        env=env, check=True).stdout)
        want = {v["video_id"]: v["n_windows"] for v in got["videos"]}
        have = Counter(w["video_id"] for w in got["windows"])
        lost = {vid: f"{have.get(vid, 0)} of {n}" for vid, n in want.items() if have.get(vid, 0) != n}
        ok = len(want) == writers * clips and not lost
        return ok, f"videos {len(want)}, lost {lost or 'none'}, repairs {repairs}"
    finally:
        server.stop()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=10)
    ap.add_argument("--writers", type=int, default=2)
    ap.add_argument("--clips", type=int, default=4, help="clips per writer")
    ap.add_argument("--stagger", type=float, default=0.0, help="seconds between the two writers' starts")
    ap.add_argument("--keep-going", action="store_true", help="run every round even after a loss")
    args = ap.parse_args()
    lost = 0
    for r in range(1, args.rounds + 1):
        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.monotonic()
            ok, line = one_round(Path(tmp), args.writers, args.clips, args.stagger)
        print(f"round {r}: {'ok' if ok else 'LOST ROWS'} ({time.monotonic() - t0:.0f} s) {line}", flush=True)
        lost += not ok
        if not ok and not args.keep_going:
            return 1
    print(f"{args.rounds} rounds, {lost} lost rows")
    return 1 if lost else 0


if __name__ == "__main__":
    sys.exit(main())
