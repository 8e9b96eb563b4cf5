"""`vqa eval` and `vqa tune`: retrieval quality on a dev set, and learning the fusion weights."""

from __future__ import annotations

import argparse
import sys
from typing import Any, Literal

from vqa_pipeline.cli.common import CliError, print_json


class _EvalProgress:
    """tqdm bars on stderr for the per-question searches and the Optuna trials; when stderr is not
    a terminal, one line as each phase starts."""

    LABELS = {"search": "searching", "trial": "tuning", "cv": "cross-validating", "answer": "answering",
              "units": "re-ranker candidates"}

    def __init__(self, enabled: bool = True, command: str = "eval", terminal: bool | None = None) -> None:
        self.enabled = enabled
        self.command = command
        self.terminal = sys.stderr.isatty() if terminal is None else terminal
        self.bars: dict[str, Any] = {}  # tqdm bars (tqdm is imported lazily)
        self.phases: set[str] = set()

    def __call__(self, event: str, data: dict) -> None:
        if not self.enabled:
            return
        from tqdm import tqdm

        key = f"{event}{data.get('fold', '')}"
        unit = "trial" if event in ("trial", "cv") else "question"
        desc = self.LABELS.get(event, event) + (f" fold {data['fold']}/{data['folds']}" if "fold" in data else "")
        if not self.terminal:
            if key not in self.phases:
                self.phases.add(key)
                print(f"vqa {self.command}: {desc}, {data['n']} {unit}s ...", file=sys.stderr, flush=True)
            return
        bar = self.bars.get(key)
        if bar is None:
            bar = self.bars[key] = tqdm(total=data["n"], unit=unit, desc=desc, file=sys.stderr,
                                        dynamic_ncols=True, leave=False)
        bar.update(data["done"] - bar.n)
        if "best" in data:
            bar.set_postfix_str(f"best nDCG {data['best']:.4f}", refresh=False)
        if data["done"] >= data["n"]:
            bar.close()
            self.bars.pop(key, None)

    def close(self) -> None:
        for bar in self.bars.values():
            bar.close()
        self.bars.clear()


def _tuning_errors():
    from vqa_pipeline.retrieval.search import QueryError
    from vqa_pipeline.tuning.devset import DevSetError

    return (QueryError, DevSetError, ValueError)


def _tuning_error(exc: Exception) -> CliError:
    msg = str(exc)
    if "not usable in this index" in msg:
        msg += " (--skip-unknown skips those questions)"
    return CliError(msg)


def cmd_eval(args: argparse.Namespace) -> int:
    from vqa_pipeline.tuning.run import run_eval

    bar = _EvalProgress(enabled=not args.quiet)
    try:
        result = run_eval(args.db, args.devset, k=args.k, on_unknown="skip" if args.skip_unknown else "error",
                          progress=bar)
    except _tuning_errors() as exc:
        raise _tuning_error(exc) from None
    finally:
        bar.close()
    for note in result.notes:
        print(f"note: {note}", file=sys.stderr)
    if result.warning:
        print(f"note: {result.warning}", file=sys.stderr)
    print(f"fusion: {'tuned' if result.tuned else 'default'} ({result.config.method})", file=sys.stderr)
    out = result.json
    if args.json:
        print_json(out)
        return 0
    print(f"{out['n']} questions, top {args.k} windows each")
    print(f"{'fused':18s} nDCG@10 {out['ndcg@10']:.3f}  Recall@5 {out['recall@5']:.3f}  "
          f"Recall@10 {out['recall@10']:.3f}  MRR {out['mrr']:.3f}")
    for model, m in out["per_model"].items():
        print(f"{model:18s} nDCG@10 {m['ndcg@10']:.3f}  Recall@5 {m['recall@5']:.3f}")
    return 0


def cmd_tune(args: argparse.Namespace) -> int:
    from vqa_pipeline.tuning.run import run_rerank, run_tune
    from vqa_pipeline.tuning.study import TuneOptions

    bar = _EvalProgress(enabled=not args.quiet, command="tune")
    rerank = None
    try:
        options = TuneOptions(trials=args.trials, k=args.k, seed=args.seed, heldout_fraction=args.heldout)
        on_unknown: Literal["error", "skip"] = "skip" if args.skip_unknown else "error"
        result, path, prep = run_tune(args.db, args.devset, options, on_unknown=on_unknown, progress=bar)
        if not args.no_reranker:
            rerank, _ = run_rerank(args.db, args.devset, options, on_unknown=on_unknown, progress=bar, prep=prep)
    except _tuning_errors() as exc:
        raise _tuning_error(exc) from None
    finally:
        bar.close()
    for note in prep.notes:
        print(f"note: {note}", file=sys.stderr)
    cfg = result.config
    if args.json:
        out = {"config": cfg.to_dict(), "path": str(path), **result.record()}
        if rerank is not None:
            out["reranker"] = {"path": str(rerank.path), "dev": rerank.dev, "heldout": rerank.heldout}
        print_json(out)
        return 0
    held = "-" if result.heldout_score is None else f"{result.heldout_score:.3f}"
    dheld = "-" if result.default_heldout is None else f"{result.default_heldout:.3f}"
    print(f"tuned {result.trials_total} trials ({result.trials_run} now, {result.seconds:.1f} s); "
          f"study {result.study_name} in {result.storage}")
    print(f"nDCG@{result.k}: dev {result.dev_score:.3f} ({len(result.split.dev)} questions), "
          f"held-out {held} ({len(result.split.heldout)} questions); "
          f"untuned defaults: dev {result.default_dev:.3f}, held-out {dheld}")
    weights = ", ".join(f"{m} {cfg.weight(m):.2f}" for m in prep.cache.models)
    extra = f"rrf_k {cfg.rrf_k:.1f}" if cfg.method == "rrf" else "temperatures " + ", ".join(
        f"{m} {cfg.temperature(m):.2f}" for m in prep.cache.models)
    print(f"config: {cfg.method}; weights {weights}; {extra}")
    print(f"saved to {path} (queries on this index use it from now on)")
    if rerank is not None:
        for split, scores in (("dev", rerank.dev), ("held-out", rerank.heldout)):
            line = "; ".join(f"{name} nDCG@10 {v['ndcg@10']:.3f} MRR {v['mrr']:.3f}" for name, v in scores.items()
                             if v.get("n"))
            if line:
                print(f"re-ranker, {split}: {line}")
        print(f"re-ranker saved to {rerank.path}")
    return 0
