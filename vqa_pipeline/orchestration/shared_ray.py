"""One Ray for every run of a `dagster dev` session, so the extractors' models load once, not per run.

The daemon starts each run in a new process. A Ray started by a run (``ray.init()``) dies with it,
and its extractor actors load every model again in the next run: on a small machine that cost
more than extracting a short clip. ``scripts/dagster.sh dev`` therefore starts a Ray head of its
own first (``ray start --head --block``), exports its address as ``VQA_RAY_ADDRESS`` and stops
it when `dagster dev` exits; the runs join it and reuse its named extractor actors (see
``ExtractionRuntime.keep_actors`` and ``RayOptions.shared_actors``).

    python -m vqa_pipeline.orchestration.shared_ray -- dagster dev ...   # what the script runs
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

ENV_RAY_ADDRESS = "VQA_RAY_ADDRESS"
ENV_RAY_TOKEN = "RAY_AUTH_TOKEN"
START_TIMEOUT_S = 120.0


class SharedRayError(RuntimeError):
    """The shared Ray could not start (the message is one line, with Ray's last words)."""


def auth_env() -> dict[str, str]:
    """Ray's token authentication: the environment's token, or a new one (the caller passes it on)."""
    token = os.environ.get(ENV_RAY_TOKEN) or secrets.token_hex(24)
    return {"RAY_AUTH_MODE": "token", ENV_RAY_TOKEN: token}


def _die_with_parent() -> None:
    """In the Ray head's process (before exec): SIGTERM it when the wrapper dies, even by SIGKILL (Linux).

    The head runs in a session of its own, so no terminal signal reaches it; without this a killed
    wrapper would leave it, and its detached actors with their models loaded, running.
    """
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    pr_set_pdeathsig = 1
    ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM, 0, 0, 0)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _ray_cli() -> str:
    return str(Path(sys.executable).parent / "ray")


@contextmanager
def shared_ray(timeout_s: float = START_TIMEOUT_S, auth: Mapping[str, str] | None = None) -> Iterator[str]:
    """A Ray head on this machine for the duration of the block; yields its address (``127.0.0.1:PORT``).

    Only the processes of this head are stopped at the end (its own process group), never any
    other Ray on the machine. ``auth`` is the head's :func:`auth_env` (the processes that join it
    need the same token); by default that of the environment, or a new one.

    Raises:
        SharedRayError: Ray did not start within ``timeout_s``.
    """
    port = _free_port()
    # A short private folder (Ray's socket paths must stay short): a `ray.init()` elsewhere on this
    # machine finds clusters through /tmp/ray/ray_current_cluster, so it never joins this one.
    with tempfile.TemporaryDirectory(prefix="vqa-ray-", dir="/tmp") as tmp:
        log_path = Path(tmp) / "ray-start.log"
        cmd = [_ray_cli(), "start", "--head", "--block", f"--port={port}", "--node-ip-address=127.0.0.1",
               "--include-dashboard=false", "--disable-usage-stats", f"--temp-dir={tmp}"]
        with log_path.open("w") as log:
            proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                                    preexec_fn=_die_with_parent, env={**os.environ, **(auth or auth_env())})
        try:
            _wait_started(proc, log_path, timeout_s)
            yield f"127.0.0.1:{port}"
        finally:
            _stop(proc)


def _wait_started(proc: subprocess.Popen, log_path: Path, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        text = log_path.read_text(errors="replace")
        if "Ray runtime started" in text:
            return
        if proc.poll() is not None:
            break
        time.sleep(0.2)
    last = [ln for ln in log_path.read_text(errors="replace").splitlines() if ln.strip()][-1:] or ["no output"]
    raise SharedRayError(f"the shared Ray for the Dagster runs did not start: {last[0].strip()[:200]}")


def _stop(proc: subprocess.Popen) -> None:
    """SIGTERM to the head's process group (``ray start --block`` stops what it started), then SIGKILL."""
    for sig, wait_s in ((signal.SIGTERM, 30.0), (signal.SIGKILL, 10.0)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(wait_s)
            return
        except subprocess.TimeoutExpired:
            continue


def _exit_on_signal(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)  # unwinds through shared_ray's finally: the head stops


def main(argv: list[str] | None = None) -> int:
    """Run a command (after ``--``) with a shared Ray up and ``VQA_RAY_ADDRESS`` pointing at it."""
    # Before anything starts: a SIGTERM/SIGHUP/SIGINT while Ray starts must still stop the head.
    for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
        signal.signal(sig, _exit_on_signal)
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["--"]:
        args = args[1:]
    if not args:
        print("usage: python -m vqa_pipeline.orchestration.shared_ray -- COMMAND ...", file=sys.stderr)
        return 2
    auth = auth_env()
    os.environ.update(auth)  # the head, the command and its runs share one token
    try:
        with shared_ray(auth=auth) as address:
            child = subprocess.Popen(args, env={**os.environ, ENV_RAY_ADDRESS: address})
            # SIGTERM/SIGHUP go on to the command; the Ray stops once the command has exited. Ctrl-C
            # reached the command too (same process group): let it shut down first.
            for sig in (signal.SIGTERM, signal.SIGHUP):
                signal.signal(sig, lambda signum, _frame: child.send_signal(signum))
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            return child.wait()
    except SharedRayError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
