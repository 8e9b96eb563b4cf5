"""The new-videos sensor keeps each file's size, mtime and content id in its cursor.

A tick with nothing changed reads no file; a changed file is hashed and requested; files the
store already knows are not hashed even on the first tick.
"""

import json
from pathlib import Path

import dagster as dg
import pytest

from vqa_pipeline.media import hashing
from vqa_pipeline.orchestration.constants import PATHS_TAG
from vqa_pipeline.orchestration.jobs import index_video_job
from vqa_pipeline.orchestration.resources import VqaSettings
from vqa_pipeline.orchestration.sensors import build_new_videos_sensor
from vqa_pipeline.orchestration.source_scan import decode_cursor
from vqa_pipeline.store import Store
from vqa_pipeline_tests.media_factory import make_clip


@pytest.fixture
def corpus(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    make_clip(src / "one.mp4", duration_s=2.0)
    make_clip(src / "two.mp4", duration_s=2.0, tone_hz=700)
    return src


@pytest.fixture
def settings(corpus, tmp_path):
    return VqaSettings(source_dir=str(corpus), db_dir=str(tmp_path / "state" / "lance"), profile="lite")


@pytest.fixture
def hashed(monkeypatch):
    """Names of the files whose content the sensor hashed."""
    calls: list[str] = []
    real = hashing.content_hash

    def counting(path):
        calls.append(Path(path).name)
        return real(path)

    monkeypatch.setattr(hashing, "content_hash", counting)
    return calls


class Sensor:
    """Ticks of the sensor against one instance, each from the previous tick's cursor."""

    def __init__(self, settings: VqaSettings) -> None:
        self.settings = settings
        self.instance = dg.DagsterInstance.ephemeral()
        self.sensor = build_new_videos_sensor(index_video_job)
        self.cursor: str | None = None

    def tick(self) -> dg.SensorResult:
        context = dg.build_sensor_context(instance=self.instance, cursor=self.cursor,
                                          resources={"settings": self.settings})
        result = self.sensor(context)
        for request in result.dynamic_partitions_requests or []:  # what the daemon does with them
            if isinstance(request, dg.AddDynamicPartitionsRequest):
                self.instance.add_dynamic_partitions(request.partitions_def_name, list(request.partition_keys))
            else:
                for key in request.partition_keys:
                    self.instance.delete_dynamic_partition(request.partitions_def_name, key)
        self.cursor = result.cursor
        return result


def requested(result) -> dict[str, list[str]]:
    return {r.partition_key: [Path(p).name for p in json.loads(r.tags[PATHS_TAG])] for r in result.run_requests}


def test_a_tick_with_nothing_changed_reads_no_file(settings, hashed):
    sensor = Sensor(settings)
    first = sensor.tick()
    assert sorted(hashed) == ["one.mp4", "two.mp4"]
    assert sorted(requested(first).values()) == [["one.mp4"], ["two.mp4"]]
    hashed.clear()
    again = sensor.tick()
    assert hashed == [] and not again.run_requests and again.skip_reason
    assert not again.dynamic_partitions_requests
    assert again.cursor == first.cursor


def test_a_changed_file_is_hashed_and_requested_and_its_old_content_removed(settings, corpus, hashed):
    sensor = Sensor(settings)
    first = sensor.tick()
    old = {v[0]: k for k, v in requested(first).items()}["two.mp4"]
    hashed.clear()
    make_clip(corpus / "two.mp4", duration_s=3.0, tone_hz=900)  # new bytes under the same name
    (corpus / "three.mp4").write_bytes((corpus / "one.mp4").read_bytes())  # a copy: known content
    result = sensor.tick()
    assert sorted(hashed) == ["three.mp4", "two.mp4"]
    (new,) = requested(result)
    assert requested(result)[new] == ["two.mp4"] and new != old
    deleted = [r for r in result.dynamic_partitions_requests if isinstance(r, dg.DeleteDynamicPartitionsRequest)]
    assert [list(r.partition_keys) for r in deleted] == [[old]]
    assert decode_cursor(result.cursor).files[str(corpus / "two.mp4")].video_id == new
    assert set(sensor.instance.get_dynamic_partitions("videos")) == set(decode_cursor(result.cursor).by_id())


def test_files_the_store_knows_are_not_hashed_on_the_first_tick(settings, corpus, hashed):
    from vqa_pipeline.indexing.pipeline import index_paths

    index_paths([corpus], Store(settings.db_dir), extractors=[])  # windows only, as `vqa index` records files
    hashed.clear()
    result = Sensor(settings).tick()
    assert hashed == [] and len(result.run_requests) == 2


def test_a_cursor_in_an_older_format_only_costs_a_rescan(settings, hashed):
    sensor = Sensor(settings)
    sensor.tick()
    sensor.cursor = "3f2a9c0d1e4b5a6f"  # the digest the sensor used to keep
    hashed.clear()
    result = sensor.tick()
    assert sorted(hashed) == ["one.mp4", "two.mp4"] and not result.run_requests


def test_a_missing_source_folder_removes_nothing(settings, corpus, tmp_path):
    sensor = Sensor(settings)
    first = sensor.tick()
    corpus.rename(tmp_path / "elsewhere")  # unmounted, say
    result = sensor.tick()
    assert result.skip_reason and not result.dynamic_partitions_requests
    assert result.cursor == first.cursor and len(sensor.instance.get_dynamic_partitions("videos")) == 2


def test_an_unreadable_file_is_reported_not_requested(settings, corpus, hashed):
    (corpus / "broken.mp4").symlink_to(corpus / "missing.mp4")
    result = Sensor(settings).tick()
    assert len(result.run_requests) == 2
    assert decode_cursor(result.cursor).errors == {str(corpus / "broken.mp4"): "broken symlink"}
