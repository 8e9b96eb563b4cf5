"""What the Dagster UI shows for a video: its file name beside the hash, rounded figures, an evidence preview.

Real runs: the sensor ticks over a folder holding one sample clip and the `index_video` job runs
the partition it requests (in process, extractors in the run's process), as in test_bad_files;
a materialization started without the sensor's tags (UI, `dagster asset materialize`) still gets
the file name tag.
"""

import json
import shutil
from pathlib import Path

import dagster as dg
import pytest

from vqa_pipeline.orchestration.assets.indexing import videos, windows
from vqa_pipeline.orchestration.constants import FILE_TAG, PATHS_TAG
from vqa_pipeline.orchestration.metadata import evidence_preview, rounded
from vqa_pipeline.orchestration.resources import VqaSettings
from vqa_pipeline_tests.media_factory import make_clip
from vqa_pipeline_tests.orchestration.conftest import index_job, sensor_tick

SAMPLE = Path(__file__).resolve().parents[2] / "data" / "sample"


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """The sensor's request for `parking_camera.mp4` and the job's result: (settings, request, result)."""
    src = tmp_path_factory.mktemp("watched")
    shutil.copy(SAMPLE / "parking_camera.mp4", src / "parking_camera.mp4")
    settings = VqaSettings(source_dir=str(src), db_dir=str(tmp_path_factory.mktemp("state") / "lance"),
                           profile="lite")
    instance = dg.DagsterInstance.ephemeral()
    tick = sensor_tick(instance, settings)
    (request,) = tick.run_requests
    job = index_job(settings)
    result = job.execute_in_process(partition_key=request.partition_key, instance=instance, tags=request.tags)
    return settings, request, result


def materializations(result) -> dict:
    return {
        e.asset_key.to_user_string(): e.event_specific_data.materialization.metadata
        for e in result.get_asset_materialization_events()
    }


def test_the_run_and_every_asset_name_the_file_beside_the_hash(run):
    settings, request, result = run
    assert result.success
    path = str(Path(settings.source_dir) / "parking_camera.mp4")
    # The sensor's run request (and so the run) carries the file name next to the partition's hash.
    assert request.tags[FILE_TAG] == "parking_camera.mp4" and json.loads(request.tags[PATHS_TAG]) == [path]
    assert result.dagster_run.tags[FILE_TAG] == "parking_camera.mp4"
    mats = materializations(result)
    assert {"videos", "windows", "ocr", "evidence_units"} <= set(mats)
    for key, md in mats.items():
        assert md["file"].value == "parking_camera.mp4", key
        assert md["path"].value == path, key
        assert md["duration_s"].value == pytest.approx(20.0, abs=0.1), key


def test_figures_are_rounded(run):
    _, _, result = run
    mats = materializations(result)
    for key, md in mats.items():
        for name, value in md.items():
            if isinstance(value, dg.FloatMetadataValue):
                assert value.value == rounded(value.value), (key, name, value.value)
    seconds = [md["seconds"].value for k, md in mats.items() if "seconds" in md]
    assert seconds and all(s == rounded(s, 3) for s in seconds)


def test_the_last_extractor_asset_previews_the_evidence(run):
    _, _, result = run
    mats = materializations(result)
    # On `evidence_units` (the lines are read after every group has run), not on every asset.
    preview = mats["evidence_units"]["evidence_preview"]
    assert isinstance(preview, dg.MarkdownMetadataValue)
    assert preview.value.startswith("| time | kind | line |")
    assert "| ocr | CAM 3 LEVEL 2 |" in preview.value  # the clip's first on-screen text, from 0.5 s
    assert not [k for k, md in mats.items() if "evidence_preview" in md and k != "evidence_units"]


def test_a_run_started_without_the_sensor_gets_the_file_tag(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    make_clip(src / "fire drill.mp4", duration_s=2.0)
    settings = VqaSettings(source_dir=str(src), db_dir=str(tmp_path / "state" / "lance"), profile="lite")
    instance = dg.DagsterInstance.ephemeral()
    (vid,) = sensor_tick(instance, settings).dynamic_partitions_requests[0].partition_keys
    res = dg.materialize([videos, windows], partition_key=vid, instance=instance, resources={"settings": settings})
    assert res.success
    assert instance.get_run_by_id(res.run_id).tags[FILE_TAG] == "fire drill.mp4"
    assert materializations(res)["windows"]["file"].value == "fire drill.mp4"


def test_rounding_and_the_preview_limit():
    assert rounded(0.8123456) == 0.8123 and rounded(1234.567) == 1235.0 and rounded(0.000123456) == 0.0001235
    assert rounded(0.0) == 0.0 and rounded(12.3456, 3) == 12.3
    lines = [{"start": i, "end": i + 1, "kind": "asr", "text": f"line {i} | with a bar"} for i in range(20)]
    md = evidence_preview(lines, limit=3).value
    assert "line 2 \\| with a bar" in md and "line 3 " not in md and "and 17 more" in md
    assert evidence_preview([]).value == "_no evidence lines yet_"
