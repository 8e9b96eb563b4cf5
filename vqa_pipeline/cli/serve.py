"""`vqa serve` (the warm HTTP API and the page) and `vqa list` (the indexed videos)."""

from __future__ import annotations

import argparse
import logging
import re
import socket
import sys
import urllib.parse

from vqa_pipeline.cli.common import CliError, print_json

LIMIT_CONCURRENCY = 256
"""Open connections and requests at once; beyond it uvicorn answers 503 at once (a slow client
holding many connections cannot exhaust the process). Above the 32 queued questions plus media."""
KEEP_ALIVE_S = 5
"""An idle kept-alive connection is closed after this many seconds."""


def port_number(text: str) -> int:
    """``--port``: 0 (a free one) to 65535, refused by argparse at once otherwise."""
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"a port is 0 to 65535 (0 picks a free one), got {port}")
    return port


def public_urls(host: str, port: int, fragment: str) -> tuple[str, str | None]:
    """The URL to print and, for a wildcard ``--host``, the one to use on this machine.

    ``0.0.0.0``/``::`` is no address a browser can open: the first URL names this machine by its
    host name (what another machine can use), the second is the loopback one.
    """
    bare = host.strip("[]")
    local = None
    if bare in ("0.0.0.0", "::", ""):
        shown = socket.gethostname() or ("127.0.0.1" if bare != "::" else "[::1]")
        local = f"http://{'[::1]' if bare == '::' else '127.0.0.1'}:{port}/{fragment}"
    else:
        shown = f"[{bare}]" if ":" in bare else bare
    return f"http://{shown}:{port}/{fragment}", local


class RedactToken(logging.Filter):
    """Access-log lines with ``token=...`` in the query string logged as ``token=***``."""

    _TOKEN = re.compile(r"((?:^|[?&])token=)[^&\s]*")

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(self._TOKEN.sub(r"\1***", a) if isinstance(a, str) else a for a in record.args)
        return True


def cmd_serve(args: argparse.Namespace) -> int:
    from vqa_pipeline.serve.hosts import is_loopback

    if args.token is not None and not args.token.strip():
        raise CliError("--token is empty: give a token that clients must send, or leave --token out")
    if not is_loopback(args.host) and not args.token:
        raise CliError(f"--host {args.host} lets other machines connect: give --token T (every request must "
                       "carry it), or bind 127.0.0.1")
    from vqa_pipeline.query import QueryError, list_videos

    try:
        list_videos(args.db)  # no index, no server: say so now, not on the first request
    except QueryError as exc:
        raise CliError(str(exc)) from None
    try:
        import uvicorn

        from vqa_pipeline.serve import create_app
    except ImportError as exc:
        raise CliError(f"the server needs {exc.name} (pip install -e '.[lite]')") from None
    family = socket.AF_INET6 if ":" in args.host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((args.host.strip("[]"), args.port))
        # Listening now: a request sent as soon as the URL is printed waits in the backlog until
        # uvicorn accepts (it only listens after its start-up, which prints the URL).
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        raise CliError(f"cannot listen on {args.host}:{args.port}: {exc.strerror or exc}") from None
    port = sock.getsockname()[1]
    url, local = public_urls(args.host, port,
                             f"#token={urllib.parse.quote(args.token, safe='')}" if args.token else "")

    def ready() -> None:  # called once the models are loaded: the URL is printed only when it answers
        also = f"; on this machine: {local}" if local else ""
        print(f"vqa serve: ready: {url}  (index {args.db}{also}; Ctrl-C stops)", flush=True)

    print(f"vqa serve: loading the models (listening on port {port}) ...", file=sys.stderr, flush=True)
    app = create_app(args.db, args.token, llm_url=args.llm_url, llm_model=args.llm_model,
                     extractive=args.extractive, on_ready=ready)
    config = uvicorn.Config(app, log_level="debug" if args.verbose else "warning", access_log=args.verbose,
                            timeout_graceful_shutdown=3, limit_concurrency=LIMIT_CONCURRENCY,
                            timeout_keep_alive=KEEP_ALIVE_S)
    logging.getLogger("uvicorn.access").addFilter(RedactToken())  # uvicorn sets its loggers up in Config
    try:
        uvicorn.Server(config).run(sockets=[sock])
    except KeyboardInterrupt:  # uvicorn re-raises Ctrl-C after its graceful shutdown: the normal way to stop
        pass
    print("vqa serve: stopped", file=sys.stderr)
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    from vqa_pipeline.query import QueryError, list_videos

    try:
        rows = list_videos(args.db)
    except QueryError as exc:
        raise CliError(str(exc)) from None
    if args.json:
        print_json({"videos": rows})
        return 0
    if not rows:
        print(f"no videos in {args.db}")
    # Columns as wide as their longest value, so a long file name does not push its row out of line.
    name_w = max((len(r["name"]) for r in rows), default=0)
    status_w = max((len(r["status"]) for r in rows), default=0)
    id_w = max((len(r["video_id"] or "-") for r in rows), default=0)
    for r in rows:
        dur = f"{r['duration']:8.1f}s" if r["duration"] is not None else "        -"
        gone = "" if r["exists"] else "  (file missing)"
        print(f"{r['name']:{name_w}s} {dur}  {r['status']:{status_w}s} {r['video_id'] or '-':{id_w}s}  "
              f"{r['source']}{gone}")
        if r["error"]:
            print(f"    reason: {r['error']}")
    return 0
