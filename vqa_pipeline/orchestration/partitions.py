"""One dynamic partition per video, keyed by its content id."""

import dagster as dg

from vqa_pipeline.orchestration.constants import PARTITION_NAME

video_partitions = dg.DynamicPartitionsDefinition(name=PARTITION_NAME)
