"""A bad file in the watched folder is a recorded outcome, not a crashed Dagster run.

The sensor's run requests run the real `index_video` job per partition (in process): a text file
named `.mp4`, a truncated sample clip (no index at the end) and a clip cut right after its header
(probes, but nothing decodes) each give a successful run, a ``failed`` row with the reason, and
metadata naming the file; a good clip beside them is indexed.
"""

import json
from pathlib import Path

import dagster as dg
import pytest

from vqa_pipeline.orchestration.constants import FILE_TAG, PATHS_TAG
from vqa_pipeline.orchestration.resources import VqaSettings
from vqa_pipeline.store import Store
from vqa_pipeline_tests.media_factory import ffmpeg, make_clip
from vqa_pipeline_tests.orchestration.conftest import index_job, sensor_tick

SAMPLE_CLIP = Path(__file__).resolve().parents[2] / "data" / "sample" / "product_demo.mp4"


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    src = tmp_path_factory.mktemp("watched")
    (src / "notes.mp4").write_text("meeting notes, not a video\n")
    data = SAMPLE_CLIP.read_bytes()
    (src / "truncated.mp4").write_bytes(data[: len(data) // 3])  # its index (moov) was at the end
    faststart = tmp_path_factory.mktemp("remux") / "faststart.mp4"
    ffmpeg("-i", str(SAMPLE_CLIP), "-c", "copy", "-movflags", "+faststart", str(faststart))
    head = faststart.read_bytes()
    (src / "header_only.mp4").write_bytes(head[: head.find(b"mdat") + 200])  # probes, decodes nothing
    make_clip(src / "good.mp4", duration_s=2.0)
    return src


@pytest.fixture(scope="module")
def runs(folder, tmp_path_factory):
    """Sensor tick, then the job for every requested partition: file name -> run result."""
    settings = VqaSettings(source_dir=str(folder), db_dir=str(tmp_path_factory.mktemp("state") / "lance"),
                           profile="lite")
    instance = dg.DagsterInstance.ephemeral()
    tick = sensor_tick(instance, settings)
    job = index_job(settings)
    out = {}
    for request in tick.run_requests:
        (name,) = [Path(p).name for p in json.loads(request.tags[PATHS_TAG])]
        result = job.execute_in_process(
            partition_key=request.partition_key, instance=instance, tags=request.tags, raise_on_error=False
        )
        out[name] = (request.partition_key, result)
    return settings, out


def _materialized(result) -> dict:
    return {
        e.asset_key.to_user_string(): e.event_specific_data.materialization.metadata
        for e in result.get_asset_materialization_events()
    }


def _observed(result) -> dict:
    return {
        e.asset_key.to_user_string(): e.event_specific_data.asset_observation.metadata
        for e in result.get_asset_observation_events()
    }


@pytest.mark.parametrize(
    ("name", "reason", "failed_in"),
    [
        ("notes.mp4", "not a readable media file", "videos"),
        ("truncated.mp4", "not a readable media file", "videos"),
        ("header_only.mp4", "no decodable frames", "windows"),
    ],
)
def test_a_bad_file_is_recorded_as_failed_and_the_run_succeeds(runs, folder, name, reason, failed_in):
    settings, out = runs
    vid, result = out[name]
    assert result.success
    path = str(folder / name)
    store = Store(settings.db_dir)
    row = store.get_video(vid)
    # The row as `vqa index` writes it: failed, the one-line reason, the file among its sources.
    assert row["status"] == "failed" and reason in row["error"] and "\n" not in row["error"]
    assert row["sources"] == [path]
    assert store.file_records()[path]["status"] == "failed" and reason in store.file_records()[path]["error"]
    # Dagster: `videos` records the outcome; nothing downstream is materialized; the reason names the file.
    mats = _materialized(result)
    assert set(mats) == {"videos"}
    assert store.count_windows(vid) == 0
    observed = _observed(result)["windows"]["error"].value
    assert observed.startswith(path + ": ") and reason in observed
    # The run and the records the UI lists name the file, not only its content hash.
    assert result.dagster_run.tags[FILE_TAG] == name
    assert mats["videos"]["file"].value == name and _observed(result)["windows"]["file"].value == name
    if failed_in == "videos":
        assert mats["videos"]["status"].value == "failed"
        assert mats["videos"]["error"].value == f"{path}: {row['error']}"
    else:  # probing worked; decoding failed in `windows`
        assert mats["videos"]["status"].value == "probed"


def test_a_good_file_beside_bad_ones_is_indexed(runs, folder):
    settings, out = runs
    vid, result = out["good.mp4"]
    assert result.success
    mats = _materialized(result)
    assert mats["windows"]["rows"].value == 1 and mats["windows"]["decoded_now"].value is True
    assert mats["videos"]["status"].value == "probed" and mats["videos"]["error"].value == ""
    # The lite profile's groups, each written; the full profile's groups are skipped, not materialized.
    assert {"asr", "ocr", "audio_events", "visual", "text_embeddings", "evidence_units"} <= set(mats)
    assert not {"clip", "clap", "videoprism", "vp_tags"} & set(mats)
    assert all(mats[k]["status"].value in ("ok", "empty") for k in ("asr", "ocr", "visual", "text_embeddings"))
    assert Store(settings.db_dir).get_video(vid)["status"] == "indexed"
