"""Jobs and schedules."""


import dagster as dg

from vqa_pipeline.orchestration.constants import EXTRACTION_GROUP, FILE_TAG, INDEXING_GROUP, PARTITION_NAME, PATHS_TAG
from vqa_pipeline.orchestration.metadata import file_names
from vqa_pipeline.orchestration.partitions import video_partitions
from vqa_pipeline.orchestration.resources import VqaSettings

index_video_job = dg.define_asset_job(
    "index_video",
    selection=dg.AssetSelection.groups(INDEXING_GROUP, EXTRACTION_GROUP),
    partitions_def=video_partitions,
    description="Probe, window and run every extractor for one video partition.",
)


def stale_partitions(settings: VqaSettings, keys: list[str]) -> list[str]:
    """Partitions whose file changed or whose extractor columns are stale (new model version)."""
    from vqa_pipeline.extractors.registry import resolve_extractors
    from vqa_pipeline.indexing.extract import stale_extractors

    store = settings.store()
    videos = store.video_records()
    records = store.extraction_records()
    exs, _ = resolve_extractors(settings.profile)
    out = []
    for vid in keys:
        row = videos.get(vid)
        if row is None or row["status"] == "probed" or row["windowing"] != settings.windowing().tag:
            out.append(vid)  # no windows yet, or windows of other options
        elif row["status"] == "indexed" and stale_extractors(records, vid, exs):
            out.append(vid)  # a model changed
    return out


@dg.schedule(job=index_video_job, cron_schedule="0 3 * * *", default_status=dg.DefaultScheduleStatus.RUNNING)
def reindex_schedule(context: dg.ScheduleEvaluationContext, settings: VqaSettings):
    """Daily: re-run every video whose windows or extractor columns are stale or failed."""
    keys = list(context.instance.get_dynamic_partitions(PARTITION_NAME))
    stale = stale_partitions(settings, keys)
    if not stale:
        return dg.SkipReason(f"all {len(keys)} videos are up to date")
    day = context.scheduled_execution_time.strftime("%Y%m%d") if context.scheduled_execution_time else "now"
    videos = settings.store().video_records()
    return [
        dg.RunRequest(run_key=f"reindex-{vid}-{day}", partition_key=vid,
                      tags={PATHS_TAG: "", FILE_TAG: file_names((videos.get(vid) or {}).get("sources") or [])})
        for vid in stale
    ]
