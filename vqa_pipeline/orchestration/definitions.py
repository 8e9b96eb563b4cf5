"""The one assembly point of the Dagster project (`workspace.yaml` loads `defs` from here)."""


import os

import dagster as dg

from vqa_pipeline.orchestration.assets.extraction import build_extraction_assets
from vqa_pipeline.orchestration.assets.indexing import videos, windows
from vqa_pipeline.orchestration.assets.tuning import TuningSettings, tuning_assets
from vqa_pipeline.orchestration.jobs import index_video_job, reindex_schedule
from vqa_pipeline.orchestration.resources import ExtractionRuntime, VqaSettings
from vqa_pipeline.orchestration.sensors import build_new_videos_sensor

PROFILE = os.environ.get("VQA_PROFILE", "lite")

defs = dg.Definitions(
    assets=[videos, windows, build_extraction_assets(), *tuning_assets],
    jobs=[index_video_job],
    sensors=[build_new_videos_sensor(index_video_job)],
    schedules=[reindex_schedule],
    resources={"settings": VqaSettings(profile=PROFILE), "runtime": ExtractionRuntime(), "tuning": TuningSettings()},
    # One process per run: Ray starts once per run and its actors serve every extractor asset.
    executor=dg.in_process_executor,
)
