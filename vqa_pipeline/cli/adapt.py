"""`vqa adapt train|eval`: train an adapter on feature questions and score it three ways; and the
``--adapter`` route of `vqa ask`.

Without ``--db`` both commands use the generated adapter corpus (``$VQA_HOME/adapter_corpus``:
seeded clips, indexed lite on first use and reused after); with ``--db`` they use that index and
the truth files given with ``--truth`` (default: the sample corpus's).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from vqa_pipeline.cli.common import CliError, print_json


def add_adapt_parser(sub: Any, verbose_option) -> None:
    p = sub.add_parser("adapt", help="train and evaluate adapters that give the LLM non-text features as soft tokens",
                       description="Adapters map a window's features (YAMNet sound scores, colour statistics, "
                       "thumbnails, ...) to soft tokens before the LLM's prompt. `train` fits one on feature "
                       "questions (which sound, which colour, scene cut, speech or silence) of the training "
                       "videos; `eval` scores the held-out videos' questions three ways: the LLM alone, a linear "
                       "probe on the same features, and the LLM with the adapter.")
    asub = p.add_subparsers(dest="adapt_command", metavar="ACTION", required=True)
    for name, helptext in (("train", "train an adapter (writes it, its training log and its loss curve into the --out folder)"),
                           ("eval", "score an adapter on the held-out feature questions (and optionally a dev set)")):
        a = asub.add_parser(name, help=helptext, description=helptext)
        # its own --db: without one, the generated corpus is used (not the default index)
        a.add_argument("--db", dest="adapt_db", type=Path, default=None, metavar="DIR",
                       help="an index whose clips have truth files (default: the generated adapter corpus)")
        a.add_argument("--json", action="store_true", help="print a machine-readable result on stdout")
        verbose_option(a)
        a.add_argument("--out", type=Path, default=None,
                       help="adapter folder (default: $VQA_HOME/adapters/<modalities>)")
        a.add_argument("--modality", default=None, metavar="NAMES",
                       help="comma-separated feature modalities: audio, visual, thumb, text, audio_labels, clip, "
                       "clap, videoprism (default for train: audio,visual; eval: the adapter's own)")
        a.add_argument("--truth", action="append", type=Path, metavar="DIR",
                       help="folder of truth files (*.json) for the indexed clips; repeatable "
                       "(default: the generated corpus's, or data/sample/truth with --db)")
        a.add_argument("--decoder", default=None, metavar="PATH",
                       help="a local Hugging Face causal LM folder (default: the bundled Gemma 3 270M)")
        a.add_argument("--clips", type=int, default=48, help="clips in the generated corpus (default 48)")
        a.add_argument("--seed", type=int, default=0, help="corpus draw, split and training seed (default 0)")
        a.add_argument("--device", default="auto", help="auto (default: cuda when present), cpu or cuda")
        a.add_argument("-q", "--quiet", action="store_true", help="no progress")
        if name == "train":
            a.add_argument("--steps", type=int, default=300, help="optimizer steps (default 300)")
            a.add_argument("--kind", choices=["mlp", "resampler", "xattn"], default="mlp",
                           help="mlp soft tokens (default), a resampler, or gated cross-attention")
            a.add_argument("--tokens", type=int, default=8, help="soft tokens per modality (default 8)")
            a.add_argument("--lr", type=float, default=1e-3, help="learning rate (default 0.001)")
            a.add_argument("--balance", action=argparse.BooleanOptionalAction, default=False,
                           help="draw batches evenly over question kind, then answer, so a majority answer is "
                           "not learnt as a prior (default off)")
            a.add_argument("--schedule", choices=["constant", "cosine"], default="constant",
                           help="learning-rate schedule: constant (default), or warm-up then cosine decay")
            a.add_argument("--minutes", type=float, default=0.0,
                           help="stop training after this many minutes even if --steps are not done (default: no limit)")
            a.set_defaults(func=cmd_adapt_train)
        else:
            a.add_argument("--limit", type=int, default=None, help="score only the first N held-out questions")
            a.add_argument("--devset", type=Path, default=None, metavar="FILE",
                           help="also compare text evidence + soft tokens with text evidence alone on this dev set")
            a.add_argument("--devset-db", type=Path, default=None, metavar="DIR",
                           help="the index the dev set's videos are in (default: --db, else the default index)")
            a.set_defaults(func=cmd_adapt_eval)


def _errors() -> tuple[type[Exception], ...]:
    from vqa_pipeline.adapters.dataset import DatasetError
    from vqa_pipeline.adapters.evaluate import EvaluationError
    from vqa_pipeline.adapters.feature_questions import FeatureQuestionError
    from vqa_pipeline.adapters.spec import AdapterError
    from vqa_pipeline.adapters.window_features import FeatureError
    from vqa_pipeline.retrieval.search import QueryError
    from vqa_pipeline.tuning.devset import DevSetError

    return (AdapterError, FeatureError, FeatureQuestionError, DatasetError, EvaluationError, QueryError, DevSetError)


def _say(args: argparse.Namespace, text: str) -> None:
    if not args.quiet:
        print(f"vqa adapt {args.adapt_command}: {text}", file=sys.stderr, flush=True)


def _dataset(args: argparse.Namespace, modalities: tuple[str, ...]):
    """The data set: from ``--db`` (explicitly given) or the generated corpus (made on first use)."""
    from vqa_pipeline.adapters.dataset import TRUTH_OF_SAMPLE, build_dataset, prepare_corpus
    from vqa_pipeline.config import state_dir

    if args.adapt_db is not None:
        truth = args.truth or [TRUTH_OF_SAMPLE]
        return build_dataset(args.adapt_db, truth, modalities, seed=args.seed)
    home = state_dir() / "adapter_corpus"
    _say(args, f"preparing {args.clips} generated clips and their index in {home} (reused when present) ...")
    media, lance = prepare_corpus(home, args.clips, args.seed)
    return build_dataset(lance, args.truth or [media / "truth"], modalities, seed=args.seed)


def _out(args: argparse.Namespace, modalities: tuple[str, ...]) -> Path:
    from vqa_pipeline.config import state_dir

    return args.out if args.out is not None else state_dir() / "adapters" / "_".join(modalities)


class _StepBar:
    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.bar: Any = None  # a tqdm bar once a terminal shows it

    def __call__(self, step: int, total: int, loss: float) -> None:
        if not self.enabled:
            return
        if not sys.stderr.isatty():
            if step == 1 or step % max(1, total // 10) == 0 or step == total:
                print(f"vqa adapt train: step {step}/{total} loss {loss:.4f}", file=sys.stderr, flush=True)
            return
        from tqdm import tqdm

        if self.bar is None:
            self.bar = tqdm(total=total, unit="step", desc="training", file=sys.stderr, leave=False)
        self.bar.update(step - self.bar.n)
        self.bar.set_postfix_str(f"loss {loss:.4f}", refresh=False)
        if step >= total:
            self.bar.close()


def cmd_adapt_train(args: argparse.Namespace) -> int:
    from vqa_pipeline.adapters.decoder import load_decoder
    from vqa_pipeline.adapters.route import train_on
    from vqa_pipeline.adapters.window_features import parse_modalities

    try:
        modalities = parse_modalities(args.modality)
        if args.steps < 1:
            raise CliError(f"--steps must be at least 1, not {args.steps}")
        if args.minutes < 0:
            raise CliError(f"--minutes must be 0 (no limit) or more, not {args.minutes}")
        ds = _dataset(args, modalities)
        out = _out(args, modalities)
        summary = ds.summary()
        _say(args, f"{summary['train']} training questions from {summary['train_videos']} videos; "
             f"loading the decoder ...")
        decoder = load_decoder(args.decoder, args.device)
        training = train_on(ds, decoder, out, steps=args.steps, kind=args.kind, k_tokens=args.tokens, lr=args.lr,
                            seed=args.seed, progress=_StepBar(not args.quiet), balance=args.balance,
                            schedule=args.schedule, max_seconds=args.minutes * 60)
    except _errors() as exc:
        raise CliError(str(exc)) from None
    result = {**training.summary(), "dataset": summary, "loss_plot": str(out / "loss.png")}
    if args.json:
        print_json(result)
        return 0
    print(f"trained {result['steps']} steps in {result['seconds']:.1f} s ({result['steps_per_s']:.2f} steps/s, "
          f"peak memory {result['peak_rss_mb']:.0f} MB); loss {result['loss_first']} -> {result['loss_last']}")
    print(f"adapter: {training.adapter}  (loss curve: {out / 'loss.png'})")
    return 0


def cmd_adapt_eval(args: argparse.Namespace) -> int:
    from vqa_pipeline.adapters.ask_route import check_index_features, devset_comparison
    from vqa_pipeline.adapters.checkpoint import read_meta
    from vqa_pipeline.adapters.evaluate import markdown_table
    from vqa_pipeline.adapters.route import REPORT_FILE, adapter_path, check_dataset_fits, evaluate_on, load_trained
    from vqa_pipeline.adapters.spec import FeatureSpec
    from vqa_pipeline.adapters.window_features import parse_modalities
    from vqa_pipeline.config import default_db_dir

    try:
        wanted = parse_modalities(args.modality) if args.modality else None
        path = adapter_path(args.out if args.out is not None else _out(args, wanted or parse_modalities(None)))
        meta = read_meta(path)  # a missing or corrupt adapter is refused before anything loads
        modalities = tuple(s["name"] for s in meta["specs"])
        if wanted and set(wanted) != set(modalities):
            raise CliError(f"the adapter {path} reads {', '.join(modalities)}, not {', '.join(wanted)}")
        ds = _dataset(args, modalities)
        check_dataset_fits(ds, [FeatureSpec.from_dict(s) for s in meta["specs"]])  # before a decoder loads
        devset_db = args.devset_db or args.adapt_db or default_db_dir()
        if args.devset is not None:  # the dev set and its index too: before minutes of answering
            from vqa_pipeline.tuning.devset import load_devset

            load_devset(args.devset)
            check_index_features(devset_db, [FeatureSpec.from_dict(s) for s in meta["specs"]])
        _say(args, f"loading the decoder and {path} ...")
        decoder, bridge, specs, _ = load_trained(path, args.decoder, args.device)
        report = evaluate_on(ds, decoder, bridge, specs, progress=_phase(args), limit=args.limit)
        if args.devset is not None:
            report["devset"] = devset_comparison(devset_db, args.devset, decoder, bridge, specs, progress=_phase(args),
                                                 checked=True)
    except _errors() as exc:
        raise CliError(str(exc)) from None
    report["adapter"] = str(path)
    (path.parent / REPORT_FILE).write_text(json.dumps(report, indent=2) + "\n")
    if args.json:
        print_json(report)
        return 0
    print(markdown_table(report), end="")
    goals = report.get("goals", {})
    if goals:
        print(f"adapter - no soft tokens: {goals['adapter_minus_no_soft']:+.2f} (goal +0.30); "
              f"probe - adapter: {goals['probe_minus_adapter']:+.2f} (goal <= 0.10)")
    if "devset" in report:
        d = report["devset"]
        print(f"dev set ({d['n']} questions): answer accuracy text only {d['text_only']['answer_accuracy']}, "
              f"with soft tokens {d['with_soft_tokens']['answer_accuracy']} (delta {d['delta']})")
    return 0


def _phase(args: argparse.Namespace):
    seen: set[str] = set()

    def progress(event: str, data: dict) -> None:
        if not args.quiet and event not in seen:
            seen.add(event)
            _say(args, f"{'answering' if event == 'evaluate' else event} {data['n']} questions ...")

    return progress


def ask_adapter(args: argparse.Namespace):
    """The answer of `vqa ask --adapter PATH` (the bundled decoder unless --decoder is given)."""
    from vqa_pipeline.adapters.ask_route import ask_with_adapter
    from vqa_pipeline.adapters.route import load_trained

    try:
        decoder, bridge, specs, _ = load_trained(args.adapter, getattr(args, "decoder", None))
        return ask_with_adapter(args.question, args.db, decoder, bridge, specs, k=args.k, videos=args.video or None,
                                time_range=tuple(args.time) if args.time else None, extractive_only=False)
    except _errors() as exc:
        raise CliError(str(exc)) from None
