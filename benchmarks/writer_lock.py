"""What the database writer lock costs: taking it per write, and the one-time duplicate-key check.

A Dagster step takes the lock for each write (a `vqa index` run takes it once), and a newly taken
lock moves the open tables to their latest version; the duplicate-key check reads every key once
per database. Both are timed on a synthetic ``windows`` table of N windows.

Usage:
    .venv/bin/python benchmarks/writer_lock.py [--windows 200000] [--takes 200]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import pyarrow as pa

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import command_line, machine  # noqa: E402


def build(db: Path, n: int):
    from vqa_pipeline.store import Store

    store = Store(db)
    table = store.windows
    ids = [f"{i // 900:016x}-{i % 900:05d}" for i in range(n)]
    cols = {"window_id": ids, "video_id": [w[:16] for w in ids], "window_index": pa.array(
        [i % 900 for i in range(n)], pa.int32()), "evidence_text": ["words of a window"] * n}
    table.add(pa.Table.from_arrays([cols[f.name] if f.name in cols else pa.nulls(n, f.type) for f in table.schema],
                                   schema=table.schema))
    for name in ("videos", "files", "extractions"):
        getattr(store, name)  # open every table, as a run has them
    return store


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--windows", type=int, default=200_000)
    ap.add_argument("--takes", type=int, default=200)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        store = build(Path(tmp) / "db", args.windows)
        takes = []
        for _ in range(args.takes):
            t0 = time.perf_counter()
            with store.writing(wait=False):
                pass
            takes.append((time.perf_counter() - t0) * 1000)
        checks = []
        for _ in range(3):
            t0 = time.perf_counter()
            store.repair_duplicates()
            checks.append(time.perf_counter() - t0)
    print(command_line())
    print(machine())
    print(f"lock taken and released (4 tables open): median {statistics.median(takes):.2f} ms, "
          f"max {max(takes):.2f} ms over {args.takes}")
    print(f"duplicate-key check, {args.windows} windows: median {statistics.median(checks):.2f} s of 3")


if __name__ == "__main__":
    main()
