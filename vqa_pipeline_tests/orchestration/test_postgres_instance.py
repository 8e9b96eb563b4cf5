"""Dagster on Postgres (deploy/dagster-postgres.yaml) against a real PostgreSQL started by the test.

The instance keeps runs, events and sensor/schedule state in the server; the new-videos sensor adds the
partitions there and the `index_video` runs index them; the deployment battery's search and ask checks
pass on the database those runs wrote. A server that does not answer is one line before Dagster starts.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest

from vqa_pipeline.orchestration.resources import VqaSettings
from vqa_pipeline_tests import deployment_battery
from vqa_pipeline_tests.needs import require_module
from vqa_pipeline_tests.orchestration.conftest import index_job, sensor_tick
from vqa_pipeline_tests.postgres_server import free_port, postgres_server

REPO = Path(__file__).resolve().parents[2]
POSTGRES_YAML = REPO / "deploy" / "dagster-postgres.yaml"


@pytest.fixture(scope="module")
def pg():
    require_module("psycopg2", "psycopg2 (the postgres extra: pip install -e '.[postgres]')")
    require_module("dagster_postgres", "dagster-postgres (scripts/setup.sh installs it)")
    with postgres_server() as server:
        yield server


def _home(root: Path) -> Path:
    """A DAGSTER_HOME holding the Postgres variant, as scripts/dagster.sh lays it out."""
    home = root / "dagster_home"
    home.mkdir(parents=True, exist_ok=True)
    (home / "dagster.yaml").write_text(
        POSTGRES_YAML.read_text().replace("base_dir: .vqa/dagster", f"base_dir: {home}"))
    return home


@pytest.fixture
def pg_instance(pg, tmp_path, monkeypatch):
    """The instance of deploy/dagster-postgres.yaml on the test's server (settings from the environment)."""
    for key, value in {**pg.dagster_env(), "VQA_MAX_CONCURRENT_RUNS": "3"}.items():
        monkeypatch.setenv(key, value)
    with dg.DagsterInstance.from_config(str(_home(tmp_path))) as instance:
        yield instance


def test_runs_events_and_schedules_live_in_postgres_with_run_limits(pg_instance):
    from dagster_postgres import PostgresEventLogStorage, PostgresRunStorage, PostgresScheduleStorage

    assert isinstance(pg_instance.run_storage, PostgresRunStorage)
    assert isinstance(pg_instance.event_log_storage, PostgresEventLogStorage)
    assert isinstance(pg_instance.schedule_storage, PostgresScheduleStorage)
    queue = pg_instance.run_coordinator.get_run_queue_config()
    assert queue.max_concurrent_runs == 3  # VQA_MAX_CONCURRENT_RUNS
    [limit] = queue.tag_concurrency_limits
    assert limit["key"] == "dagster/partition" and limit["limit"] == 1
    assert limit["value"] == {"applyLimitPerUniqueValue": True}


@pytest.mark.slow
@pytest.mark.usefixtures("espeak_ng")
def test_the_sensor_and_the_runs_on_postgres_index_what_search_and_ask_find(pg, pg_instance, tmp_path):
    from vqa_pipeline.extractors.registry import get_extractor_class
    from vqa_pipeline_tests.needs import missing

    ok, why = get_extractor_class("whisper-base")().availability()
    if not ok:
        missing(f"whisper-base weights: {why}")
    media = deployment_battery.make_media(tmp_path)
    db = tmp_path / "state" / "lance"
    settings = VqaSettings(source_dir=str(media), db_dir=str(db), profile="lite")
    tick = sensor_tick(pg_instance, settings)
    assert len(tick.run_requests) == 2
    job = index_job(settings)
    for request in tick.run_requests:
        result = job.execute_in_process(partition_key=request.partition_key, instance=pg_instance, tags=request.tags)
        assert result.success
    # A second process on the same instance (the webserver, the daemon) sees the partitions and the runs.
    with dg.DagsterInstance.from_config(str(tmp_path / "dagster_home")) as other:
        assert set(other.get_dynamic_partitions("videos")) == {r.partition_key for r in tick.run_requests}
        runs = other.get_runs()
        assert len(runs) == 2 and all(r.status == dg.DagsterRunStatus.SUCCESS for r in runs)
        assert {r.tags["vqa/file"] for r in runs} == {"fire_drill.mp4", "tone.mp4"}
        keys = {r.partition_key for r in tick.run_requests}
        assert other.get_materialized_partitions(dg.AssetKey("windows")) == keys
        assert other.get_materialized_partitions(dg.AssetKey("asr")) == keys
    # nothing changed: the next tick requests nothing
    assert not sensor_tick(pg_instance, settings, cursor=tick.cursor).run_requests
    deployment_battery.check_search(db)
    deployment_battery.check_ask(db)


def _check(home: Path, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "vqa_pipeline.orchestration.instance_check"],
                          env={**os.environ, "PYTHONPATH": str(REPO), "DAGSTER_HOME": str(home), **env},
                          capture_output=True, text=True, timeout=120)


def test_a_postgres_that_is_not_there_is_one_line(pg, tmp_path):
    home = _home(tmp_path)
    port = free_port()  # nothing listens there
    out = _check(home, {**pg.dagster_env(), "DAGSTER_PG_PORT": str(port)})
    assert out.returncode == 1
    [line] = out.stderr.splitlines()
    assert line.startswith(f"error: the Dagster instance's Postgres at 127.0.0.1:{port} (database dagster) is "
                           "not reachable: connection refused"), line
    assert str(home / "dagster.yaml") in line and "Traceback" not in out.stderr
    # the live server with a wrong password, an unknown database, a missing setting: one line each
    out = _check(home, {**pg.dagster_env(), "DAGSTER_PG_PASSWORD": "wrong"})
    assert out.returncode == 1 and len(out.stderr.splitlines()) == 1
    assert 'password authentication failed for user "vqa"' in out.stderr
    out = _check(home, {**pg.dagster_env(), "DAGSTER_PG_DB": "nodb"})
    assert 'database "nodb" does not exist' in out.stderr and len(out.stderr.splitlines()) == 1
    env = {k: v for k, v in os.environ.items() if k != "DAGSTER_PG_HOST"}
    out = subprocess.run([sys.executable, "-m", "vqa_pipeline.orchestration.instance_check"],
                         env={**env, "PYTHONPATH": str(REPO), "DAGSTER_HOME": str(home)},
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 1 and out.stderr.strip() == f"error: DAGSTER_PG_HOST is not set ({home / 'dagster.yaml'} reads it)"
    # the live server passes
    assert _check(home, pg.dagster_env()).returncode == 0


def test_dagster_sh_selects_the_postgres_instance_and_stops_on_a_dead_server(pg, tmp_path):
    """`VQA_DAGSTER_STORAGE=postgres bash scripts/dagster.sh ...` writes the Postgres variant into a fresh
    DAGSTER_HOME and says in one line that its server does not answer, before any Dagster process starts."""
    if not (REPO / ".venv" / "bin" / "python").exists():
        pytest.skip("scripts/dagster.sh runs the repository's .venv (scripts/setup.sh creates it)")
    home = tmp_path / "home"
    port = free_port()
    env = {**os.environ, **pg.dagster_env(), "DAGSTER_PG_PORT": str(port), "PYTHONPATH": str(REPO),
           "DAGSTER_HOME": str(home), "VQA_DAGSTER_STORAGE": "postgres"}
    env.pop("VQA_MAX_CONCURRENT_RUNS", None)
    out = subprocess.run(["bash", str(REPO / "scripts" / "dagster.sh"), "instance", "info"], env=env,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 1, out.stderr[-2000:]
    assert out.stderr.strip().splitlines() == [line for line in out.stderr.strip().splitlines() if line.startswith(
        "error: the Dagster instance's Postgres at 127.0.0.1:")] and len(out.stderr.strip().splitlines()) == 1
    assert "storage:\n  postgres:" in (home / "dagster.yaml").read_text()
    # with the server up, the same command reaches Dagster, which reports the Postgres storage
    out = subprocess.run(["bash", str(REPO / "scripts" / "dagster.sh"), "instance", "info"],
                         env={**env, "DAGSTER_PG_PORT": str(pg.port)}, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    for storage in ("PostgresRunStorage", "PostgresEventLogStorage", "PostgresScheduleStorage"):
        assert storage in out.stdout, out.stdout[-2000:]
