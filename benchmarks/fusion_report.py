"""Learned fusion on the sample corpus: the retrieval report table, how long tuning takes, and why.

    .venv/bin/python benchmarks/fusion_report.py                       # fresh index of data/sample
    .venv/bin/python benchmarks/fusion_report.py --db /tmp/vqadb/lance # reuse an index (lite profile)
    .venv/bin/python benchmarks/fusion_report.py --answers             # + answer/citation accuracy (local LLM)

Steps, each timed:

1. **index** (unless ``--db`` names an existing index): ``vqa index data/sample`` into a temp folder.
2. **tune**: exactly what ``vqa tune --devset data/sample/devset.jsonl --trials N`` does (searches
   once, then N Optuna trials on the dev split, study in a fresh SQLite file), in this process; the
   whole command is also timed as a subprocess (interpreter start and imports included).
3. **report**: what the ``retrieval_report`` asset computes (every system on the held-out split, dev
   split and all questions; ``--cv`` folds of cross-validation of the tuning procedure).
4. **ceiling**: the best config of the same search space chosen *on the held-out questions
   themselves* (an in-memory study with the same trials). No honest tuning can beat it on that
   split, so it bounds what learned fusion can gain here.

Prints markdown (paste into docs/benchmarks.md), writes ``--out`` (JSON + PNG + markdown) and, with
``--json FILE``, every number to FILE; ends with the exact command line.
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

from _common import REPO, SAMPLE, command_line, machine  # noqa: E402


def _index(db: Path) -> float:
    t0 = time.perf_counter()
    subprocess.run([str(Path(sys.executable).parent / "vqa"), "index", str(SAMPLE), "--db", str(db), "-q", "--json"],
                   check=True, stdout=subprocess.DEVNULL, cwd=REPO)
    return time.perf_counter() - t0


def _time_cli(db: Path, devset: Path, trials: int, home: Path) -> float:
    """Wall time of the `vqa tune` command itself (fresh study, --no-progress), in a subprocess."""
    env = {**os.environ, "VQA_HOME": str(home), "HF_HUB_OFFLINE": "1"}
    t0 = time.perf_counter()
    subprocess.run([str(Path(sys.executable).parent / "vqa"), "tune", "--devset", str(devset), "--db", str(db),
                    "--trials", str(trials), "-q", "--json"], check=True, stdout=subprocess.DEVNULL, env=env, cwd=REPO)
    return time.perf_counter() - t0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--db", type=Path, default=None, help="existing index (default: index data/sample into a temp dir)")
    ap.add_argument("--devset", type=Path, default=SAMPLE / "devset.jsonl")
    ap.add_argument("--trials", type=int, default=200)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--cv", type=int, default=5, help="cross-validation folds (0: none)")
    ap.add_argument("--answers", action="store_true", help="also measure answer/citation accuracy with the local LLM")
    ap.add_argument("--out", type=Path, default=REPO / ".vqa" / "bench" / "fusion_report",
                    help="folder for the report files (JSON, markdown, PNG)")
    ap.add_argument("--json", type=Path, default=None, metavar="FILE", help="also write every number to FILE")
    args = ap.parse_args()

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    tmp = Path(tempfile.mkdtemp(prefix="vqa-fusion-bench-"))
    os.environ["VQA_HOME"] = str(tmp / "state")  # a fresh Optuna study: nothing is resumed

    from vqa_pipeline.tuning.evaluate import FusionProblem
    from vqa_pipeline.tuning.report import answers_markdown, markdown_table, write_report
    from vqa_pipeline.tuning.run import run_report, run_tune
    from vqa_pipeline.tuning.study import TuneOptions, optimize_in_memory

    timings: dict[str, float] = {}
    db = args.db
    if db is None or not (db / "windows.lance").exists():
        db = db or tmp / "lance"
        print(f"indexing {SAMPLE} into {db} ...", file=sys.stderr)
        timings["index_s"] = _index(db)
    # The benchmark writes its own fusion.json: work on a copy when the index was given.
    if args.db is not None:
        import shutil

        shutil.copytree(db, tmp / "lance_copy")
        db = tmp / "lance_copy"
        (db / "fusion.json").unlink(missing_ok=True)

    options = TuneOptions(trials=args.trials, seed=args.seed)
    t0 = time.perf_counter()
    result, path, prep = run_tune(db, [args.devset], options)
    timings["tune_total_s"] = time.perf_counter() - t0
    timings["search_s"] = prep.seconds
    timings["trials_s"] = result.seconds
    timings["per_trial_ms"] = 1000 * result.seconds / max(1, result.trials_run)
    print(f"tuned: {result.trials_run} trials in {result.seconds:.1f} s", file=sys.stderr)
    timings["cli_tune_s"] = _time_cli(db, args.devset, args.trials, tmp / "cli_state")

    backend = None
    if args.answers:
        from vqa_pipeline.answer.llm import make_backend

        backend = make_backend()
        ok, why = backend.availability()
        if not ok:
            print(f"no LLM: {why}", file=sys.stderr)
            backend = None
    t0 = time.perf_counter()
    report, prep = run_report(db, [args.devset], options, backend=backend, cv_folds=args.cv)
    timings["report_s"] = time.perf_counter() - t0

    # Ceiling: the best config in hindsight on the held-out questions.
    problem = FusionProblem(prep.cache)
    held = [i for i, q in enumerate(problem.ids) if q in result.split.heldout]
    oracle = optimize_in_memory(problem, held, options)
    ceiling = problem.mean_ndcg(oracle, 10, held)

    t0 = time.perf_counter()
    dev = [i for i, q in enumerate(problem.ids) if q in result.split.dev]
    for _ in range(20):
        problem.mean_ndcg(result.config, 10, dev)
    timings["objective_ms"] = 1000 * (time.perf_counter() - t0) / 20

    # Query latency with the stored (tuned) config: what a user of `vqa search` waits for.
    import statistics

    from vqa_pipeline.query import search

    questions = [q.resolved.question.question for q in prep.cache.questions]
    search(questions[0], k=10, db=db)  # warm-up: model load, FTS index check
    lat = []
    for text in questions:
        t1 = time.perf_counter()
        search(text, k=10, db=db)
        lat.append(1000 * (time.perf_counter() - t1))
    timings["search_p50_ms"] = statistics.median(lat)
    timings["search_p90_ms"] = statistics.quantiles(lat, n=10)[-1]

    # Per question kind (the sample's sidecar), on all questions: where the misses are.
    kinds_file = args.devset.with_name("devset_kinds.json")
    by_kind: dict[str, dict[str, float]] = {}
    if kinds_file.is_file():
        from vqa_pipeline.retrieval.fuse import fuse
        from vqa_pipeline.tuning.evaluate import evaluate_lists

        kinds = json.loads(kinds_file.read_text())
        groups: dict[str, list[str]] = {}
        for q in prep.cache.questions:
            groups.setdefault(kinds.get(q.id, "?"), []).append(q.id)
        for kind, ids in sorted(groups.items()):
            sub = prep.cache.subset(ids)
            row = {"n": len(ids)}
            for m in prep.cache.models:
                row[m] = evaluate_lists(sub, lambda q, m=m: q.lists.get(m, ()))[1].ndcg[10]
            row["lancedb_hybrid_rrf"] = evaluate_lists(sub, lambda q: q.hybrid)[1].ndcg[10]
            row["fused_tuned"] = evaluate_lists(sub, lambda q: fuse(q.lists, result.config).ranked)[1].ndcg[10]
            by_kind[kind] = row

    args.out.mkdir(parents=True, exist_ok=True)
    paths = write_report(report, args.out)
    best = report.best_single("heldout")
    tuned = report.row("fused_tuned").scores["heldout"]["ndcg@10"]
    hybrid = report.row("lancedb_hybrid_rrf").scores["heldout"]["ndcg@10"]
    cv = (report.tuning or {}).get("cv")
    summary = {
        "machine": machine(),
        "command": command_line(),
        "timings": {k: round(v, 2) for k, v in timings.items()},
        "tuned_config": result.config.to_dict(),
        "tuning": result.record(),
        "report": report.to_json(),
        "heldout_ceiling_ndcg@10": ceiling,
        "heldout_ceiling_config": oracle.to_dict(),
        "ndcg@10_by_kind": by_kind,
    }
    (args.out / "summary.json").write_text(json.dumps(summary, indent=2, sort_keys=True) + "\n")
    if args.json:
        args.json.write_text(json.dumps(summary, indent=2, sort_keys=True) + "\n")

    print(f"Machine: {machine()}\n")
    print(markdown_table(report))
    print()
    print(answers_markdown(report.answers))
    print()
    print(f"- best single column on the held-out split: `{best.name}` nDCG@10 {best.scores['heldout']['ndcg@10']:.3f}; "
          f"tuned fusion {tuned:.3f} ({100 * (tuned - best.scores['heldout']['ndcg@10']):+.1f} points); "
          f"LanceDB hybrid RRF {hybrid:.3f} ({100 * (tuned - hybrid):+.1f} points)")
    if cv:
        print(f"- {cv['folds']}-fold cross-validation of the tuning (out-of-fold, {cv['n']} questions): "
              + ", ".join(f"{k} {v:.3f}" for k, v in cv["tuned"].items()))
    print(f"- ceiling (best config of the search space chosen on the held-out questions themselves): {ceiling:.3f}")
    print(f"- tuned config: {result.config.method}, weights "
          + ", ".join(f"{m} {result.config.weight(m):.2f}" for m in prep.cache.models)
          + (f", rrf_k {result.config.rrf_k:.1f}" if result.config.method == "rrf" else
             ", temperatures " + ", ".join(f"{m} {result.config.temperature(m):.2f}" for m in prep.cache.models)))
    if by_kind:
        cols = [*prep.cache.models, "lancedb_hybrid_rrf", "fused_tuned"]
        print()
        print("nDCG@10 by question kind (all questions):\n")
        print("| kind | n | " + " | ".join(cols) + " |")
        print("|---|---|" + "---|" * len(cols))
        for kind, row in by_kind.items():
            print(f"| {kind} | {row['n']} | " + " | ".join(f"{row[c]:.3f}" for c in cols) + " |")
        print()
    print("- timings: " + ", ".join(f"{k} {v:.2f}" for k, v in timings.items()))
    print(f"- files: {', '.join(str(p) for p in paths.values())}, {args.out / 'summary.json'}")
    print(f"\ncommand: {command_line()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
