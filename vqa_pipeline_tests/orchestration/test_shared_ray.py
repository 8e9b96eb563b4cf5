"""The Ray `scripts/dagster.sh dev` keeps up for its runs: each run (a process of its own) reuses the
extractor actors of the runs before it, so models load once per session, not once per run.

A real Ray head (``shared_ray``) and real run-like processes that join it through
``VQA_RAY_ADDRESS`` with the local deployment's ``ExtractionRuntime``; actors are created but no
model is loaded (that happens on an actor's first job).
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from vqa_pipeline.orchestration.resources import ExtractionRuntime
from vqa_pipeline.orchestration.shared_ray import ENV_RAY_ADDRESS, ENV_RAY_TOKEN, auth_env, shared_ray

REPO = Path(__file__).resolve().parents[2]

# One "run": the runtime's runner starts an actor per extractor, the run ends (closing the runner).
RUN = """
import json, sys
import ray
from vqa_pipeline.orchestration.resources import ExtractionRuntime
runner = ExtractionRuntime(keep_actors=sys.argv[1] == "keep").runner()
ids = {}
for name in ("yamnet", "visual-stats"):
    actor = runner._pick(name)[0]
    ray.get(actor.__ray_ready__.remote())
    ids[name] = actor._actor_id.hex()
runner.close()
print(json.dumps(ids))
"""

ALIVE = """
import json, sys
import ray
ray.init(address=sys.argv[1], log_to_driver=False)
states = {a["ActorID"]: a["State"] for a in ray._private.state.actors().values()}  # from the GCS
print(json.dumps({a: states.get(a) for a in json.loads(sys.argv[2])}))
"""


def _run(env: dict, mode: str) -> dict[str, str]:
    out = subprocess.run([sys.executable, "-c", RUN, mode], cwd=REPO, env=env, capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_runs_on_the_shared_ray_reuse_the_extractor_actors():
    auth = auth_env()
    with shared_ray(auth=auth) as address:
        env = {**os.environ, **auth, ENV_RAY_ADDRESS: address}
        first, second = _run(env, "keep"), _run(env, "keep")
        assert first == second and len(set(first.values())) == 2  # the same actor per extractor, two runs
        own = _run(env, "own")  # keep_actors off: the run's own actors, stopped when it ends
        assert not set(own.values()) & set(first.values())
        states = subprocess.run([sys.executable, "-c", ALIVE, address, json.dumps([*first.values(), *own.values()])],
                                cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
        assert states.returncode == 0, states.stderr[-2000:]
        alive = json.loads(states.stdout.strip().splitlines()[-1])
        assert all(alive[a] == "ALIVE" for a in first.values()), alive
        assert all(alive[a] == "DEAD" for a in own.values()), alive


def test_without_an_address_a_run_keeps_nothing(monkeypatch):
    monkeypatch.delenv(ENV_RAY_ADDRESS, raising=False)
    assert ExtractionRuntime().runner().options.shared_actors is False
    monkeypatch.setenv(ENV_RAY_ADDRESS, "127.0.0.1:1")
    assert ExtractionRuntime().runner().options.shared_actors is True
    assert ExtractionRuntime(keep_actors=False).runner().options.shared_actors is False



STALE = """
import sys
import ray
from vqa_pipeline.indexing.ray_runner import ensure_ray
ensure_ray(None)
print(ray.get_runtime_context().gcs_address)
ray.shutdown()
"""


def test_a_stale_ray_address_file_on_the_machine_does_not_stop_a_local_ray():
    """`ray start` leaves its address in <ray temp>/ray_current_cluster; a bare ray.init() then joins (or waits
    for) that Ray even after it stopped. A run without an address must start its own."""
    tmp = Path(tempfile.mkdtemp(prefix="vqa-stale-", dir="/tmp"))  # Ray's socket paths must stay short
    try:
        (tmp / "ray").mkdir()
        (tmp / "ray" / "ray_current_cluster").write_text("127.0.0.1:9")  # nothing listens there
        env = {k: v for k, v in os.environ.items() if k not in (ENV_RAY_ADDRESS, "RAY_ADDRESS")}
        out = subprocess.run([sys.executable, "-c", STALE], cwd=REPO, env={**env, "RAY_TMPDIR": str(tmp)},
                             capture_output=True, text=True, timeout=300)
        assert out.returncode == 0, out.stderr[-2000:]
        address = out.stdout.strip().splitlines()[-1]
        assert address and not address.endswith(":9")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def test_auth_env_leaves_the_environment_alone(monkeypatch):
    monkeypatch.delenv(ENV_RAY_TOKEN, raising=False)
    first = auth_env()
    assert first[ENV_RAY_TOKEN] and ENV_RAY_TOKEN not in os.environ
    monkeypatch.setenv(ENV_RAY_TOKEN, "abc")
    assert auth_env()[ENV_RAY_TOKEN] == "abc"


def _head_of(wrapper: subprocess.Popen, timeout_s: float = 120.0) -> int:
    """The pid of the wrapper's `ray start --head` child (its own session and process group)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and wrapper.poll() is None:
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
                cmdline = (stat.parent / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if int(fields[1]) == wrapper.pid and b"--head" in cmdline:
                return int(stat.parent.name)
        time.sleep(0.05)
    raise AssertionError("the wrapper started no Ray head")


def _group_gone(pgid: int, timeout_s: float = 90.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.2)
    os.killpg(pgid, signal.SIGKILL)  # do not leave it running after a failure
    return False


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc; the parent-death signal is Linux's")
@pytest.mark.parametrize("how", ["sighup-while-starting", "sigkill-once-started"])
def test_the_ray_head_never_outlives_its_wrapper(how, tmp_path):
    """The head runs in a session of its own: a hang-up while Ray starts, or the wrapper killed outright,
    must still stop it (else it and its detached actors, models loaded, stay running)."""
    started = tmp_path / "started"
    cmd = [sys.executable, "-m", "vqa_pipeline.orchestration.shared_ray", "--", sys.executable, "-c",
           f"import pathlib, time; pathlib.Path({str(started)!r}).touch(); time.sleep(600)"]
    # A session of its own, so the command it runs can be stopped with it at the end.
    wrapper = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               start_new_session=True)
    try:
        head = _head_of(wrapper)
        if how == "sighup-while-starting":
            wrapper.send_signal(signal.SIGHUP)
            assert wrapper.wait(120) != 0 and not started.exists()
        else:
            deadline = time.monotonic() + 180
            while not started.exists() and time.monotonic() < deadline:
                time.sleep(0.2)
            assert started.exists(), "the command never started"
            wrapper.kill()
            wrapper.wait(30)
        assert _group_gone(head), f"the Ray head ({head}) outlived its wrapper"
    finally:
        try:
            os.killpg(wrapper.pid, signal.SIGKILL)  # the wrapper and the command it ran, if still there
        except ProcessLookupError:
            pass
        wrapper.wait()
