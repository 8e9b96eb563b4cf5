"""The `vqa` command: index media, inspect evidence, search and ask, evaluate and tune.

Every command accepts ``--json`` (machine-readable result on stdout; progress on stderr) and exits
0 on success, non-zero with a one-line reason on failure. One module per group of subcommands
(``index``, ``query``, ``tuning``); this one builds the parser and runs a command.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path

from vqa_pipeline.cli.adapt import add_adapt_parser
from vqa_pipeline.cli.common import CliError, check_db_folder
from vqa_pipeline.cli.index import cmd_index
from vqa_pipeline.cli.jump import cmd_open
from vqa_pipeline.cli.query import cmd_ask, cmd_doctor, cmd_evidence, cmd_search
from vqa_pipeline.cli.serve import cmd_list, cmd_serve, port_number
from vqa_pipeline.cli.tuning import cmd_eval, cmd_tune
from vqa_pipeline.config import default_db_dir
from vqa_pipeline.store.location import as_db

__all__ = ["CliError", "build_parser", "main"]

DB_HELP = ("LanceDB folder, or an object store: s3://bucket/prefix (s3+ddb://bucket/prefix?ddbTableName=T for "
           "several writers at once; settings from AWS_* variables, see the README) (default: $VQA_DB, else "
           "$VQA_HOME/lance; $VQA_HOME is .vqa in the current folder unless set)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="vqa",
        description="Index videos and audio into time-coded evidence (LanceDB) and answer questions about them.",
    )
    parser.add_argument("-v", "--verbose", action="store_true",
                        help="log details to stderr, the libraries' own (llama.cpp, Ray, LanceDB) included")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("--db", type=as_db, default=None, help=DB_HELP)
        p.add_argument("--json", action="store_true", help="print a machine-readable result on stdout")
        verbose_option(p)

    p = sub.add_parser("index", help="index files and folders (recursive): windows, then every stale extractor",
                       description="Index video and audio files. Idempotent: unchanged files are skipped, "
                       "changed files are re-indexed, bad files are reported and skipped.")
    p.add_argument("paths", nargs="+", metavar="PATH", help="media files or folders")
    common(p)
    p.add_argument("--profile", choices=["lite", "full"], default="lite",
                   help="lite (default): the bundled CPU models, nothing downloaded; full: adds larger models "
                   "meant for a GPU (Whisper large-v3, PaddleOCR, CLIP, CLAP, VideoPrism) from weights already "
                   "on this machine (a local folder or the Hugging Face cache); one that is missing is skipped, "
                   "or replaced by its lite model for speech and on-screen text (`vqa doctor` lists them)")
    p.add_argument("--window", type=float, default=2.0, help="window length in seconds, 1-8 (default 2)")
    p.add_argument("--stride", type=float, default=None, help="window stride in seconds (default: the length)")
    p.add_argument("--keyframe-every", type=float, default=2.0, metavar="S",
                   help="one keyframe per S seconds of window (default 2; VideoPrism wants dense frames, e.g. 0.25)")
    p.add_argument("--extractors", default=None, help="comma-separated extractor names instead of the profile")
    p.add_argument("--windows-only", action="store_true", help="only decode and write windows, run no extractor")
    p.add_argument("--no-ray", action="store_true", help="run extractors in this process instead of Ray actors")
    p.add_argument("--ray-address", default=None, help="Ray cluster address (default: $VQA_RAY_ADDRESS or a local Ray)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.add_argument("--wait", action=argparse.BooleanOptionalAction, default=True,
                   help="when another process writes to the database: wait for it (default) or, with "
                   "--no-wait, exit 1 saying who holds it")
    p.add_argument("--wait-timeout", type=float, default=None, metavar="S",
                   help="give up waiting after S seconds (exit 1; default: wait as long as it takes)")
    p.add_argument("--break-lock", action="store_true",
                   help="take the database's writer lock even from a writer on another host that seems alive "
                   "(never from a live process on this host)")
    p.add_argument("--repair", action="store_true",
                   help="read every table in full before trusting it (every run makes cheap checks); "
                   "damaged tables are moved aside and rebuilt")
    p.set_defaults(func=cmd_index)

    p = sub.add_parser("evidence", help="print the time-coded evidence lines of an indexed video",
                       description="VIDEO is a video id, the path of an indexed file, a unique suffix of one, "
                       "or a unique file name without its extension (fire_drill).")
    p.add_argument("video", metavar="VIDEO")
    common(p)
    p.add_argument("--format", choices=["text", "srt", "vtt", "csv", "json"], default=None,
                   help="text (default), srt or vtt subtitles (speech, one cue per sentence), "
                   "csv (start,end,kind,text), json (as --json)")
    p.add_argument("--kinds", default=None, metavar="KINDS",
                   help="only these kinds, comma-separated: speech (asr), ocr (on-screen text), sound (audio), "
                   "visual, or all (default: speech for srt and vtt, all otherwise)")
    p.set_defaults(func=cmd_evidence)

    p = sub.add_parser("open", help="open an indexed file at a second in a player (mpv, vlc, ffplay, xdg-open)",
                       description="TARGET is VIDEO@TIME (fire_drill@12.5, /x/talk.mp4@1:02, VIDEO_ID@1:02:03) "
                       "or a window id (its start). Prints the command and runs it when a player is installed.")
    p.add_argument("target", metavar="TARGET")
    common(p)
    p.add_argument("--print", action="store_true", help="only print the command, do not run it")
    p.add_argument("--player", choices=["mpv", "vlc", "ffplay", "xdg-open"], default=None,
                   help="use this player (default: the first installed of mpv, vlc, ffplay, xdg-open)")
    p.set_defaults(func=cmd_open)

    def query_options(p: argparse.ArgumentParser, k: int, k_help: str) -> None:
        p.add_argument("question", metavar="QUESTION")
        common(p)
        p.add_argument("--k", type=int, default=k, help=k_help)
        p.add_argument("--video", action="append", metavar="VIDEO",
                       help="only this video (id, indexed path, unique suffix or file name stem); repeatable")
        p.add_argument("--time", nargs=2, type=float, metavar=("START", "END"),
                       help="only windows overlapping this time range, in seconds")

    p = sub.add_parser("search", help="the best-matching windows for a question, with per-model scores",
                       description="Search the indexed windows for QUESTION: each model's vector column and "
                       "the full-text (BM25) index rank the windows, and the rankings are fused (with the "
                       "index's tuned fusion if `vqa tune` made one). Prints the best windows first, each "
                       "with its file, time range, score, per-model scores and evidence lines.")
    query_options(p, 10, "number of windows to return (default 10)")
    p.add_argument("--rerank", action="store_true",
                   help="order the windows by their best evidence unit for the question (as `ask` does; slower)")
    p.add_argument("--play", action="store_true", help="open the top hit in a player at its start (as `vqa open`)")
    p.set_defaults(func=cmd_search)

    p = sub.add_parser("ask", help="answer a question from the evidence, citing timecodes",
                       description="Answer QUESTION from the indexed evidence: the windows are searched as "
                       "`vqa search` does, their evidence units (sentences, on-screen text, sounds) are "
                       "ranked for the question, and the answer model (the local Gemma 3 270M, --llm-url, or "
                       "--extractive for none) answers from the best ones, citing file and time range. "
                       "With too little evidence it says so rather than guess.")
    query_options(p, 5, "number of windows (default 5); the evidence units of the best max(30, 3k) "
                  "windows are ranked for the answer")
    p.add_argument("--llm-url", default=None,
                   help="OpenAI-compatible endpoint (vLLM, Ollama, llama.cpp server); default: the local Gemma 3 270M")
    p.add_argument("--llm-model", default=None, help="model name at --llm-url")
    p.add_argument("--llm-timeout", type=float, default=30.0, metavar="SECONDS",
                   help="with --llm-url: total seconds for each request, connect and whole reply (default 30); "
                   "past it the extractive answer is given with a notice")
    p.add_argument("--extractive", action="store_true",
                   help="no LLM: the answer picked from the best evidence units (a name, number, ... or a quote)")
    p.add_argument("--llm-rerank", action="store_true",
                   help="with --llm-url: let the chat model pick the best of the top evidence units first")
    p.add_argument("--show-evidence", action="store_true", help="print the evidence pack too")
    p.add_argument("--play", action="store_true", help="open the first citation in a player at its start (as `vqa open`)")
    p.add_argument("--adapter", type=Path, default=None, metavar="PATH",
                   help="answer with a trained adapter (`vqa adapt train`): its decoder sees the soft tokens of "
                   "the best retrieved window before the evidence")
    p.add_argument("--decoder", default=None, metavar="PATH",
                   help="with --adapter: the decoder it was trained with (default: the bundled Gemma 3 270M)")
    p.set_defaults(func=cmd_ask)

    def eval_options(p: argparse.ArgumentParser) -> None:
        p.add_argument("--devset", action="append", required=True, type=Path, metavar="FILE",
                       help="dev-set file, JSON Lines with id, video, question, answer_any, relevant (as in "
                       "data/sample/devset.jsonl); repeatable")
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

    p = sub.add_parser("tune", help="learn the fusion weights and the unit re-ranker on a dev set; store them for queries",
                       description="Optuna (seeded TPE) over fusion method, per-model weights, rrf_k and "
                       "temperatures, maximizing nDCG@K on the dev split; reports the held-out score and "
                       "writes <db>/fusion.json. The study is kept in $VQA_HOME/optuna.db and resumes. Then the "
                       "evidence re-ranker is trained on the same dev split (<db>/reranker.json).")
    eval_options(p)
    p.add_argument("--trials", type=int, default=200, help="Optuna trials (default 200)")
    p.add_argument("--k", type=int, default=10, help="optimize nDCG@K (default 10)")
    p.add_argument("--seed", type=int, default=0, help="sampler seed (default 0)")
    p.add_argument("--heldout", type=float, default=0.3,
                   help="share of each video's questions held out from tuning (default 0.3; a dev set "
                   "with a 'split' key on its lines fixes the split instead)")
    p.add_argument("--no-reranker", action="store_true",
                   help="tune the fusion only (default: then train the evidence re-ranker -> <db>/reranker.json)")
    p.set_defaults(func=cmd_tune)

    p = sub.add_parser("list", help="the indexed videos: name, duration, status, failure reason")
    common(p)
    p.set_defaults(func=cmd_list)

    p = sub.add_parser("serve", help="a local web page and JSON API over the index, with a player (models stay loaded)",
                       description="Serve /api/search, /api/ask, /api/evidence, /api/videos, the indexed files "
                       "(/api/media, with range requests) and a web page at /. API docs at /docs (OpenAPI: /openapi.json).")
    p.add_argument("--db", type=as_db, default=None, help=DB_HELP)
    verbose_option(p)
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default 127.0.0.1: this machine only; any other needs --token)")
    p.add_argument("--port", type=port_number, default=8080, help="port (default 8080; 0 picks a free one)")
    p.add_argument("--token", default=None,
                   help="bearer token every API and media request must carry (required with a non-local --host)")
    p.add_argument("--llm-url", default=None, help="OpenAI-compatible endpoint for answers (default: the local Gemma 3 270M)")
    p.add_argument("--llm-model", default=None, help="model name at --llm-url")
    p.add_argument("--extractive", action="store_true", help="answer without a model (quote the best evidence)")
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("doctor", help="list every extractor and the answer model, whether they can load here, "
                       "and why not; with --db, an index's tables, their rows and health too")
    p.add_argument("--json", action="store_true", help="print a machine-readable result on stdout")
    p.add_argument("--db", dest="health_db", type=as_db, default=None, metavar="DB",
                   help="also check this index: each table opens and reads, rows per video, the full-text "
                   "index (exit 1 when a problem is found; `vqa index --repair` fixes it)")
    p.add_argument("--deep", action="store_true", help="with --db: read every column of every table (slower)")
    p.add_argument("--load", action="store_true", help="actually load each available model (slower)")
    p.add_argument("--llm-url", default=None,
                   help="check this OpenAI-compatible endpoint as the answer model (default: the local Gemma 3 270M)")
    p.add_argument("--llm-model", default=None, help="model name at --llm-url")
    verbose_option(p)
    p.set_defaults(func=cmd_doctor)

    add_adapt_parser(sub, verbose_option)
    return parser


def verbose_option(p: argparse.ArgumentParser) -> None:
    """``-v`` after the subcommand too (``vqa ask -v ...``); SUPPRESS keeps ``vqa -v ask`` working."""
    p.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS,
                   help="log details to stderr (as `vqa -v COMMAND`)")


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
    if args.verbose:  # libraries log too, here and in the processes we start (Ray)
        from vqa_pipeline.verbosity import set_verbose

        set_verbose(True)
    if not args.verbose:  # LanceDB's Rust warnings carry build paths; -v shows them
        os.environ.setdefault("LANCEDB_LOG", "error")
    try:
        check_db_folder(getattr(args, "db", None))
        code = args.func(args)
        sys.stdout.flush()  # a closed pipe shows here, not at exit
        return code
    except BrokenPipeError:
        return _reader_left()
    except CliError as exc:
        return _fail(args, str(exc))
    except KeyboardInterrupt:
        return _fail(args, "interrupted", 130)
    except Exception as exc:  # last resort: one line, details with -v
        from vqa_pipeline.store.errors import describe, is_lance_error, object_store_reason

        logging.getLogger("vqa").debug("unexpected error", exc_info=True)
        remote = object_store_reason(exc, getattr(args, "db", None) or getattr(args, "health_db", None))
        if remote is not None:
            return _fail(args, remote)
        if is_lance_error(exc):
            return _fail(args, describe(exc, getattr(args, "db", None)))
        return _fail(args, f"{type(exc).__name__}: {' '.join(str(exc).split())[:300]}")


def _fail(args: argparse.Namespace, reason: str, code: int = 1) -> int:
    """The one-line reason on stderr; with ``--json`` also ``{"error": reason}`` on stdout, so a
    script reading stdout gets JSON either way."""
    print(f"vqa {args.command}: {reason}", file=sys.stderr)
    if getattr(args, "json", False):
        try:
            print(json.dumps({"error": reason}), flush=True)
        except BrokenPipeError:
            return _reader_left()
    return code


def _reader_left() -> int:
    """``vqa evidence ... | head``: the reader closed the pipe, which is not a failure of ours.

    Whatever is still buffered goes to /dev/null, so Python's exit does not complain either.
    """
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
    return 0
