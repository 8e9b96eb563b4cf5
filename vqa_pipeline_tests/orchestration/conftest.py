"""Fixtures for the Dagster tests: a throwaway instance and the local deployment's environment."""

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def dagster_env(tmp_path):
    """Environment for a `dagster` subprocess, as `scripts/dagster.sh` sets it up.

    ``DAGSTER_HOME`` is a temporary folder holding the project's ``dagster.yaml`` (its storage
    under that folder); the ``VQA_*`` variables of the local deployment point into ``tmp_path``,
    with the sample corpus and its dev set as the sources. Tests override what they need.
    """
    home = tmp_path / "dagster_home"
    home.mkdir()
    config = (REPO / "dagster.yaml").read_text().replace("base_dir: .vqa/dagster", f"base_dir: {home}")
    (home / "dagster.yaml").write_text(config)
    return {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "VQA_DEPLOYMENT": "local",
        "VQA_HOME": str(tmp_path / "state"),
        "VQA_DB": str(tmp_path / "state" / "lance"),
        "VQA_SOURCE_DIR": str(REPO / "data" / "sample"),
        "VQA_PROFILE": "lite",
        "VQA_DEVSET": str(REPO / "data" / "sample" / "devset.jsonl"),
        "HF_HUB_OFFLINE": "1",
    }


def sensor_tick(instance, settings, cursor: str | None = None):
    """One tick of the new-videos sensor against ``instance``, its partitions added as the daemon adds them."""
    import dagster as dg

    from vqa_pipeline.orchestration.jobs import index_video_job
    from vqa_pipeline.orchestration.sensors import build_new_videos_sensor

    tick = build_new_videos_sensor(index_video_job)(
        dg.build_sensor_context(instance=instance, cursor=cursor, resources={"settings": settings})
    )
    for request in tick.dynamic_partitions_requests:
        instance.add_dynamic_partitions(request.partitions_def_name, list(request.partition_keys))
    return tick


def index_job(settings, runtime=None):
    """The `index_video` job with ``settings``, extractors in the run's process unless ``runtime`` says otherwise."""
    import dagster as dg

    from vqa_pipeline.orchestration.assets.extraction import build_extraction_assets
    from vqa_pipeline.orchestration.assets.indexing import videos, windows
    from vqa_pipeline.orchestration.jobs import index_video_job
    from vqa_pipeline.orchestration.resources import ExtractionRuntime

    return dg.Definitions(
        assets=[videos, windows, build_extraction_assets()],
        jobs=[index_video_job],
        resources={"settings": settings, "runtime": runtime or ExtractionRuntime(use_ray=False)},
    ).resolve_job_def(index_video_job.name)
