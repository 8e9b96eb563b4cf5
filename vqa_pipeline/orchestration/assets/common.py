"""Helpers shared by the assets: which files a partition stands for."""


import json
from pathlib import Path

import dagster as dg

from vqa_pipeline.indexing.plan import FilePlan, plan_file
from vqa_pipeline.orchestration.constants import FILE_TAG, PATHS_TAG
from vqa_pipeline.orchestration.metadata import file_names
from vqa_pipeline.orchestration.resources import VqaSettings
from vqa_pipeline.orchestration.source_scan import known_files, scan_folder
from vqa_pipeline.store import Store


def partition_paths(context: dg.AssetExecutionContext, settings: VqaSettings, store: Store) -> list[Path]:
    """Source files of this partition's video: from the sensor's run tag, else by scanning."""
    vid = context.partition_key
    tagged = context.run_tags.get(PATHS_TAG) if context.run_tags else None
    if tagged:
        paths = [Path(p) for p in json.loads(tagged)]
        if any(p.exists() for p in paths):
            return [p for p in paths if p.exists()]
    by_id = scan_folder(settings.source_path(), {}, known=lambda: known_files(store)).by_id()
    paths = [Path(p) for p in by_id.get(vid, [])]
    if not paths:
        raise dg.Failure(f"no file under {settings.source_path()} has content id {vid} (moved or changed?)")
    return paths


def plans_for(context: dg.AssetExecutionContext, settings: VqaSettings, store: Store) -> list[FilePlan]:
    files, videos = store.file_records(), store.video_records()
    tag = settings.windowing().tag
    plans = [plan_file(p, files, videos, tag) for p in partition_paths(context, settings, store)]
    mismatched = [p for p in plans if p.video_id and p.action != "error" and p.video_id != context.partition_key]
    if mismatched:
        raise dg.Failure(f"{mismatched[0].path} changed since it was scanned; the sensor will pick up the new version")
    return plans


def tag_run_with_file(context: dg.AssetExecutionContext, paths: list[Path]) -> None:
    """Give the run the video's file name tag when it has none (a run started from the UI or the CLI)."""
    if paths and not (context.run_tags or {}).get(FILE_TAG):
        context.instance.add_run_tags(context.run_id, {FILE_TAG: file_names(paths)})
