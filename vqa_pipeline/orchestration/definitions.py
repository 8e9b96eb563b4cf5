"""The one assembly point of the Dagster project (`workspace.yaml` loads `defs` from here).

The asset graph does not depend on the environment. The only variable read here is
``VQA_DEPLOYMENT`` (``local`` by default, or ``cluster``), which picks the resources; their
settings come from ``dg.EnvVar``s resolved when a run or a sensor tick starts (see ``resources``).
"""

import os

import dagster as dg

from vqa_pipeline.orchestration.assets.adapters import adapter_assets
from vqa_pipeline.orchestration.assets.extraction import build_extraction_assets
from vqa_pipeline.orchestration.assets.indexing import videos, windows
from vqa_pipeline.orchestration.assets.tuning import tuning_assets
from vqa_pipeline.orchestration.jobs import index_video_job, reindex_schedule
from vqa_pipeline.orchestration.resources import ENV_DEPLOYMENT, deployment_resources
from vqa_pipeline.orchestration.sensors import build_new_videos_sensor

DEPLOYMENT = os.getenv(ENV_DEPLOYMENT, "local")

defs = dg.Definitions(
    assets=[videos, windows, build_extraction_assets(), *tuning_assets, *adapter_assets],
    jobs=[index_video_job],
    sensors=[build_new_videos_sensor(index_video_job)],
    schedules=[reindex_schedule],
    resources=deployment_resources(DEPLOYMENT),
    # One process per run: Ray starts once per run and its actors serve every extractor asset.
    executor=dg.in_process_executor,
)
