"""The Dagster project: definitions load, the sensor adds partitions, assets materialize per video."""

import json
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest

from vqa_pipeline.media.hashing import content_hash, video_id_for
from vqa_pipeline.orchestration.assets.indexing import videos, windows
from vqa_pipeline.orchestration.constants import PATHS_TAG
from vqa_pipeline.orchestration.definitions import defs
from vqa_pipeline.orchestration.jobs import index_video_job, stale_partitions
from vqa_pipeline.orchestration.resources import DEPLOYMENTS, VqaSettings
from vqa_pipeline.orchestration.sensors import build_new_videos_sensor
from vqa_pipeline.store import Store
from vqa_pipeline_tests.media_factory import make_clip

REPO = Path(__file__).resolve().parents[2]


def content_id(path: Path) -> str:
    return video_id_for(content_hash(path))


@pytest.mark.parametrize("deployment", sorted(DEPLOYMENTS))
def test_every_job_and_asset_resolves(deployment):
    deployed = dg.Definitions(assets=defs.assets, jobs=defs.jobs, sensors=defs.sensors, schedules=defs.schedules,
                              resources=DEPLOYMENTS[deployment], executor=defs.executor)
    jobs = {job.name for job in deployed.resolve_all_job_defs()}
    assert "index_video" in jobs
    for name in jobs:
        assert deployed.resolve_job_def(name) is not None
    keys = {k.to_user_string() for k in deployed.resolve_asset_graph().get_all_asset_keys()}
    # Every profile's column groups, whatever VQA_PROFILE says.
    assert {"videos", "windows", "asr", "ocr", "audio_events", "visual", "text_embeddings",
            "clip", "clap", "videoprism", "vp_tags"} <= keys


def materializations(result) -> dict:
    return {
        e.asset_key.to_user_string(): e.event_specific_data.materialization.metadata
        for e in result.get_asset_materialization_events()
    }


@pytest.fixture
def corpus(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    make_clip(src / "one.mp4", duration_s=4.0)
    make_clip(src / "two.mp4", duration_s=2.0, tone_hz=700)
    return src


@pytest.fixture
def settings(corpus, tmp_path):
    return VqaSettings(source_dir=str(corpus), db_dir=str(tmp_path / "state" / "lance"), profile="lite")


def test_sensor_adds_and_removes_partitions_by_content(corpus, settings):
    instance = dg.DagsterInstance.ephemeral()
    sensor = build_new_videos_sensor(index_video_job)
    result = sensor(dg.build_sensor_context(instance=instance, resources={"settings": settings}))
    assert len(result.run_requests) == 2
    added = result.dynamic_partitions_requests[0].partition_keys
    assert sorted(r.partition_key for r in result.run_requests) == sorted(added)
    paths = sorted(Path(json.loads(r.tags[PATHS_TAG])[0]).name for r in result.run_requests)
    assert paths == ["one.mp4", "two.mp4"]
    instance.add_dynamic_partitions("videos", list(added))
    # Nothing new: skip. One file removed: its partition is deleted.
    again = sensor(dg.build_sensor_context(instance=instance, resources={"settings": settings}))
    assert not again.run_requests and again.skip_reason
    (corpus / "two.mp4").unlink()
    gone = sensor(dg.build_sensor_context(instance=instance, resources={"settings": settings}))
    assert len(gone.dynamic_partitions_requests[0].partition_keys) == 1


def test_videos_and_windows_materialize_for_a_partition(corpus, settings):
    instance = dg.DagsterInstance.ephemeral()
    vid = content_id(corpus / "one.mp4")
    instance.add_dynamic_partitions("videos", [vid])
    res = dg.materialize([videos, windows], partition_key=vid, instance=instance, resources={"settings": settings})
    assert res.success
    mats = materializations(res)
    assert mats["windows"]["rows"].value == 2 and mats["windows"]["decoded_now"].value is True
    assert mats["videos"]["has_audio"].value is True
    store = Store(settings.db_dir)
    assert store.count_windows(vid) == 2 and store.get_video(vid)["status"] == "indexed"
    # Materializing again decodes nothing and writes no duplicate rows.
    res = dg.materialize([videos, windows], partition_key=vid, instance=instance, resources={"settings": settings})
    assert materializations(res)["windows"]["decoded_now"].value is False
    assert store.count_windows(vid) == 2
    assert stale_partitions(settings, [vid]) == [vid]  # extractors have not run yet


def test_dagster_cli_materializes_windows(corpus, dagster_env):
    env = {**dagster_env, "VQA_SOURCE_DIR": str(corpus)}
    vid = content_id(corpus / "one.mp4")
    code = (
        "import dagster as dg; i = dg.DagsterInstance.get(); "
        f"i.add_dynamic_partitions('videos', ['{vid}'])"
    )
    subprocess.run([sys.executable, "-c", code], env=env, check=True)
    dagster = str(Path(sys.executable).parent / "dagster")
    out = subprocess.run(
        [dagster, "asset", "materialize", "-m", "vqa_pipeline.orchestration.definitions",
         "--select", "videos,windows", "--partition", vid],
        env=env, cwd=REPO, capture_output=True, text=True, timeout=600,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert Store(env["VQA_DB"]).count_windows(vid) >= 1


@pytest.mark.slow
def test_extractor_assets_materialize_with_metadata(corpus, settings):
    from vqa_pipeline.orchestration.assets.extraction import build_extraction_assets
    from vqa_pipeline.orchestration.resources import ExtractionRuntime
    instance = dg.DagsterInstance.ephemeral()
    vid = content_id(corpus / "one.mp4")
    instance.add_dynamic_partitions("videos", [vid])
    resources = {"settings": settings, "runtime": ExtractionRuntime(use_ray=False)}
    assets = [videos, windows, build_extraction_assets()]
    res = dg.materialize(assets, partition_key=vid, instance=instance, resources=resources)
    mats = materializations(res)
    assert {"asr", "ocr", "audio_events", "visual", "text_embeddings"} <= set(mats)
    assert mats["asr"]["model"].value.startswith("faster-whisper-base")
    assert mats["audio_events"]["status"].value == "ok" and mats["audio_events"]["rows"].value == 2
    assert mats["visual"]["ran_now"].value is True and mats["visual"]["seconds"].value >= 0
    # A second run finds every column up to date and runs nothing.
    again = materializations(dg.materialize(assets, partition_key=vid, instance=instance, resources=resources))
    assert all(m["ran_now"].value is False and m["stale_reason"].value == "up to date"
               for k, m in again.items() if k not in ("videos", "windows"))
    assert stale_partitions(settings, [vid]) == []
