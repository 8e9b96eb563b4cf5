"""The project's Dagster instance (`dagster.yaml`): a fresh start shows no pop-up and no misleading warning."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import dagster as dg

REPO = Path(__file__).resolve().parents[2]


def test_the_instance_turns_off_telemetry_and_the_first_visit_pop_up(dagster_env):
    instance = dg.DagsterInstance.from_config(dagster_env["DAGSTER_HOME"])
    assert instance.nux_enabled is False and instance.telemetry_enabled is False
    assert instance.run_coordinator.get_run_queue_config().max_concurrent_runs == 1
    # the instance comes from the repository's own dagster.yaml (the layout the project promises)
    assert (REPO / "dagster.yaml").is_file()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _graphql(port: int, query: str) -> dict:
    req = urllib.request.Request(f"http://127.0.0.1:{port}/graphql", data=json.dumps({"query": query}).encode(),
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as resp:
        return json.loads(resp.read())


def test_a_fresh_dagster_dev_has_no_dagster_yaml_warning_and_no_pop_up(dagster_env, tmp_path):
    """`dagster dev` on a fresh DAGSTER_HOME as scripts/dagster.sh starts it: inside DAGSTER_HOME, with the
    repository's workspace (started next to the repository's dagster.yaml it would warn that it is not used)."""
    (tmp_path / "empty").mkdir()
    env = {**dagster_env, "VQA_SOURCE_DIR": str(tmp_path / "empty"), "VQA_RAY_ADDRESS": ""}
    port = _free_port()
    log = tmp_path / "dev.log"
    dagster = str(Path(sys.executable).parent / "dagster")
    with log.open("w") as out:
        proc = subprocess.Popen([dagster, "dev", "-w", str(REPO / "workspace.yaml"), "-p", str(port)],
                                cwd=env["DAGSTER_HOME"], env=env, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 240
        while "Serving dagster-webserver" not in log.read_text() and time.monotonic() < deadline:
            assert proc.poll() is None, log.read_text()[-2000:]
            time.sleep(0.5)
        assert "Serving dagster-webserver" in log.read_text(), log.read_text()[-2000:]
        assert _graphql(port, "{ shouldShowNux }") == {"data": {"shouldShowNux": False}}
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.wait(120)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    text = log.read_text()
    assert "Found a dagster instance configuration" not in text and "will not be used" not in text
    assert "No dagster instance configuration file" not in text
