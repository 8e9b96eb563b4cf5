"""Incremental re-index cost: change 1 % of a corpus's files, index again, compare with the first run.

N small generated clips (2 s, each its own tone and colour) are indexed with ``vqa index`` (the real
command, in a subprocess, as a user runs it: start-up, Ray, every model of the profile); then one clip
in a hundred is rewritten with new content and the same command runs again; then once more with
nothing changed. Printed: the three wall times, the re-run's time against ``first run x changed
share``, and the fixed cost broken down: process start and imports, scanning the unchanged files (the
no-change run), Ray start-up and per-extractor time (model loading dominates on one small clip).

Usage:
    .venv/bin/python benchmarks/reindex_cost.py [--clips 100] [--changed 1] [--profile lite] [--no-ray]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import REPO, command_line, machine  # noqa: E402

VQA = [sys.executable, "-m", "vqa_pipeline.cli"]


def make_corpus(folder: Path, n: int) -> list[Path]:
    sys.path.insert(0, str(REPO))
    from vqa_pipeline_tests.media_factory import make_clip

    folder.mkdir(parents=True, exist_ok=True)
    return [make_clip(folder / f"clip{i:03d}.mp4", duration_s=2.0, tone_hz=200 + 7 * i,
                      scenes=[(0.0, ((37 * i) % 256, (91 * i) % 256, 120))]) for i in range(n)]


def index(media: Path, db: Path, extra: list[str]) -> tuple[float, dict]:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(REPO)}
    env.setdefault("RAY_ADDRESS", "local")
    env.setdefault("VQA_RAY_ADDRESS", "local")
    t0 = time.perf_counter()
    out = subprocess.run([*VQA, "index", str(media), "--db", str(db), "--json", *extra], capture_output=True,
                         text=True, env=env, cwd=REPO)
    wall = time.perf_counter() - t0
    if out.returncode != 0:
        sys.exit(f"vqa index failed: {out.stderr[-2000:]}")
    return wall, json.loads(out.stdout)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--clips", type=int, default=100)
    ap.add_argument("--changed", type=int, default=None, help="clips to rewrite (default: 1 %% of --clips, >= 1)")
    ap.add_argument("--profile", default="lite")
    ap.add_argument("--no-ray", action="store_true", help="extractors in the vqa process (vqa index --no-ray)")
    args = ap.parse_args()
    changed = args.changed or max(1, args.clips // 100)
    extra = ["--profile", args.profile, *(["--no-ray"] if args.no_ray else [])]
    with tempfile.TemporaryDirectory(prefix="vqa-reindex-") as tmp:
        media, db = Path(tmp) / "media", Path(tmp) / "db"
        clips = make_corpus(media, args.clips)
        first_s, first = index(media, db, extra)
        sys.path.insert(0, str(REPO))
        from vqa_pipeline_tests.media_factory import make_clip

        for i, clip in enumerate(clips[:changed]):
            make_clip(clip, duration_s=2.0, tone_hz=3000 + 11 * i, scenes=[(0.0, (250, 250, 10))])
        again_s, again = index(media, db, extra)
        noop_s, noop = index(media, db, extra)
    share = changed / args.clips
    expected = first_s * share
    print(f"# {command_line()}")
    print(f"# {machine()}")
    print(f"clips={args.clips} (2 s each) changed={changed} ({share:.0%}) profile={args.profile} "
          f"ray={'no' if args.no_ray else 'yes'}")
    print(f"first run        {first_s:7.1f} s wall ({first['counts']['indexed']} indexed; in index_paths "
          f"{first['seconds']:.1f} s)")
    print(f"{changed} changed re-run {again_s:7.1f} s wall ({again['counts']['indexed']} indexed, "
          f"{again['counts']['unchanged']} unchanged) = {again_s / first_s:.1%} of the first run; "
          f"{share:.0%} of it would be {expected:.1f} s, so the fixed cost is {again_s - expected:.1f} s")
    print(f"no-change re-run {noop_s:7.1f} s wall ({noop['counts']['unchanged']} unchanged; in index_paths "
          f"{noop['seconds']:.1f} s)")
    print("fixed cost of the changed re-run:")
    print(f"  process start and imports     {noop_s - noop['seconds']:6.1f} s (no-change run, outside index_paths)")
    print(f"  scan of the unchanged files   {noop['seconds']:6.1f} s (no-change run, inside index_paths)")
    print(f"  Ray start, actors, extractors {again_s - noop_s:6.1f} s (the changed run less the no-change run)")
    for name, sec in sorted(again["extractor_seconds"].items(), key=lambda kv: -kv[1]):
        per_clip = first["extractor_seconds"].get(name, 0.0) / max(1, first["counts"]["indexed"])
        print(f"    {name:14s} {sec:6.1f} s on {changed} clip(s) (first run: {per_clip:.2f} s per clip)")


if __name__ == "__main__":
    main()
