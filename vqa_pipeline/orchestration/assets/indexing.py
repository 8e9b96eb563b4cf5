"""`videos` and `windows`: per-video partitions of the index."""


import time

import dagster as dg

from vqa_pipeline.indexing import decode_cache
from vqa_pipeline.indexing.pipeline import Indexer
from vqa_pipeline.orchestration.assets.common import plans_for
from vqa_pipeline.orchestration.constants import INDEXING_GROUP
from vqa_pipeline.orchestration.partitions import video_partitions
from vqa_pipeline.orchestration.resources import VqaSettings


@dg.asset(partitions_def=video_partitions, group_name=INDEXING_GROUP, kinds={"lancedb"})
def videos(context: dg.AssetExecutionContext, settings: VqaSettings) -> dg.MaterializeResult:
    """The video's row in the `videos` table: content hash, every source path, probe facts or the error."""
    store = settings.store()
    indexer = Indexer(store, settings.windowing())
    outcomes = []
    for plan in plans_for(context, settings, store):
        if plan.action == "error":
            outcomes.append(indexer.record_failure(plan.path, plan, plan.error))
        elif plan.action in ("unchanged", "duplicate"):
            indexer.add_source(plan)
            outcomes.append(plan)
        else:
            outcomes.append(indexer.register(plan))
    row = store.get_video(context.partition_key) or {}
    return dg.MaterializeResult(
        metadata={
            "status": row.get("status") or "",
            "error": row.get("error") or "",
            "sources": dg.MetadataValue.json(row.get("sources") or []),
            "duration_s": float(row.get("duration_s") or 0.0),
            "has_audio": bool(row.get("has_audio")),
            "has_video": bool(row.get("has_video")),
            "size_bytes": int(row.get("size_bytes") or 0),
        }
    )


@dg.asset(partitions_def=video_partitions, group_name=INDEXING_GROUP, deps=[videos], kinds={"lancedb"})
def windows(context: dg.AssetExecutionContext, settings: VqaSettings) -> dg.MaterializeResult:
    """Windows of the video in the `windows` table, decoded once (the decode is cached for the extractors)."""
    store = settings.store()
    indexer = Indexer(store, settings.windowing())
    t0 = time.perf_counter()
    decoded = None
    errors = []
    for plan in plans_for(context, settings, store):
        if plan.action == "index":
            media, outcome = indexer.build_windows(plan)
            if media is not None:
                decode_cache.save(settings.cache_dir(), media)
                decoded = media
                break
            errors.append(outcome.error)
        elif plan.action == "error":
            errors.append(plan.error)
    row = store.get_video(context.partition_key) or {}
    if row.get("status") == "failed" or (errors and not store.count_windows(context.partition_key)):
        # A bad file is a recorded outcome, not a crashed run: report it and materialize nothing new.
        context.log.warning(f"{context.partition_key}: {row.get('error') or errors[0]}")
    return dg.MaterializeResult(
        metadata={
            "rows": store.count_windows(context.partition_key),
            "decoded_now": decoded is not None,
            "decode_s": round(time.perf_counter() - t0, 3) if decoded is not None else 0.0,
            "duration_s": float(row.get("duration_s") or 0.0),
            "windowing": settings.windowing().tag,
            "status": row.get("status") or "",
            "error": row.get("error") or (errors[0] if errors else ""),
        }
    )
