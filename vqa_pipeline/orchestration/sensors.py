"""The sensor that turns files in the source folder into video partitions."""

import json
from dataclasses import dataclass

import dagster as dg

from vqa_pipeline.orchestration.constants import FILE_TAG, PARTITION_NAME, PATHS_TAG
from vqa_pipeline.orchestration.metadata import file_names
from vqa_pipeline.orchestration.partitions import video_partitions
from vqa_pipeline.orchestration.resources import VqaSettings
from vqa_pipeline.orchestration.source_scan import FolderScan, decode_cursor, encode_cursor, known_files, scan_folder


@dataclass(slots=True)
class PartitionChanges:
    """What a scan means for the video partitions: ids to add (each with a run), ids whose files are gone."""

    requests: list[dg.RunRequest]
    new: list[str]
    gone: list[str]


def partition_changes(scan: FolderScan, existing: set[str], windowing_tag: str) -> PartitionChanges:
    """Partitions to add (and run, with their paths and file names in tags) and to delete, after ``scan``."""
    by_id = scan.by_id()
    new = sorted(set(by_id) - existing)
    requests = [
        dg.RunRequest(run_key=f"{vid}-{windowing_tag}", partition_key=vid,
                      tags={PATHS_TAG: json.dumps(by_id[vid]), FILE_TAG: file_names(by_id[vid])})
        for vid in new
    ]
    return PartitionChanges(requests, new, sorted(existing - set(by_id)))


def build_new_videos_sensor(job) -> dg.SensorDefinition:
    @dg.sensor(job=job, minimum_interval_seconds=30, default_status=dg.DefaultSensorStatus.RUNNING)
    def new_videos_sensor(context: dg.SensorEvaluationContext, settings: VqaSettings) -> dg.SensorResult:
        """Adds a partition (and a run) per new content id in the source folder, removes vanished ones.

        The cursor keeps each file's size, mtime and content id: unchanged files are not read again.
        """
        root = settings.source_path()
        if not root.is_dir():
            # An unmounted or mistyped folder must not delete every partition.
            return dg.SensorResult(skip_reason=f"{root} is not a folder; nothing changed", cursor=context.cursor)
        before = decode_cursor(context.cursor)
        scan = scan_folder(root, before.files, known=lambda: known_files(settings.store()))
        for path, err in sorted(scan.errors.items()):
            if before.errors.get(path) != err:
                context.log.warning(f"{path}: {err}")
        if scan.hashed:
            context.log.info(f"hashed {len(scan.hashed)} new or changed file(s)")
        existing = set(context.instance.get_dynamic_partitions(PARTITION_NAME))
        changes = partition_changes(scan, existing, settings.windowing().tag)
        cursor = encode_cursor(scan)
        if not changes.new and not changes.gone:
            return dg.SensorResult(skip_reason=f"no new or removed files under {root}", cursor=cursor)
        dyn: list[dg.AddDynamicPartitionsRequest | dg.DeleteDynamicPartitionsRequest] = []
        if changes.new:
            dyn.append(video_partitions.build_add_request(changes.new))
        if changes.gone:
            dyn.append(video_partitions.build_delete_request(changes.gone))
        return dg.SensorResult(run_requests=changes.requests, dynamic_partitions_requests=dyn, cursor=cursor)

    return new_videos_sensor
