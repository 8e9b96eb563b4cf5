"""Retrieval latency (question embedding + every column search + BM25 + fusion + fetch).

Measures ``vqa_pipeline.query.search`` end to end on (a) an existing index, e.g. the sample corpus,
and (b) a synthetic ``windows`` table of N windows (random unit vectors in every vector column,
evidence text drawn from a vocabulary), which is what matters for latency at scale.

Usage:
    .venv/bin/python benchmarks/query_latency.py [--db .vqa/lance] [--synthetic 100000] [--runs 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pyarrow as pa

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import command_line, machine  # noqa: E402

QUESTIONS = [
    "which platform does the Cambridge train leave from?", "what temperature is the oven set to?",
    "when does the beep sound?", "who chairs the meeting?", "what is the price of the product?",
    "is there an alarm?", "what formula is on the slide?", "how long is the delay?",
    "what is the final score?", "what is the weather forecast for tomorrow?",
]
WORDS = ["oven", "platform", "train", "delayed", "minutes", "degrees", "meeting", "budget", "price", "score", "goal", "rain", "sunny", "slide", "formula", "energy", "kitchen", "station", "lecture", "beep", "alarm", "noise", "chime", "speaker", "welcome", "please", "change", "number", "room", "floor", "ticket", "window", "north", "south", "report", "team", "project", "deadline", "friday", "monday"]


def synthetic_table(db: Path, n: int, seed: int = 0, vectors=None, refresh: bool = True, lo0: int = 0) -> None:
    """A ``windows`` table with the store's schema: random vectors, short random evidence text.

    ``vectors(lo, m, column)``, when given, returns the ``(m, 384)`` float32 vectors of rows
    ``lo .. lo+m-1`` (default: random unit vectors); ``refresh=False`` leaves the search indexes to
    the caller; ``lo0`` numbers the rows from there (appending to an existing table).
    """
    from vqa_pipeline.store import Store
    from vqa_pipeline.store.schema import LINES_TYPE

    rng = np.random.default_rng(seed)
    store = Store(db)
    for group in ("asr", "ocr", "audio", "visual"):
        store.ensure_group_columns(group, [])
    vec = pa.list_(pa.float32(), 384)
    store.ensure_group_columns("text", [pa.field("emb_text", vec), pa.field("emb_audio_labels", vec)])
    table = store.windows
    # The configured e5 tag, so that the vector columns are searched (an unknown tag is left out).
    from vqa_pipeline.extractors.registry import create_extractor

    text_tag = create_extractor("e5-small").model_tag
    per_video = 900  # 30-minute recordings in 2 s windows
    batch = 20_000
    for lo in range(lo0, lo0 + n, batch):
        m = min(batch, lo0 + n - lo)
        idx = np.arange(lo, lo + m)
        vids = [f"{v:016x}" for v in idx // per_video]
        wi = (idx % per_video).astype(np.int32)
        texts = [" ".join(w) for w in rng.choice(WORDS, (m, 8))]

        def unit(k: int, column: str) -> pa.Array:
            if vectors is not None:
                x = np.asarray(vectors(lo, k, column), np.float32)  # noqa: B023 - called in this iteration
            else:
                x = rng.standard_normal((k, 384), dtype=np.float32)
                x /= np.linalg.norm(x, axis=1, keepdims=True)
            return pa.FixedSizeListArray.from_arrays(pa.array(x.reshape(-1)), 384)

        data = {
            "window_id": [f"{v}-{i:05d}" for v, i in zip(vids, wi)],
            "video_id": vids,
            "source": [f"/corpus/rec_{v}.mp4" for v in vids],
            "window_index": pa.array(wi, pa.int32()),
            "start_s": (wi * 2.0).astype(np.float64),
            "end_s": (wi * 2.0 + 2.0).astype(np.float64),
            "asr_lines": pa.array([[{"start_s": float(s), "end_s": float(s) + 2, "text": t}]
                                   for s, t in zip(wi * 2.0, texts)], LINES_TYPE),
            "evidence_text": texts,
            "text_model": [text_tag] * m,
            "emb_text": unit(m, "emb_text"),
            "emb_audio_labels": unit(m, "emb_audio_labels"),
        }
        cols = [data[f.name] if f.name in data else pa.nulls(m, f.type) for f in table.schema]
        table.add(pa.Table.from_arrays(cols, schema=table.schema))  # one fragment per batch
    if refresh:
        store.refresh_search_index()


def time_search(db: Path, runs: int) -> list[float]:
    from vqa_pipeline.query import search

    search(QUESTIONS[0], db=db)  # warm: encoder load, table open
    out = []
    for _ in range(runs):
        for q in QUESTIONS:
            t0 = time.perf_counter()
            search(q, k=10, db=db)
            out.append(time.perf_counter() - t0)
    return out


def report(name: str, xs: list[float]) -> str:
    xs = sorted(xs)
    p95 = xs[min(len(xs) - 1, int(round(0.95 * (len(xs) - 1))))]
    return f"| {name} | {len(xs)} | {1000 * statistics.median(xs):.1f} | {1000 * p95:.1f} |"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--db", type=Path, default=None, help="an existing index to time too (e.g. the sample corpus)")
    ap.add_argument("--synthetic", type=int, default=100_000, help="windows in the synthetic table (0: skip)")
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    warnings.filterwarnings("ignore")
    rows = ["| table | searches | p50 ms | p95 ms |", "|---|---|---|---|"]
    if args.db is not None:
        from vqa_pipeline.store import Store

        n = Store(args.db, create=False).count_windows()
        rows.append(report(f"{args.db} ({n} windows)", time_search(args.db, args.runs)))
    if args.synthetic:
        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.perf_counter()
            synthetic_table(Path(tmp) / "lance", args.synthetic)
            print(f"built a synthetic table of {args.synthetic} windows in {time.perf_counter() - t0:.1f} s",
                  file=sys.stderr)
            rows.append(report(f"synthetic, {args.synthetic} windows", time_search(Path(tmp) / "lance", args.runs)))
    print("\n".join(rows))
    print(f"\nmachine: {machine()}\ncommand: {command_line()}")


if __name__ == "__main__":
    main()
