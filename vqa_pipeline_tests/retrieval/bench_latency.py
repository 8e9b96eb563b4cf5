"""Latency of ``search`` and ``ask`` on the sample table (not a test; run it directly).

Usage:
    .venv/bin/python vqa_pipeline_tests/retrieval/bench_latency.py [--runs N] [--llm]

Builds the sample table in a temporary folder, warms up, then times ``search`` (k=10) and
``ask`` (extractive, and with the local LLM when ``--llm`` is given and it is installed) over a
fixed list of questions, and prints p50/p90 per call.
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

QUESTIONS = [
    "how hot should the oven be?", "which platform does the Leeds train leave from?", "when is there a beep?",
    "which room is the exam in?", "what does chlorophyll absorb?", "is the York train late?",
    "how long should the dough rise?", "where can I buy a ticket", "when is the final exam",
    "who won the football world cup in 1998?",
]


def _sample():
    spec = importlib.util.spec_from_file_location("vqa_sample_windows", Path(__file__).with_name("sample_windows.py"))
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    return mod


def _time(fn, runs: int) -> list[float]:
    out = []
    for _ in range(runs):
        for q in QUESTIONS:
            t0 = time.perf_counter()
            fn(q)
            out.append(time.perf_counter() - t0)
    return out


def _report(name: str, xs: list[float]) -> None:
    xs = sorted(xs)
    p90 = xs[min(len(xs) - 1, int(0.9 * len(xs)))]
    print(f"{name:<28} n={len(xs):<4} p50={1000 * statistics.median(xs):7.1f} ms  p90={1000 * p90:7.1f} ms")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--llm", action="store_true")
    args = ap.parse_args()
    warnings.filterwarnings("ignore")
    from vqa_pipeline.query import ask, search

    with tempfile.TemporaryDirectory() as tmp:
        sample = _sample()
        db = Path(tmp) / "lance"
        sample.build_windows_table(db, Path(tmp) / "media")
        search(QUESTIONS[0], db=db)  # warm-up: model load, FTS index
        _report("search k=10", _time(lambda q: search(q, k=10, db=db), args.runs))
        _report("ask (extractive)", _time(lambda q: ask(q, db=db, extractive_only=True), args.runs))
        if args.llm:
            from vqa_pipeline.answer.llm import LocalGemma

            backend = LocalGemma()
            t0 = time.perf_counter()
            backend.load()
            print(f"local LLM load: {time.perf_counter() - t0:.2f} s")
            _report("ask (local gemma-3-270m)", _time(lambda q: ask(q, db=db, backend=backend), args.runs))


if __name__ == "__main__":
    main()
