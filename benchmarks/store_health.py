"""What the self-check costs: `vqa index`'s cheap table check and `--repair`'s deep one, by table size.

Builds a synthetic index (``windows`` as in ``query_latency.py``: two 384-d vector columns, speech
lines and evidence text, 900 windows per video, BM25 index; a ``videos`` record per video) and
times :func:`vqa_pipeline.store.health.check` cheap (every `vqa index` run that is not a no-op)
and deep (``vqa index --repair``, ``vqa doctor --db --deep``).

Usage:
    .venv/bin/python benchmarks/store_health.py [--windows 100000] [--runs 3] [--db /tmp/health-db]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

# No IVF-PQ build (minutes per column on a small box): the check only lists indexes.
os.environ.setdefault("VQA_ANN_MIN_ROWS", "100000000")

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import command_line, machine  # noqa: E402
from query_latency import synthetic_table  # noqa: E402

PER_VIDEO = 900  # as synthetic_table writes them


def add_video_records(db: Path, n_windows: int) -> None:
    from vqa_pipeline.store import Store

    store = Store(db)
    store.files, store.extractions  # noqa: B018 - created empty, as a real index has them
    for v in range((n_windows + PER_VIDEO - 1) // PER_VIDEO):
        store.upsert_video({"video_id": f"{v:016x}", "source": f"/corpus/rec_{v:016x}.mp4", "status": "indexed",
                            "n_windows": min(PER_VIDEO, n_windows - v * PER_VIDEO), "windowing": "w2s2"})


def timed(fn, runs: int) -> tuple[float, object]:
    out = None
    xs = []
    for _ in range(runs):
        t0 = time.perf_counter()
        out = fn()
        xs.append(time.perf_counter() - t0)
    return statistics.median(xs), out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--windows", type=int, default=100_000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--db", type=Path, default=None, help="where to build it (default: a temporary folder)")
    args = ap.parse_args()
    from vqa_pipeline.store.health import check

    db = args.db or Path(tempfile.mkdtemp(prefix="vqa-health-")) / "db"
    if not (db / "windows.lance").exists():
        t0 = time.perf_counter()
        synthetic_table(db, args.windows)
        add_video_records(db, args.windows)
        print(f"built {args.windows} windows in {time.perf_counter() - t0:.0f}s at {db}", file=sys.stderr)
    cheap, h = timed(lambda: check(db), args.runs)
    assert h.ok, h.all_problems()  # type: ignore[attr-defined]
    deep, h = timed(lambda: check(db, deep=True), args.runs)
    assert h.ok, h.all_problems()  # type: ignore[attr-defined]
    print(f"# {command_line()}\n# {machine()}")
    print("| windows | videos | cheap check s (median) | deep check s (median) |")
    print("|---|---|---|---|")
    print(f"| {args.windows:,} | {(args.windows + PER_VIDEO - 1) // PER_VIDEO} | {cheap:.2f} | {deep:.2f} |")


if __name__ == "__main__":
    main()
