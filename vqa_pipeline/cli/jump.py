"""`vqa open` and the `--play` of search/ask: print, and run, the command that opens a file at a second."""

from __future__ import annotations

import argparse
import shlex
import sys

from vqa_pipeline.cli.common import CliError, print_json


def cmd_open(args: argparse.Namespace) -> int:
    from vqa_pipeline.jump import resolve_target
    from vqa_pipeline.store import Store, StoreError

    try:
        target = resolve_target(Store(args.db, create=False), args.target)
    except (StoreError, ValueError) as exc:
        raise CliError(str(exc)) from None
    result = open_at(target, print_only=args.print, player=args.player, quiet=args.json)
    if args.json:
        print_json(result)
    return 0


def play_hit(db, video_id: str, seconds: float, print_only: bool = False, to_stderr: bool = False) -> None:
    """``--play``: open an indexed video (a hit, a citation) at ``seconds``; the command line is
    printed (on stderr with ``--json``, so stdout stays one JSON object)."""
    from vqa_pipeline.jump import Target, existing_source
    from vqa_pipeline.store import Store, StoreError

    try:
        store = Store(db, create=False)
        video = store.get_video(video_id)
        if video is None:
            raise StoreError(f"video {video_id} is not in the index at {db}")
        target = Target(video_id, existing_source(store, video), seconds)
    except StoreError as exc:
        raise CliError(str(exc)) from None
    open_at(target, print_only=print_only, out=sys.stderr if to_stderr else sys.stdout)


def open_at(target, print_only: bool = False, player: str | None = None, quiet: bool = False,
            out=None) -> dict:
    """Print the command opening ``target`` (unless ``quiet``) and run it when a player exists."""
    from vqa_pipeline.jump import PLAYERS, find_player, launch, player_command, player_seeks, seconds_arg

    out = out or sys.stdout
    found = find_player(player)
    if player and found is None and not print_only:
        raise CliError(f"the player {player!r} is not installed (not on PATH)")
    # --print with an absent --player: its command all the same (to copy to where it is installed)
    shown = found or player or PLAYERS[0]
    command = player_command(shown, target.source, target.start)
    seeks = player_seeks(shown)
    launched = False
    if not quiet:
        print(shlex.join(command), file=out, flush=True)
    if not seeks:
        print(f"note: {shown} cannot seek: start at {seconds_arg(target.start)} s by hand", file=sys.stderr)
    if found is None:
        if not player:
            print(f"no player found ({', '.join(PLAYERS)}); run the command above once one is installed",
                  file=sys.stderr)
    elif not print_only:
        try:
            launch(command)
        except OSError as exc:
            raise CliError(f"could not start {found}: {exc.strerror or exc}") from None
        launched = True
    return {"video_id": target.video_id, "source": target.source, "start": float(target.start),
            "window_id": target.window_id, "player": found, "command": command, "seeks": seeks,
            "launched": launched}
