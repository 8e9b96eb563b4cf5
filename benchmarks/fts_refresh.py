"""What keeping the full-text (BM25) index fresh costs over a corpus indexed one video at a time.

A Dagster run indexes one video (partition) and then refreshes the search indexes. This script
replays that on a synthetic ``windows`` table: N videos of W windows each are written one after
the other (window rows, then their evidence text, as the `windows` and extractor steps write them),
each followed by ``Store.refresh_search_index()``; it prints the time spent in the refreshes, the
number of BM25 rebuilds and the last video's refresh. ``--stale-fraction 0`` rebuilds the index
after every video (the behaviour before the geometric refresh).

Usage:
    .venv/bin/python benchmarks/fts_refresh.py [--videos 300] [--windows 150] [--stale-fraction 0.1]
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path

import pyarrow as pa

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import command_line, machine  # noqa: E402

WORDS = ["please", "leave", "the", "building", "by", "the", "north", "stairs", "meet", "at", "the", "car", "park", "next", "to", "red", "gate", "camera", "level", "platform", "train", "departs", "kettle", "door", "tea", "jasmine", "field", "green", "blue", "forklift", "aisle", "loading", "dock"]


def video_rows(table_schema: pa.Schema, video: int, windows: int) -> tuple[str, pa.Table, list[str]]:
    vid = f"{video:016x}"
    ids = [f"{vid}-{i:05d}" for i in range(windows)]
    cols = {"window_id": ids, "video_id": [vid] * windows,
            "window_index": pa.array(range(windows), pa.int32())}
    fields = [f for f in table_schema if f.name in cols]
    return vid, pa.Table.from_arrays([cols[f.name] for f in fields], schema=pa.schema(fields)), ids


def run(db: Path, videos: int, windows: int, seed: int = 0) -> dict:
    from vqa_pipeline.store import Store
    from vqa_pipeline.store.search_index import _fts_index

    rng = random.Random(seed)
    store = Store(db)
    refresh_s, rebuilds, last_s = 0.0, 0, 0.0
    for v in range(videos):
        vid, rows, ids = video_rows(store.windows.schema, v, windows)
        store.replace_windows(vid, rows)
        text = [" ".join(rng.choices(WORDS, k=25)) + f" video{v}" for _ in ids]
        store.write_group(vid, "", {"evidence_text": text}, ids)
        before = _fts_index(store.windows)
        t0 = time.perf_counter()
        store.refresh_search_index()
        last_s = time.perf_counter() - t0
        refresh_s += last_s
        after = _fts_index(store.windows)
        if after is not None and (before is None or after.index_uuid != before.index_uuid):
            rebuilds += 1
    # every video's words are found, indexed or not
    found = store.windows.search(f"video{videos - 1}", query_type="fts", fts_columns="evidence_text").limit(
        windows + 1).to_arrow().num_rows
    return {"refresh_s": refresh_s, "rebuilds": rebuilds, "last_refresh_s": last_s, "found_last": found}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--videos", type=int, default=300)
    ap.add_argument("--windows", type=int, default=150, help="windows per video")
    ap.add_argument("--stale-fraction", type=float, default=None,
                    help="rebuild when unindexed rows exceed this fraction of indexed ones (0: after every video)")
    ap.add_argument("--small-table-rows", type=int, default=None, help="below this many rows always rebuild")
    args = ap.parse_args()
    from vqa_pipeline.store import search_index

    if args.stale_fraction is not None:
        search_index.FTS_STALE_FRACTION = args.stale_fraction
    if args.small_table_rows is not None:
        search_index.FTS_SMALL_TABLE_ROWS = args.small_table_rows
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        res = run(Path(tmp) / "db", args.videos, args.windows)
        total = time.perf_counter() - t0
    print(f"# {command_line()}")
    print(f"# {machine()}")
    print(f"videos={args.videos} windows/video={args.windows} rows={args.videos * args.windows} "
          f"stale_fraction={search_index.FTS_STALE_FRACTION} small_table_rows={search_index.FTS_SMALL_TABLE_ROWS}")
    print(f"total {total:.1f} s, in index refreshes {res['refresh_s']:.1f} s ({res['rebuilds']} BM25 rebuilds), "
          f"last video's refresh {res['last_refresh_s'] * 1000:.0f} ms; last video's windows found: {res['found_last']}")


if __name__ == "__main__":
    main()
