"""`vqa search`, `vqa ask`, `vqa evidence` and `vqa doctor`: reading the index (``--play``: cli/jump.py)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from vqa_pipeline.cli.common import CliError, print_json
from vqa_pipeline.store.location import is_uri


def cmd_evidence(args: argparse.Namespace) -> int:
    from vqa_pipeline.evidence_export import SUBTITLE_KINDS, only_kinds, parse_kinds
    from vqa_pipeline.store import Store, StoreError
    from vqa_pipeline.store.evidence import lines_for_video, resolve_video

    fmt = "json" if args.json else (args.format or "text")
    try:
        kinds = parse_kinds(args.kinds)
    except ValueError as exc:
        raise CliError(str(exc)) from None
    try:
        store = Store(args.db, create=False)
        video = resolve_video(store, args.video)
        lines = lines_for_video(store, video["video_id"])
    except StoreError as exc:
        raise CliError(str(exc)) from None
    gone = _file_missing(video["source"])
    if gone:  # the evidence outlives the file; say so on stderr, whatever the format
        print(f"note: {video['source']} is no longer on disk", file=sys.stderr)
    if fmt in ("srt", "vtt"):
        return _print_subtitles(fmt, lines, SUBTITLE_KINDS if args.kinds is None else kinds, video)
    lines = only_kinds(lines, kinds)
    if fmt == "json":
        print_json({"video_id": video["video_id"], "source": video["source"], "lines": lines,
                    **({"file_missing": True} if gone else {})})
        return 0
    if fmt == "csv":
        from vqa_pipeline.evidence_export import to_csv

        sys.stdout.write(to_csv(lines))
        return 0
    print(f"{video['source']}  (video {video['video_id']}, {video.get('duration_s') or 0:.1f}s, {video['status']})")
    if video.get("error"):
        print(f"  error: {video['error']}")
    for ln in lines:
        print(f"[{ln['start']:.1f}-{ln['end']:.1f}s] {ln['kind']}: {ln['text']}")
    if not lines:
        print("  (no evidence lines yet: run `vqa index` with extractors)")
    return 0


def _file_missing(source: str) -> bool:
    """A local indexed file that is gone (moved or deleted since it was indexed)."""
    return bool(source) and not is_uri(source) and not Path(source).is_file()


def _print_subtitles(fmt: str, lines: list[dict], kinds, video: dict) -> int:
    from vqa_pipeline.evidence_export import subtitle_cues, to_srt, to_vtt

    cues = subtitle_cues(lines, kinds)
    sys.stdout.write(to_srt(cues) if fmt == "srt" else to_vtt(cues))
    if not cues:
        what = "speech" if kinds == ("asr",) else "evidence of these kinds"
        print(f"note: {video['source']} has no {what}; the subtitles are empty", file=sys.stderr)
    return 0


def cmd_doctor(args: argparse.Namespace) -> int:
    from vqa_pipeline.extractors.registry import PROFILES, get_extractor_class, list_extractors, profile_alternatives

    if args.health_db is not None:
        _check_holds_index(args.health_db)
    rows = []
    for name in list_extractors():
        profiles = [p for p in PROFILES if any(name in alts for alts in profile_alternatives(p))]
        entry: dict[str, Any] = {"name": name, "profiles": profiles}  # a JSON row
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
    model = _answer_model(args)
    health = _db_health(args) if args.health_db is not None else None
    if args.json:
        print_json({"extractors": rows, "answer_model": model,
                    **({"db": health.to_json()} if health is not None else {})})
    else:
        from vqa_pipeline.answer.model_check import answer_model_lines

        for r in rows:
            mark = "ok " if r["available"] else "-- "
            print(f"{mark} {r['name']:18s} {r.get('group', '?'):10s} {','.join(r['profiles']) or '-':10s} "
                  f"{r.get('model', '')}" + ("" if r["reason"] == "ok" else f"  ({r['reason']})"))
        for line in answer_model_lines(model):
            print(line)
        if health is not None:
            for line in health_lines(health):
                print(line)
    if health is not None and not health.ok:
        print(f"vqa doctor: {len(health.all_problems())} problem(s) in {health.db}; "
              "`vqa index --repair PATH... --db DB` repairs them", file=sys.stderr)
        return 1
    return 0


def _answer_model(args: argparse.Namespace) -> dict:
    """The model `vqa ask` would answer with (the same flags), and whether it can run here."""
    from vqa_pipeline.answer.model_check import endpoint_report, local_model_report

    if args.llm_url:
        return endpoint_report(args.llm_url, args.llm_model)
    return local_model_report(load=args.load)


def _check_holds_index(db: Path | str) -> None:
    """An existing folder without a single table is no index (say $VQA_HOME instead of
    $VQA_HOME/lance): one line, rather than every table "missing" and "no problem found"."""
    from vqa_pipeline.store.fingerprint import TABLES

    if is_uri(db):  # an object store: a prefix with none of our tables is a typo, not an empty index
        from vqa_pipeline.store.errors import raise_object_store_error
        from vqa_pipeline.store.location import DbLocation

        try:
            names = set(DbLocation.of(db).connect().list_tables().tables)
        except (OSError, RuntimeError, ValueError) as exc:
            raise_object_store_error(exc, db, CliError)
            raise
        if not names & set(TABLES):
            raise CliError(f"no index at {db}")
        return
    folder = Path(db)
    if not folder.is_dir() or _holds_index(folder):
        return
    hint = f" (did you mean {folder / 'lance'}?)" if _holds_index(folder / "lance") else ""
    raise CliError(f"no index in {folder}{hint}")


def _holds_index(folder: Path) -> bool:
    from vqa_pipeline.store.fingerprint import TABLES

    return any((folder / f"{name}.lance").is_dir() for name in TABLES)


def _db_health(args: argparse.Namespace):
    from vqa_pipeline.cli.common import check_db_folder
    from vqa_pipeline.store.health import check

    check_db_folder(args.health_db)
    return check(args.health_db, deep=args.deep)


def health_lines(health) -> list[str]:
    """The ``vqa doctor --db`` report: one line per table, the full-text index, then each problem."""
    out = [f"index {health.db}:"]
    for t in health.tables.values():
        if not t.exists:
            state = "missing"
        elif not t.readable:
            state = "DAMAGED"
        else:
            state = f"ok, version {t.version}, {t.rows} rows" + (f", {t.videos} videos" if t.videos is not None else "")
        out.append(f"  table {t.name:12s} {state}")
    out.append(f"  full-text index    {'ok' if health.full_text_index else 'missing'}")
    out += [f"  problem: {p}" for p in health.all_problems()]
    out += [f"  note: {n}" for n in health.notes]
    if health.ok:
        out.append("  no problem found")
    return out


def _query_errors():
    from vqa_pipeline.retrieval.search import QueryError

    return (QueryError, ValueError)


def cmd_search(args: argparse.Namespace) -> int:
    from vqa_pipeline.query import search, search_to_json

    try:
        hits = search(args.question, k=args.k, videos=args.video or None, db=args.db,
                      time_range=tuple(args.time) if args.time else None, rerank=args.rerank,
                      strict_videos=True, thumbnails=args.json)
    except _query_errors() as exc:
        raise CliError(str(exc)) from None
    if args.json:
        print_json(search_to_json(args.question, hits))
        _play_first(args, [(h.video_id, h.start) for h in hits], "hit")
        return 0
    if not hits:
        print("no matching windows")
    for i, h in enumerate(hits, 1):
        why = ", ".join(f"{m} {v:.2f}" for m, v in sorted(h.scores.items(), key=lambda kv: -kv[1])[:4])
        print(f"{i:2d}. {h.source} [{h.start:.1f}-{h.end:.1f}s]  score {h.score:.3f}  ({why})")
        for line in h.evidence[:6]:
            print(f"      {line}")
    _play_first(args, [(h.video_id, h.start) for h in hits], "hit")
    return 0


def _play_first(args: argparse.Namespace, moments: list[tuple[str, float]], what: str) -> None:
    """``--play``: open the first of ``(video_id, second)`` in a player (nothing to open: a note)."""
    if not getattr(args, "play", False):
        return
    if not moments:
        print(f"note: no {what} to play", file=sys.stderr)
        return
    from vqa_pipeline.cli.jump import play_hit

    play_hit(args.db, *moments[0], to_stderr=args.json)


def cmd_ask(args: argparse.Namespace) -> int:
    from vqa_pipeline.query import ask

    if getattr(args, "adapter", None) is not None:
        if args.extractive or args.llm_url:
            raise CliError("--adapter answers with its own decoder: leave out --extractive and --llm-url")
        from vqa_pipeline.cli.adapt import ask_adapter

        try:
            answer = ask_adapter(args)
        except _query_errors() as exc:
            raise CliError(str(exc)) from None
    else:
        try:
            answer = ask(args.question, k=args.k, videos=args.video or None, db=args.db,
                         llm_url=args.llm_url, llm_model=args.llm_model, extractive_only=args.extractive,
                         llm_rerank=args.llm_rerank, llm_timeout_s=args.llm_timeout,
                         time_range=tuple(args.time) if args.time else None, strict_videos=True)
        except _query_errors() as exc:
            raise CliError(str(exc)) from None
    if answer.notice:
        print(f"note: {answer.notice}", file=sys.stderr)
    cited = [(c.video_id, c.start) for c in answer.citations]
    if args.json:
        print_json(answer.to_json())
        _play_first(args, cited, "citation")
        return 0
    print(answer.answer)
    if answer.abstained:
        print("(not enough evidence to answer; closest evidence below)")
    for c in answer.citations:
        print(f"  cited: {c.source} [{c.start:.1f}-{c.end:.1f}s]")
    if args.show_evidence or answer.abstained:
        for line in answer.evidence:
            print(f"  | {line}")
    _play_first(args, cited, "citation")
    return 0
