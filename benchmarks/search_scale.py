"""Search at 1M windows: ANN index build time, peak memory, recall@10 vs exact, latency, refresh cost.

The table is :func:`query_latency.synthetic_table` with *clustered* vectors instead of noise: every
25-window segment (a scene) belongs to one of 2,000 topics (Zipf-sized), and a vector is
``normalize(1.5 * common + topic centre + 0.6 * segment offset + 0.6 * noise)``: a shared direction
like e5's anisotropy (unrelated windows at cosine ~0.5), topics, near-duplicate neighbours within a
scene. Queries are stored rows plus noise (cosine ~0.9 to their row); the truth is exact
(flat, numpy) top-10 cosine over every row.

Phases (all by default; the table is kept in ``--db`` and reused by a later run):
  build    generate the table (no indexes), load the truth
  sweep    per ``--configs`` entry, build that index on emb_text and sweep nprobes/refine (raw LanceDB
           query shaped like the project's: limit 50, top 10 scored); ``pq:existing`` sweeps the
           index the table already has (nothing is built or replaced)
  project  ``Store.refresh_search_index()`` (the project's rule on both vector columns, FTS, id
           index), then the project's search path: recall@10 of ``search_columns`` and the latency
           of ``vqa_pipeline.query.search`` (question embedding + columns + BM25 + fusion + fetch)
  search   only the project's search path (indexes built by an earlier run)
  refresh  append 1 % new rows, ``refresh_search_index()`` again (incremental), recall on new rows
  profile  ``vqa_pipeline.query.search`` end to end with the time of each phase (the real functions,
           wrapped in place with timers: table open, filter, retrievers, fusion config, question
           embedding, each column's ANN search, BM25, fusion, row fetch, hit formatting); writes the
           top-10 ids per question to ``--top-out`` (compare two runs: the results must not change).
           Needs no truth (run alone, the exact vectors are not loaded).

Usage:
    nice python benchmarks/search_scale.py --db /tmp/vqa1m/lance --rows 1000000 \\
        --configs pq:250,pq:1000,hnsw:250 --out /tmp/vqa1m/results.jsonl
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import threading
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(1, str(Path(__file__).resolve().parents[1]))  # this checkout's vqa_pipeline
from _common import command_line, machine  # noqa: E402
from query_latency import QUESTIONS, synthetic_table  # noqa: E402

DIM = 384
TOPICS = 2000
SEGMENT = 25
K = 10
DEPTH = 50  # the project's candidate depth for k=10 (retrieval.search.candidate_depth)


class Clustered:
    """Deterministic clustered vectors by row number (see the module docstring)."""

    def __init__(self, seed: int = 0, max_rows: int = 2_000_000) -> None:
        rng = np.random.default_rng(seed)
        self.common = _unit(rng.standard_normal(DIM))
        self.centres = _unit(rng.standard_normal((TOPICS, DIM)))
        p = 1.0 / np.arange(1, TOPICS + 1) ** 0.8
        self.topic = rng.choice(TOPICS, size=max_rows // SEGMENT + 1, p=p / p.sum())
        self.seed = seed

    def __call__(self, lo: int, m: int, column: str) -> np.ndarray:
        assert lo % SEGMENT == 0
        rng = np.random.default_rng([self.seed, lo, len(column)])
        seg = np.arange(lo, lo + m) // SEGMENT
        segs = np.unique(seg)
        offs = dict(zip(segs, 0.6 * _unit(rng.standard_normal((len(segs), DIM)))))
        topic = self.topic[seg] if column == "emb_text" else (self.topic[seg] * 7 + 3) % TOPICS
        off = np.stack([offs[s] for s in seg])
        noise = 0.6 * _unit(rng.standard_normal((m, DIM)))
        return _unit(1.5 * self.common + self.centres[topic] + off + noise).astype(np.float32)


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


class PeakRSS:
    """Peak resident memory of this process during a block (sampled every 50 ms from /proc)."""

    def __enter__(self):
        self.start = self.peak = _rss()
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)
        self._t.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(0.05):
            self.peak = max(self.peak, _rss())

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._t.join()
        self.peak = max(self.peak, _rss())


def _rss() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def log(out: Path, **rec) -> None:
    rec["t"] = time.strftime("%H:%M:%S")
    rec["load1"] = round(os.getloadavg()[0], 1)  # the box is shared: read figures with this
    print(json.dumps(rec), flush=True)
    with out.open("a") as f:
        f.write(json.dumps(rec) + "\n")


def load_vectors(table, column: str = "emb_text") -> tuple[np.ndarray, list[str]]:
    rows = table.search().select(["window_id", column]).limit(None).to_arrow()
    vec = rows.column(column).combine_chunks()
    x = np.asarray(vec.values.to_numpy(zero_copy_only=False), np.float32).reshape(-1, DIM)
    return x, rows.column("window_id").to_pylist()


def make_queries(x: np.ndarray, rows: np.ndarray, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return _unit(x[rows] + 0.45 * _unit(rng.standard_normal((len(rows), DIM)))).astype(np.float32)


def exact_top(x: np.ndarray, q: np.ndarray, k: int = K) -> np.ndarray:
    """Row numbers of the exact top-k cosine (rows are unit vectors), best first."""
    best = np.empty((len(q), k), np.int64)
    for i in range(0, len(q), 50):
        s = q[i:i + 50] @ x.T
        top = np.argpartition(-s, k, axis=1)[:, :k]
        order = np.take_along_axis(s, top, 1).argsort(axis=1)[:, ::-1]
        best[i:i + 50] = np.take_along_axis(top, order, 1)
    return best


def recall(found: list[list[str]], truth: list[list[str]]) -> float:
    return float(np.mean([len(set(f[:K]) & set(t)) / K for f, t in zip(found, truth)]))


def pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p * (len(xs) - 1))))]


def raw_query(table, q: np.ndarray, nprobes: int, refine: int | None, ef: int | None) -> list[str]:
    b = (table.search(q, vector_column_name="emb_text").distance_type("cosine").select(["window_id"])
         .limit(DEPTH).nprobes(nprobes))
    if refine:
        b = b.refine_factor(refine)
    if ef:
        b = b.ef(ef)
    return b.to_arrow().column("window_id").to_pylist()


def build_index(table, kind: str, partitions: int) -> None:
    if kind == "pq":
        table.create_index(metric="cosine", vector_column_name="emb_text", index_type="IVF_PQ",
                           num_partitions=partitions, num_sub_vectors=DIM // 8, replace=True)
    else:
        table.create_index(metric="cosine", vector_column_name="emb_text", index_type="IVF_HNSW_SQ",
                           num_partitions=partitions, replace=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--db", type=Path, required=True, help="folder for the synthetic index (kept)")
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--configs", default="pq:250,pq:1000,hnsw:250",
                    help="indexes to sweep on emb_text: kind:partitions, kind pq (IVF_PQ) or hnsw (IVF_HNSW_SQ)")
    ap.add_argument("--phases", default="build,sweep,project,refresh")
    ap.add_argument("--runs", type=int, default=3, help="passes over the 10 text questions (latency)")
    ap.add_argument("--out", type=Path, required=True, help="JSON lines of results (appended)")
    ap.add_argument("--top-out", type=Path, help="profile: write each question's top-10 window ids here (JSON)")
    args = ap.parse_args()
    warnings.filterwarnings("ignore")
    phases = set(args.phases.split(","))
    import lancedb

    from vqa_pipeline.store import Store

    log(args.out, event="start", machine=machine(), command=command_line())
    gen = Clustered()
    if not (args.db / "windows.lance").exists():
        t0 = time.perf_counter()
        with PeakRSS() as mem:
            synthetic_table(args.db, args.rows, vectors=gen, refresh=False)
        log(args.out, event="generated", rows=args.rows, s=round(time.perf_counter() - t0, 1), peak_rss_gb=mem.peak / 2**30)
    if phases == {"profile"}:
        profile_search(args)
        return
    table = lancedb.connect(str(args.db)).open_table("windows")
    n = table.count_rows()
    x, ids = load_vectors(table)
    rng = np.random.default_rng(1)
    qrows = rng.choice(min(n, args.rows), args.queries, replace=False)
    q = make_queries(x, qrows, 2)
    truth = [[ids[i] for i in row] for row in exact_top(x, q)]
    log(args.out, event="truth", rows=n, queries=len(q), self_in_top10=float(np.mean(
        [ids[r] in t for r, t in zip(qrows, truth)])))

    store = Store(args.db)
    if "project" in phases:
        from vqa_pipeline.store.search_index import ensure_vector_index, vector_columns

        for col in vector_columns(store.windows):  # the project's rule from scratch, timed per column
            t0 = time.perf_counter()
            with PeakRSS() as mem:
                if any(i.name == f"{col}_idx" for i in store.windows.list_indices()):
                    store.windows.drop_index(f"{col}_idx")
                ensure_vector_index(store.windows, col)
            log(args.out, event="project_index", column=col, build_s=round(time.perf_counter() - t0, 1),
                peak_rss_gb=round(mem.peak / 2**30, 2), rss_before_gb=round(mem.start / 2**30, 2))
        t0 = time.perf_counter()
        store.refresh_search_index()
        log(args.out, event="project_refresh_rest", s=round(time.perf_counter() - t0, 1))
        project_search(args, q, truth, n)

    if "search" in phases:  # the project's search path on indexes built earlier
        project_search(args, q, truth, n)

    if "refresh" in phases:
        add = max(SEGMENT, (n // 100) // SEGMENT * SEGMENT)
        t0 = time.perf_counter()
        synthetic_table(args.db, add, vectors=gen, refresh=False, lo0=n)
        log(args.out, event="appended", rows=add, s=round(time.perf_counter() - t0, 1))
        t0 = time.perf_counter()
        with PeakRSS() as mem:
            Store(args.db).refresh_search_index()
        log(args.out, event="incremental_refresh", rows_added=add, s=round(time.perf_counter() - t0, 1),
            peak_rss_gb=round(mem.peak / 2**30, 2))
        table = lancedb.connect(str(args.db)).open_table("windows")
        x, ids = load_vectors(table)
        new_rows = np.random.default_rng(3).choice(np.arange(n, n + add), min(100, add), replace=False)
        q2 = make_queries(x, new_rows, 4)
        truth2 = [[ids[i] for i in row] for row in exact_top(x, q2)]
        project_search(args, q2, truth2, n + add, label="after 1% append")

    if "sweep" in phases:  # last: it replaces the emb_text index (unless "existing")
        table = lancedb.connect(str(args.db)).open_table("windows")
        if table.count_rows() != n:
            x, ids = load_vectors(table)
            truth = [[ids[i] for i in row] for row in exact_top(x, q)]
        for cfg in args.configs.split(","):
            kind, parts = cfg.split(":")
            if parts != "existing":  # "pq:existing": sweep the index the table has (no build)
                t0 = time.perf_counter()
                with PeakRSS() as mem:
                    build_index(table, kind, int(parts))
                log(args.out, event="index", config=cfg, build_s=round(time.perf_counter() - t0, 1),
                    peak_rss_gb=round(mem.peak / 2**30, 2), rss_before_gb=round(mem.start / 2**30, 2))
            grid = ([(p, r, None) for p in (5, 10, 20, 40, 80) for r in (None, 2, 5, 10, 20)] if kind == "pq"
                    else [(p, r, e) for p in (5, 10, 20) for e in (50, 100) for r in (None, 5)])
            for nprobes, refine, ef in grid:
                lat, found = [], []
                for qi in q:
                    t0 = time.perf_counter()
                    found.append(raw_query(table, qi, nprobes, refine, ef))
                    lat.append(time.perf_counter() - t0)
                log(args.out, event="sweep", config=cfg, nprobes=nprobes, refine=refine, ef=ef,
                    recall10=round(recall(found, truth), 4), p50_ms=round(1000 * statistics.median(lat), 1),
                    p95_ms=round(1000 * pct(lat, 0.95), 1))


def project_search(args, q: np.ndarray, truth: list[list[str]], n: int, label: str = "") -> None:
    """Recall and latency through the project's search path."""
    from vqa_pipeline.query import search
    from vqa_pipeline.retrieval.search import open_index, search_columns

    table = open_index(args.db)
    found, lat = [], []
    for qi in q:
        t0 = time.perf_counter()
        ranked = search_columns(table, "synthetic", k=DEPTH, question_vectors={"emb_text": qi, "emb_audio_labels": qi})
        lat.append(time.perf_counter() - t0)
        found.append([w for w, _ in ranked["emb_text"]])
    log(args.out, event="project_recall", label=label, rows=n, recall10=round(recall(found, truth), 4),
        columns_p50_ms=round(1000 * statistics.median(lat), 1), columns_p95_ms=round(1000 * pct(lat, 0.95), 1))
    search(QUESTIONS[0], db=args.db)  # warm: encoder load, table open
    lat = []
    for _ in range(args.runs):
        for question in QUESTIONS:
            t0 = time.perf_counter()
            search(question, k=10, db=args.db)
            lat.append(time.perf_counter() - t0)
    log(args.out, event="end_to_end", label=label, rows=n, searches=len(lat),
        p50_ms=round(1000 * statistics.median(lat), 1), p95_ms=round(1000 * pct(lat, 0.95), 1))


class Phases:
    """Per-phase wall time of one ``search`` call: functions wrapped in place with timers.

    A phase run in a worker thread (the column searches) is timed there; phases overlapping in
    time therefore add up to more than the wall time of their caller.
    """

    def __init__(self) -> None:
        self.times: dict[str, list[float]] = {}
        self.current: dict[str, float] = {}
        self._lock = threading.Lock()
        self._undo: list[tuple[object, str, object]] = []

    def wrap(self, module, name: str, label: str | None = None, key=None) -> None:
        fn = getattr(module, name)

        def timed(*a, **kw):
            t0 = time.perf_counter()
            try:
                return fn(*a, **kw)
            finally:
                lab = label or name
                if key is not None:
                    lab = f"{lab}:{key(*a, **kw)}"
                with self._lock:
                    self.current[lab] = self.current.get(lab, 0.0) + time.perf_counter() - t0

        self._undo.append((module, name, fn))
        setattr(module, name, timed)

    def end_call(self, total: float) -> None:
        self.current["TOTAL"] = total
        for lab, t in self.current.items():
            self.times.setdefault(lab, []).append(t)
        self.current = {}

    def restore(self) -> None:
        for module, name, fn in reversed(self._undo):
            setattr(module, name, fn)


def profile_search(args) -> None:
    """``vqa_pipeline.query.search`` end to end, phase by phase (see the module docstring)."""
    import vqa_pipeline.query as query
    import vqa_pipeline.retrieval.search as rsearch
    from vqa_pipeline.store import search as ssearch

    ph = Phases()
    for name in ("open_index", "make_filter", "index_retrievers", "index_fusion", "usable_vector_columns",
                 "fuse", "fetch_windows", "row_vector_scores", "row_units"):
        ph.wrap(query, name)
    for name in ("encode_and_search", "search_columns", "encode_question"):  # whichever query.py calls
        if name in vars(query):
            ph.wrap(query, name)
    ph.wrap(rsearch, "encode_question")  # called inside encode_and_search
    ph.wrap(rsearch, "column_transforms")
    ph.wrap(rsearch, "vector_search", "ann", key=lambda table, column, *a, **kw: column)
    ph.wrap(rsearch, "fts_search", "bm25")
    ph.wrap(ssearch, "ensure_fts_index", "bm25.ensure_fts_index")
    try:
        query.search(QUESTIONS[0], db=args.db)  # warm: encoder load, table open
        ph.current = {}
        top: dict[str, list[list[str]]] = {}
        for _ in range(args.runs):
            for question in QUESTIONS:
                t0 = time.perf_counter()
                hits = query.search(question, k=10, db=args.db)
                ph.end_call(time.perf_counter() - t0)
                top.setdefault(question, []).append([h.window_id for h in hits])
    finally:
        ph.restore()
    stable = all(all(r == runs[0] for r in runs) for runs in top.values())
    phases = {lab: {"p50_ms": round(1000 * statistics.median(ts), 1), "p95_ms": round(1000 * pct(ts, 0.95), 1)}
              for lab, ts in sorted(ph.times.items(), key=lambda kv: -statistics.median(kv[1]))}
    log(args.out, event="profile", searches=len(ph.times["TOTAL"]), same_top10_every_run=stable, phases=phases)
    for lab, v in phases.items():
        print(f"{lab:32s} p50 {v['p50_ms']:7.1f} ms   p95 {v['p95_ms']:7.1f} ms")
    if args.top_out:
        args.top_out.write_text(json.dumps({q: runs[0] for q, runs in top.items()}, indent=1))


if __name__ == "__main__":
    main()
