"""A Dagster run and a `vqa index` on one database: the run's writes wait for the writer lock."""

import json
import logging
import threading
from pathlib import Path

import dagster as dg

from vqa_pipeline.orchestration.assets.indexing import videos, windows
from vqa_pipeline.orchestration.constants import PATHS_TAG
from vqa_pipeline.orchestration.jobs import index_video_job
from vqa_pipeline.orchestration.resources import VqaSettings
from vqa_pipeline.orchestration.sensors import build_new_videos_sensor
from vqa_pipeline.store import Store
from vqa_pipeline_tests.media_factory import make_clip
from vqa_pipeline_tests.store.lock_holder import release, start_holder


class _Busy(logging.Handler):
    """Set when a store write reports that it waits for the lock."""

    def __init__(self) -> None:
        super().__init__()
        self.seen = threading.Event()
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if "is busy" in record.getMessage():
            self.messages.append(record.getMessage())
            self.seen.set()


def test_a_dagster_run_waits_for_the_writer_and_then_writes(tmp_path):
    src = tmp_path / "watched"
    src.mkdir()
    make_clip(src / "clip.mp4", duration_s=4.0)
    db = tmp_path / "lance"
    settings = VqaSettings(source_dir=str(src), db_dir=str(db), profile="lite")
    instance = dg.DagsterInstance.ephemeral()
    tick = build_new_videos_sensor(index_video_job)(
        dg.build_sensor_context(instance=instance, resources={"settings": settings}))
    for request in tick.dynamic_partitions_requests:
        instance.add_dynamic_partitions(request.partitions_def_name, list(request.partition_keys))
    (request,) = tick.run_requests
    assert [Path(p).name for p in json.loads(request.tags[PATHS_TAG])] == ["clip.mp4"]

    holder, line = start_holder(db)  # a `vqa index` run holds the database
    assert line == "held"
    busy = _Busy()
    logging.getLogger("vqa_pipeline.store.tables").addHandler(busy)
    results = []
    run = threading.Thread(target=lambda: results.append(dg.materialize(
        [videos, windows], partition_key=request.partition_key, instance=instance, tags=request.tags,
        resources={"settings": settings}, raise_on_error=False)))
    try:
        run.start()
        while not busy.seen.is_set():  # the run's first write waits ...
            assert run.is_alive(), "the Dagster run did not wait for the writer lock"
            busy.seen.wait(0.1)
        assert not (db / "videos.lance").exists()  # ... and nothing was written meanwhile
        assert f"pid {holder.pid}" in busy.messages[0]
    finally:
        release(holder)
        run.join(timeout=600)
        logging.getLogger("vqa_pipeline.store.tables").removeHandler(busy)
    (result,) = results
    assert result.success
    store = Store(db)
    assert store.get_video(request.partition_key)["status"] == "indexed"
    assert store.count_windows(request.partition_key) == 2
