"""Thousands of bad files: what `vqa index` costs when no file is media (issue 15, point 5).

(One self-contained script by design: a benchmark is run and read as a single file.)

    .venv/bin/python benchmarks/bad_files.py                    # 2,000 bad files, this checkout's code
    .venv/bin/python benchmarks/bad_files.py --n 500            # fewer
    .venv/bin/python benchmarks/bad_files.py --vqa "env PYTHONPATH=/tmp/snap-before .venv/bin/python -m vqa_pipeline.cli"   # another checkout

Creates N small text files named ``.mp4`` (each with different bytes, so nothing is deduplicated)
in a temporary folder, then runs ``vqa index FOLDER --db DB -q`` (the lite profile, as a user
would) twice as a subprocess: the first run records every failure, the second finds nothing changed. Prints both
wall times (the whole command, interpreter start included), the database size on disk after each
run, the number of table versions, and the exact commands.

``--vqa`` is a shell prefix that runs the CLI (default: this checkout's code, run as
``python -m vqa_pipeline.cli`` from the repository root so it shadows any installed copy).
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import REPO, command_line, machine  # noqa: E402


def make_bad_files(folder: Path, n: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        (folder / f"clip{i:05d}.mp4").write_text(f"not a video, file number {i}\n")


def du(path: Path) -> int:
    total = 0
    for root, _dirs, files in os.walk(path):
        for f in files:
            try:
                total += (Path(root) / f).stat().st_size
            except OSError:
                pass
    return total


def versions(db: Path) -> dict[str, int]:
    """Table name -> number of committed versions (manifests in ``_versions``)."""
    out = {}
    for t in sorted(db.glob("*.lance")):
        out[t.stem] = len(list((t / "_versions").glob("*.manifest")))
    return out


def run(cmd: str, timeout: float) -> tuple[float, int, str]:
    t0 = time.perf_counter()
    p = subprocess.run(["bash", "-c", cmd], capture_output=True, text=True, timeout=timeout,
                       env={**os.environ, "HF_HUB_OFFLINE": "1"})
    tail = (p.stdout.strip().splitlines() or [""])[-1]
    return time.perf_counter() - t0, p.returncode, tail


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=2000, help="number of bad files (default 2000)")
    ap.add_argument("--vqa", default=f"cd {shlex.quote(str(REPO))} && {shlex.quote(sys.executable)} -m vqa_pipeline.cli",
                    help="shell prefix that runs the CLI")
    ap.add_argument("--timeout", type=float, default=3600, help="seconds allowed per run")
    ap.add_argument("--windows-only", action="store_true", help="pass --windows-only (no extractors)")
    ap.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = ap.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="vqa-bad-files-"))
    try:
        folder, db = tmp / "bad", tmp / "db"
        make_bad_files(folder, args.n)
        cmd = f"{args.vqa} index {shlex.quote(str(folder))} --db {shlex.quote(str(db))} -q"
        if args.windows_only:
            cmd += " --windows-only"
        print(f"# {command_line()}")
        print(f"# {machine()}")
        print(f"# run: {cmd}")
        for label in ("first run", "re-run"):
            wall, rc, tail = run(cmd, args.timeout)
            print(f"{label:9s}  {args.n} bad files  {wall:8.2f} s  exit {rc}  db {du(db) / 2**20:8.2f} MiB  "
                  f"versions {versions(db)}")
            print(f"           last line: {tail}")
    finally:
        if args.keep:
            print(f"# kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
