"""The sensor that turns files in the source folder into video partitions."""


import hashlib
import json

import dagster as dg

from vqa_pipeline.indexing.scan import scan_sources
from vqa_pipeline.orchestration.constants import PATHS_TAG
from vqa_pipeline.orchestration.partitions import video_partitions
from vqa_pipeline.orchestration.resources import VqaSettings


def scan_requests(
    settings: VqaSettings, existing: set[str]
) -> tuple[list[dg.RunRequest], list[str], list[str], dict[str, str]]:
    """Run requests for new content ids, ids to add, ids whose files are gone, and scan errors."""
    store = settings.store()
    by_id, errors = scan_sources([settings.source_path()], store.file_records())
    new = sorted(set(by_id) - existing)
    gone = sorted(existing - set(by_id))
    requests = [
        dg.RunRequest(
            run_key=f"{vid}-{settings.windowing().tag}",
            partition_key=vid,
            tags={PATHS_TAG: json.dumps(sorted(by_id[vid]))},
        )
        for vid in new
    ]
    return requests, new, gone, errors


def build_new_videos_sensor(job) -> dg.SensorDefinition:
    @dg.sensor(job=job, minimum_interval_seconds=30, default_status=dg.DefaultSensorStatus.RUNNING)
    def new_videos_sensor(context: dg.SensorEvaluationContext, settings: VqaSettings) -> dg.SensorResult:
        """Scans the source folder: adds a partition (and a run) per new content id, removes vanished ones."""
        existing = set(context.instance.get_dynamic_partitions(video_partitions.name))
        requests, new, gone, errors = scan_requests(settings, existing)
        for path, err in sorted(errors.items()):
            context.log.warning(f"{path}: {err}")
        state = hashlib.sha256(json.dumps(sorted(existing | set(new))).encode()).hexdigest()[:16]
        dyn = []
        if new:
            dyn.append(video_partitions.build_add_request(new))
        if gone:
            dyn.append(video_partitions.build_delete_request(gone))
        if not new and not gone:
            return dg.SensorResult(skip_reason=f"no new or removed files under {settings.source_path()}", cursor=state)
        return dg.SensorResult(run_requests=requests, dynamic_partitions_requests=dyn, cursor=state)

    return new_videos_sensor
