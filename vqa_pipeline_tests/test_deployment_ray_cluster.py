"""The deployment battery on a real two-node Ray cluster (a head and a worker started with `ray start`
on this machine), and a worker node killed in the middle of a run: nothing lost, nothing doubled."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time

import pytest

from vqa_pipeline_tests import deployment_battery
from vqa_pipeline_tests.media_factory import make_clip
from vqa_pipeline_tests.ray_cluster import LocalRayCluster

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("espeak_ng")]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    from vqa_pipeline.extractors.registry import get_extractor_class
    from vqa_pipeline_tests.needs import missing

    ok, why = get_extractor_class("whisper-base")().availability()
    if not ok:
        missing(f"whisper-base weights: {why}")
    c = LocalRayCluster(tmp_path_factory.mktemp("ray"))
    try:
        c.start_head()
        c.add_worker("vqa_worker")
        yield c
    finally:
        c.stop()


def test_battery_on_a_two_node_ray_cluster(cluster, tmp_path):
    first = deployment_battery.run_battery(tmp_path, tmp_path / "db", cluster.env, "--ray-address", cluster.address)
    ids = cluster.node_ids()
    used = {node for nodes in first["ray_nodes"].values() for node in nodes}
    # the extractors' actors were spread over both nodes
    assert used == {ids["vqa_head"], ids["vqa_worker"]}, (first["ray_nodes"], ids)


# A Dagster run (its own process, as the daemon starts one) with the cluster deployment's runtime.
DAGSTER_RUN = """
import json, sys
import dagster as dg
from vqa_pipeline.media.hashing import content_hash, video_id_for
from vqa_pipeline.orchestration.assets.extraction import build_extraction_assets
from vqa_pipeline.orchestration.assets.indexing import videos, windows
from vqa_pipeline.orchestration.resources import ClusterRuntime, VqaSettings

source, db, address = sys.argv[1:4]
vid = video_id_for(content_hash(source + "/fire_drill.mp4"))
instance = dg.DagsterInstance.ephemeral()
instance.add_dynamic_partitions("videos", [vid])
# two 1-CPU nodes: a tenth of a CPU per actor lets every lite extractor hold a place
resources = {"settings": VqaSettings(source_dir=source, db_dir=db, profile="lite"),
             "runtime": ClusterRuntime(ray_address=address, num_cpus_per_actor=0.1)}
res = dg.materialize([videos, windows, build_extraction_assets()], partition_key=vid, instance=instance,
                     resources=resources)
mats = {e.asset_key.to_user_string(): {k: v.value for k, v in e.event_specific_data.materialization.metadata.items()
                                       if k in ("status", "model")}
        for e in res.get_asset_materialization_events()}
print(json.dumps({"vid": vid, "success": res.success, "mats": mats}))
"""


def test_a_dagster_run_extracts_on_the_cluster(cluster, tmp_path):
    from vqa_pipeline.store import Store

    media = tmp_path / "media"
    media.mkdir()
    deployment_battery.make_fire_drill(media / "fire_drill.mp4")
    db = tmp_path / "db"
    out = subprocess.run([sys.executable, "-c", DAGSTER_RUN, str(media), str(db), cluster.address],
                         capture_output=True, text=True, timeout=900,
                         env={**os.environ, **cluster.env, "HF_HUB_OFFLINE": "1"})
    assert out.returncode == 0, out.stderr[-3000:]
    run = json.loads(out.stdout.strip().splitlines()[-1])
    assert run["success"], run
    assert run["mats"]["asr"]["status"] == "ok" and run["mats"]["visual"]["status"] == "ok", run["mats"]
    rows = Store(db, create=False).windows_for(run["vid"], ["asr_lines", "asr_model"])
    said = " ".join(line["text"] for r in rows for line in (r["asr_lines"] or [])).lower()
    assert len(rows) == 8 and "car park" in said, said


def test_a_worker_node_killed_mid_index_loses_and_doubles_nothing(cluster, tmp_path):
    from vqa_pipeline.media.types import WindowingOptions
    from vqa_pipeline.media.windows import make_windows
    from vqa_pipeline.store import Store

    victim = cluster.add_worker("vqa_victim")
    media = tmp_path / "media"
    media.mkdir()
    deployment_battery.make_fire_drill(media / "fire_drill.mp4")
    for i in range(4):
        make_clip(media / f"tone{i}.mp4", duration_s=12.0, tone_hz=300 + 100 * i)
    db = tmp_path / "db"
    cmd = [deployment_battery.VQA, "index", str(media), "--db", str(db), "--json",
           "--extractors", deployment_battery.EXTRACTORS, "--ray-address", cluster.address]
    env = {**cluster.env, "HF_HUB_OFFLINE": "1"}
    run = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, **env})
    try:
        # Kill the victim while one of the run's extractor actors there is running a job.
        deadline = time.monotonic() + 600
        while not victim.running_tasks() and run.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        if run.poll() is not None or not victim.running_tasks():
            run.kill()
            _, err = run.communicate(timeout=60)
            pytest.fail(f"no job ran on the victim node before the run ended: {err[-2000:]}")
        cluster.kill(victim)
        on_victim = re.findall(r":actor_name:extractor (\S+)", victim.actor_logs())
        out, err = run.communicate(timeout=900)
    finally:
        if run.poll() is None:
            run.kill()
    assert run.returncode == 0, err[-3000:]
    summary = json.loads(out)
    assert summary["counts"] == {"indexed": 5, "unchanged": 0, "duplicate": 0, "failed": 0, "removed": 0}, summary
    for f in summary["files"]:
        assert all(v.startswith("ok") for v in f["extractors"].values()), (f["path"], f["extractors"])
    # The victim's extractor finished its jobs on a node that lived: its actor was restarted there.
    survivors = {cluster.nodes[0].node_id, cluster.nodes[1].node_id}
    for name in on_victim:
        assert set(summary["ray_nodes"][name]) & survivors, (name, summary["ray_nodes"])

    store = Store(db, create=False)
    for f in summary["files"]:
        expected = make_windows(f["video_id"], f["duration_s"], WindowingOptions())
        rows = store.windows_for(f["video_id"], ["window_id", "asr_model", "visual_model", "thumb_model"])
        assert [r["window_id"] for r in rows] == [w.window_id for w in expected], f["path"]
        assert all(r["asr_model"] and r["visual_model"] and r["thumb_model"] for r in rows), f["path"]
