"""The `vqa` command: index media, inspect evidence, search and ask.

Every command accepts ``--json`` (machine-readable result on stdout; progress on stderr) and exits
0 on success, non-zero with a one-line reason on failure.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path

from vqa_pipeline.config import default_db_dir


class CliError(Exception):
    """A failure to report as one line, exit code 1."""


def _print_json(obj) -> None:
    sys.stdout.write(json.dumps(obj, indent=2, ensure_ascii=False) + "\n")


# -- index ------------------------------------------------------------------------------------

def cmd_index(args: argparse.Namespace) -> int:
    import time

    from vqa_pipeline.extractors.registry import resolve_extractors
    from vqa_pipeline.indexing import manifest
    from vqa_pipeline.indexing.discover import discover
    from vqa_pipeline.indexing.summary import dumps, summary_lines
    from vqa_pipeline.media.types import WindowingOptions

    t0 = time.perf_counter()
    try:
        options = WindowingOptions(length_s=args.window, stride_s=args.stride or args.window,
                                   keyframe_every_s=args.keyframe_every)
    except ValueError as exc:
        raise CliError(str(exc)) from None
    names = None
    if args.windows_only:
        names = []
    elif args.extractors:
        names = [n.strip() for n in args.extractors.split(",") if n.strip()]
    try:
        active, missing = resolve_extractors(args.profile, names)
    except KeyError as exc:
        raise CliError(exc.args[0]) from None
    settings = {"windowing": options.tag, "extractors": {e.name: e.model_tag for e in active}}
    # Fast path: nothing changed since the last complete run (no LanceDB needed to know that).
    summary = manifest.try_noop(args.db, settings, discover(args.paths), args.profile)
    if summary is not None:
        summary.missing_extractors = missing
        summary.seconds = time.perf_counter() - t0
    else:
        summary = _index_now(args, options, names, settings)
    if args.json:
        sys.stdout.write(dumps(summary) + "\n")
    else:
        for line in summary_lines(summary):
            print(line)
    if not summary.files:
        print(f"vqa index: no media files found under {' '.join(args.paths)}", file=sys.stderr)
        return 1
    if summary.count("failed") == len(summary.files):
        print("vqa index: no file could be indexed", file=sys.stderr)
        return 1
    return 0


def _index_now(args: argparse.Namespace, options, names, settings):
    from vqa_pipeline.indexing import manifest
    from vqa_pipeline.indexing.pipeline import index_paths
    from vqa_pipeline.store import Store

    store = Store(args.db)
    runner = None
    if names != [] and not args.no_ray:
        from vqa_pipeline.indexing.ray_runner import RayOptions, RayRunner

        runner = RayRunner(RayOptions(address=args.ray_address),
                           on_start=lambda: print("starting Ray for the extractors ...", file=sys.stderr))
    bar = _Progress(enabled=not args.quiet)
    try:
        summary = index_paths(args.paths, store, options, profile=args.profile, runner=runner,
                              extractors=names, progress=bar)
    except KeyError as exc:
        raise CliError(exc.args[0]) from None
    finally:
        bar.close()
        if runner is not None:
            runner.close()
    manifest.save(args.db, settings, summary, store.file_records())
    return summary


class _Progress:
    """A tqdm bar over files on stderr, with the current extractor in its postfix."""

    def __init__(self, enabled: bool = True) -> None:
        self.enabled = enabled
        self.bar = None

    def __call__(self, event: str, data: dict) -> None:
        if not self.enabled:
            return
        from tqdm import tqdm

        if event == "found":
            self.bar = tqdm(total=data["n"], unit="file", file=sys.stderr, dynamic_ncols=True, leave=False)
        elif self.bar is not None and event == "extracted":
            self.bar.set_postfix_str(f"{data['extractor']}: {data['outcome'][:40]}", refresh=True)
        elif self.bar is not None and event == "file":
            self.bar.update(1)
            o = data["outcome"]
            self.bar.set_description_str(Path(o.path).name[:30])

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


# -- evidence / doctor ------------------------------------------------------------------------

def cmd_evidence(args: argparse.Namespace) -> int:
    from vqa_pipeline.store import Store, StoreError
    from vqa_pipeline.store.evidence import lines_for_video, resolve_video

    try:
        store = Store(args.db, create=False)
        video = resolve_video(store, args.video)
        lines = lines_for_video(store, video["video_id"])
    except StoreError as exc:
        raise CliError(str(exc)) from None
    if args.json:
        _print_json({"video_id": video["video_id"], "source": video["source"], "lines": lines})
        return 0
    print(f"{video['source']}  (video {video['video_id']}, {video.get('duration_s') or 0:.1f}s, {video['status']})")
    if video.get("error"):
        print(f"  error: {video['error']}")
    for ln in lines:
        print(f"[{ln['start']:.1f}-{ln['end']:.1f}s] {ln['kind']}: {ln['text']}")
    if not lines:
        print("  (no evidence lines yet: run `vqa index` with extractors)")
    return 0


def cmd_doctor(args: argparse.Namespace) -> int:
    from vqa_pipeline.extractors.registry import PROFILES, get_extractor_class, list_extractors, profile_alternatives

    rows = []
    for name in list_extractors():
        profiles = [p for p in PROFILES if any(name in alts for alts in profile_alternatives(p))]
        entry = {"name": name, "profiles": profiles}
        try:
            cls = get_extractor_class(name)
            ex = cls()
            ok, why = ex.availability()
            entry.update(group=cls.group, model=ex.model_tag, num_gpus=cls.num_gpus)
            if ok and args.load:
                ex.load()
        except Exception as exc:  # report, never crash: that is what doctor is for
            ok, why = False, f"{type(exc).__name__}: {' '.join(str(exc).split())[:200]}"
        # When available, the reason says where the weights were found.
        entry.update(available=bool(ok), reason=why or "ok")
        rows.append(entry)
    if args.json:
        _print_json({"extractors": rows})
    else:
        for r in rows:
            mark = "ok " if r["available"] else "-- "
            print(f"{mark} {r['name']:18s} {r.get('group', '?'):10s} {','.join(r['profiles']) or '-':10s} "
                  f"{r.get('model', '')}" + ("" if r["reason"] == "ok" else f"  ({r['reason']})"))
    return 0


# -- search / ask -----------------------------------------------------------------------------

def _query_errors():
    from vqa_pipeline.retrieval.search import QueryError

    return (QueryError, ValueError)


def cmd_search(args: argparse.Namespace) -> int:
    from vqa_pipeline.query import search, search_to_json

    try:
        hits = search(args.question, k=args.k, videos=args.video or None, db=args.db,
                      time_range=tuple(args.time) if args.time else None)
    except _query_errors() as exc:
        raise CliError(str(exc)) from None
    if args.json:
        _print_json(search_to_json(args.question, hits))
        return 0
    if not hits:
        print("no matching windows")
    for i, h in enumerate(hits, 1):
        why = ", ".join(f"{m} {v:.2f}" for m, v in sorted(h.scores.items(), key=lambda kv: -kv[1])[:4])
        print(f"{i:2d}. {h.source} [{h.start:.1f}-{h.end:.1f}s]  score {h.score:.3f}  ({why})")
        for line in h.evidence[:6]:
            print(f"      {line}")
    return 0


def cmd_ask(args: argparse.Namespace) -> int:
    from vqa_pipeline.query import ask

    try:
        answer = ask(args.question, k=args.k, videos=args.video or None, db=args.db,
                     llm_url=args.llm_url, llm_model=args.llm_model, extractive_only=args.extractive,
                     time_range=tuple(args.time) if args.time else None)
    except _query_errors() as exc:
        raise CliError(str(exc)) from None
    if answer.notice:
        print(f"note: {answer.notice}", file=sys.stderr)
    if args.json:
        _print_json(answer.to_json())
        return 0
    print(answer.answer)
    if answer.abstained:
        print("(not enough evidence to answer; closest evidence below)")
    for c in answer.citations:
        print(f"  cited: {c.source} [{c.start:.1f}-{c.end:.1f}s]")
    if args.show_evidence or answer.abstained:
        for line in answer.evidence:
            print(f"  | {line}")
    return 0


# -- eval / tune ------------------------------------------------------------------------------

class _EvalProgress:
    """tqdm bars on stderr for the per-question searches and the Optuna trials."""

    LABELS = {"search": "searching", "trial": "tuning", "cv": "cross-validating", "answer": "answering"}

    def __init__(self, enabled: bool = True) -> None:
        self.enabled = enabled
        self.bars: dict[str, object] = {}

    def __call__(self, event: str, data: dict) -> None:
        if not self.enabled:
            return
        from tqdm import tqdm

        key = f"{event}{data.get('fold', '')}"
        bar = self.bars.get(key)
        if bar is None:
            unit = "trial" if event in ("trial", "cv") else "question"
            desc = self.LABELS.get(event, event) + (f" fold {data['fold']}/{data['folds']}" if "fold" in data else "")
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
        _print_json(out)
        return 0
    print(f"{out['n']} questions, top {args.k} windows each")
    print(f"{'fused':18s} nDCG@10 {out['ndcg@10']:.3f}  Recall@5 {out['recall@5']:.3f}  "
          f"Recall@10 {out['recall@10']:.3f}  MRR {out['mrr']:.3f}")
    for model, m in out["per_model"].items():
        print(f"{model:18s} nDCG@10 {m['ndcg@10']:.3f}  Recall@5 {m['recall@5']:.3f}")
    return 0


def cmd_tune(args: argparse.Namespace) -> int:
    from vqa_pipeline.tuning.run import run_tune
    from vqa_pipeline.tuning.study import TuneOptions

    bar = _EvalProgress(enabled=not args.quiet)
    try:
        options = TuneOptions(trials=args.trials, k=args.k, seed=args.seed, heldout_fraction=args.heldout)
        result, path, prep = run_tune(args.db, args.devset, options,
                                      on_unknown="skip" if args.skip_unknown else "error", progress=bar)
    except _tuning_errors() as exc:
        raise _tuning_error(exc) from None
    finally:
        bar.close()
    for note in prep.notes:
        print(f"note: {note}", file=sys.stderr)
    cfg = result.config
    if args.json:
        _print_json({"config": cfg.to_dict(), "path": str(path), **result.record()})
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
    return 0


# -- parser -----------------------------------------------------------------------------------

def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="vqa",
        description="Index videos and audio into time-coded evidence (LanceDB) and answer questions about them.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log details to stderr")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("--db", type=Path, default=None,
                       help=f"LanceDB folder (default: $VQA_DB or $VQA_HOME/lance; now {default_db_dir()})")
        p.add_argument("--json", action="store_true", help="print a machine-readable result on stdout")

    p = sub.add_parser("index", help="index files and folders (recursive): windows, then every stale extractor",
                       description="Index video and audio files. Idempotent: unchanged files are skipped, "
                       "changed files are re-indexed, bad files are reported and skipped.")
    p.add_argument("paths", nargs="+", metavar="PATH", help="media files or folders")
    common(p)
    p.add_argument("--profile", choices=["lite", "full"], default="lite",
                   help="extractor profile: lite = bundled models (default), full = the seed's models where present")
    p.add_argument("--window", type=float, default=2.0, help="window length in seconds, 1-8 (default 2)")
    p.add_argument("--stride", type=float, default=None, help="window stride in seconds (default: the length)")
    p.add_argument("--keyframe-every", type=float, default=2.0, metavar="S",
                   help="one keyframe per S seconds of window (default 2; VideoPrism wants dense frames, e.g. 0.25)")
    p.add_argument("--extractors", default=None, help="comma-separated extractor names instead of the profile")
    p.add_argument("--windows-only", action="store_true", help="only decode and write windows, run no extractor")
    p.add_argument("--no-ray", action="store_true", help="run extractors in this process instead of Ray actors")
    p.add_argument("--ray-address", default=None, help="Ray cluster address (default: $VQA_RAY_ADDRESS or a local Ray)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_index)

    p = sub.add_parser("evidence", help="print the time-coded evidence lines of an indexed video",
                       description="VIDEO is a video id, the path of an indexed file, or a unique suffix of one.")
    p.add_argument("video", metavar="VIDEO")
    common(p)
    p.set_defaults(func=cmd_evidence)

    def query_options(p: argparse.ArgumentParser, k: int) -> None:
        p.add_argument("question", metavar="QUESTION")
        common(p)
        p.add_argument("--k", type=int, default=k, help=f"number of windows (default {k})")
        p.add_argument("--video", action="append", metavar="VIDEO",
                       help="only this video (id, indexed path or unique suffix); repeatable")
        p.add_argument("--time", nargs=2, type=float, metavar=("START", "END"),
                       help="only windows overlapping this time range, in seconds")

    p = sub.add_parser("search", help="the best-matching windows for a question, with per-model scores")
    query_options(p, 10)
    p.set_defaults(func=cmd_search)

    p = sub.add_parser("ask", help="answer a question from the evidence, citing timecodes")
    query_options(p, 5)
    p.add_argument("--llm-url", default=None,
                   help="OpenAI-compatible endpoint (vLLM, Ollama, llama.cpp server); default: the local Gemma 3 270M")
    p.add_argument("--llm-model", default=None, help="model name at --llm-url")
    p.add_argument("--extractive", action="store_true", help="no LLM: quote the best evidence lines")
    p.add_argument("--show-evidence", action="store_true", help="print the evidence pack too")
    p.set_defaults(func=cmd_ask)

    def eval_options(p: argparse.ArgumentParser) -> None:
        p.add_argument("--devset", action="append", required=True, type=Path, metavar="FILE",
                       help="dev-set file (JSON Lines, see DESIGN.md); repeatable")
        common(p)
        p.add_argument("--skip-unknown", action="store_true",
                       help="skip questions naming videos that are not indexed (default: an error)")
        p.add_argument("-q", "--quiet", action="store_true", help="no progress bars")

    p = sub.add_parser("eval", help="retrieval quality on a dev set: nDCG@10, Recall@5/10, MRR, per model",
                       description="Search every dev-set question as `vqa search --k N` would (with the "
                       "index's tuned fusion if any) and score the hits against the relevant spans.")
    eval_options(p)
    p.add_argument("--k", type=int, default=10, help="windows retrieved per question (default 10)")
    p.set_defaults(func=cmd_eval)

    p = sub.add_parser("tune", help="learn the fusion weights on a dev set (Optuna) and store them for queries",
                       description="Optuna (seeded TPE) over fusion method, per-model weights, rrf_k and "
                       "temperatures, maximizing nDCG@K on the dev split; reports the held-out score and "
                       "writes <db>/fusion.json. The study is kept in $VQA_HOME/optuna.db and resumes.")
    eval_options(p)
    p.add_argument("--trials", type=int, default=200, help="Optuna trials (default 200)")
    p.add_argument("--k", type=int, default=10, help="optimize nDCG@K (default 10)")
    p.add_argument("--seed", type=int, default=0, help="sampler seed (default 0)")
    p.add_argument("--heldout", type=float, default=0.3,
                   help="share of each video's questions held out from tuning (default 0.3)")
    p.set_defaults(func=cmd_tune)

    p = sub.add_parser("doctor", help="list every extractor, whether it can load here, and why not")
    p.add_argument("--json", action="store_true", help="print a machine-readable result on stdout")
    p.add_argument("--load", action="store_true", help="actually load each available model (slower)")
    p.set_defaults(func=cmd_doctor)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, stream=sys.stderr,
                        format="%(levelname)s %(name)s: %(message)s")
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    if getattr(args, "db", "unset") is None:
        args.db = default_db_dir()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    try:
        return args.func(args)
    except CliError as exc:
        print(f"vqa {args.command}: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"vqa {args.command}: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # last resort: one line, details with -v
        logging.getLogger("vqa").debug("unexpected error", exc_info=True)
        print(f"vqa {args.command}: {type(exc).__name__}: {' '.join(str(exc).split())[:300]}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
