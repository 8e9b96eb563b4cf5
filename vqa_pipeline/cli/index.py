"""`vqa index`: files and folders into the index, with a progress bar and a summary."""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from pathlib import Path

from vqa_pipeline.cli.common import CliError


def cmd_index(args: argparse.Namespace) -> int:
    import time

    from vqa_pipeline.extractors.registry import resolve_extractors
    from vqa_pipeline.indexing import manifest
    from vqa_pipeline.indexing.discover import discover
    from vqa_pipeline.indexing.summary import dumps, summary_lines
    from vqa_pipeline.media.types import WindowingOptions

    t0 = time.perf_counter()
    missing_paths = [p for p in args.paths if not os.path.lexists(p)]
    if missing_paths and len(missing_paths) == len(args.paths):
        # a typo: say so before a database is created for nothing
        raise CliError(f"no such file or folder: {', '.join(missing_paths)}")
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
    summary = None if args.repair else manifest.try_noop(args.db, settings, discover(args.paths), args.profile)
    if summary is not None:
        summary.missing_extractors = missing
        summary.seconds = time.perf_counter() - t0
    else:
        summary = _index_locked(args, options, names, settings)
        if summary is None:
            return 1
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


def _index_locked(args: argparse.Namespace, options, names, settings):
    """The run under the database's writer lock; ``None`` (reported) when another writer holds it."""
    from vqa_pipeline.store import Store, StoreError
    from vqa_pipeline.store.lock import DatabaseBusy

    def say(line: str) -> None:
        print(f"vqa index: {line}", file=sys.stderr, flush=True)

    def waiting(holder) -> None:
        who = holder.describe() if holder else "another process"
        limit = f" (at most {args.wait_timeout:g} s)" if args.wait_timeout is not None else ""
        say(f"database {args.db} is busy: {who}; waiting{limit}...")

    try:
        store = Store(args.db, writer="vqa index")
        with store.writing(wait=args.wait, timeout=args.wait_timeout, on_wait=waiting, notice=say,
                           break_lock=args.break_lock):
            return _index_now(args, store, names, options, settings)
    except DatabaseBusy as exc:
        hint = "" if args.wait else "; run again later, or without --no-wait to wait for it"
        message = f"{exc}{hint}"
        if args.json:
            from vqa_pipeline.cli.common import print_json

            print_json({"error": message, "busy": True, "db": str(args.db),
                        "holder": exc.holder.to_json() if exc.holder else None})
        print(f"vqa index: {message}", file=sys.stderr)
        return None
    except StoreError as exc:
        raise CliError(str(exc)) from None


def _index_now(args: argparse.Namespace, store, names, options, settings):
    from vqa_pipeline.indexing import manifest
    from vqa_pipeline.indexing.pipeline import index_paths
    from vqa_pipeline.store.fingerprint import save_listing

    bar = IndexProgress(enabled=not args.quiet)
    runner = None
    if names != [] and not args.no_ray:
        from vqa_pipeline.indexing.ray_runner import RayOptions, RayRunner

        runner = RayRunner(RayOptions(address=args.ray_address),
                           on_start=lambda: bar.say("vqa index: starting Ray for the extractors ..."))
    # Ray's driver prints its notices (a task retried, a node lost) on sys.stdout, which holds this
    # command's summary (with --json, a document): while Ray runs they go to stderr instead.
    quiet_stdout = contextlib.redirect_stdout(sys.stderr) if runner is not None else contextlib.nullcontext()
    try:
        with quiet_stdout:
            summary = index_paths(args.paths, store, options, profile=args.profile, runner=runner,
                                  extractors=names, progress=bar, repair=args.repair)
    except KeyError as exc:
        raise CliError(exc.args[0]) from None
    finally:
        bar.close()
        if runner is not None:
            with contextlib.redirect_stdout(sys.stderr):
                runner.close()
    if runner is not None:  # where the extractors ran: a cluster's nodes are visible in --json
        summary.ray_nodes = {name: sorted(ids) for name, ids in runner.nodes.items()}
    manifest.save(args.db, settings, summary, store.file_records())
    save_listing(args.db)  # lets the next run's fast path notice a lost data file
    return summary


class IndexProgress:
    """Progress on stderr, naming the file each event is about (several files are in flight: one
    is decoded while the models work on the ones before it).

    On a terminal: a tqdm bar over files. Elsewhere (a log, a pipe): one line per finished file.
    """

    def __init__(self, enabled: bool = True, terminal: bool | None = None) -> None:
        self.enabled = enabled
        self.terminal = sys.stderr.isatty() if terminal is None else terminal
        self.bar = None
        self.total = 0
        self.done = 0
        self.names: dict[str, str] = {}  # video id -> file name

    def __call__(self, event: str, data: dict) -> None:
        if not self.enabled:
            return
        if event == "found":
            self.total = data["n"]
            if self.terminal:
                from tqdm import tqdm

                self.bar = tqdm(total=self.total, unit="file", file=sys.stderr, dynamic_ncols=True, leave=False)
        elif event == "start":
            name = Path(data["path"]).name
            self.names[data["video_id"]] = name
            self._show(name, "reading")
        elif event == "extracted":
            name = self.names.get(data["video_id"], data["video_id"])
            self._show(name, f"{data['extractor']}: {data['outcome'][:40]}")
        elif event == "file":
            self.done += 1
            o = data["outcome"]
            if self.bar is not None:
                self.bar.update(1)
                self._show(Path(o.path).name, o.status)
            elif not self.terminal:
                what = f"failed: {o.error[:200]}" if o.status == "failed" else o.status
                print(f"vqa index: {self.done}/{self.total} {Path(o.path).name}: {what}", file=sys.stderr, flush=True)

    def say(self, line: str) -> None:
        """A line on stderr that does not break the bar."""
        if self.bar is not None:
            self.bar.write(line, file=sys.stderr)
        else:
            print(line, file=sys.stderr, flush=True)

    def _show(self, name: str, doing: str) -> None:
        if self.bar is not None:
            self.bar.set_description_str(name[:40], refresh=False)
            self.bar.set_postfix_str(doing, refresh=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
