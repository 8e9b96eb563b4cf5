"""`videos` and `windows`: per-video partitions of the index.

A file that cannot be read or decoded is recorded as failed (``videos`` and ``files`` tables, as
``vqa index`` does) and the run goes on: `videos` materializes with the failure in its metadata,
`windows` is skipped (an observation carries the reason), so the extractor assets are skipped too.
"""

import time

import dagster as dg

from vqa_pipeline.orchestration.assets.common import plans_for, tag_run_with_file
from vqa_pipeline.orchestration.constants import INDEXING_GROUP, VIDEOS_ASSET, WINDOWS_ASSET
from vqa_pipeline.orchestration.metadata import file_metadata, rounded, rounded_floats
from vqa_pipeline.orchestration.partitions import video_partitions
from vqa_pipeline.orchestration.resources import VqaSettings
from vqa_pipeline.orchestration.video_steps import build_video_windows, failure_line, record_video


@dg.asset(name=VIDEOS_ASSET, partitions_def=video_partitions, group_name=INDEXING_GROUP, kinds={"lancedb"})
def videos(context: dg.AssetExecutionContext, settings: VqaSettings) -> dg.MaterializeResult:
    """The video's row in the `videos` table: content hash, every source path, probe facts or the error."""
    store = settings.store()
    plans = plans_for(context, settings, store)
    tag_run_with_file(context, [p.path for p in plans])
    outcomes = record_video(store, settings.windowing(), plans)
    failures = [failure_line(o.path, o.error) for o in outcomes if o.status == "failed"]
    for line in failures:
        context.log.warning(line)
    row = store.get_video(context.partition_key) or {}
    return dg.MaterializeResult(
        metadata={
            **file_metadata(row, [p.path for p in plans]),
            "status": row.get("status") or "",
            "error": "; ".join(failures),
            "sources": dg.MetadataValue.json(row.get("sources") or []),
            "has_audio": bool(row.get("has_audio")),
            "has_video": bool(row.get("has_video")),
            "size_bytes": int(row.get("size_bytes") or 0),
        }
    )


@dg.asset(
    name=WINDOWS_ASSET,
    partitions_def=video_partitions,
    group_name=INDEXING_GROUP,
    deps=[videos],
    kinds={"lancedb"},
    output_required=False,
)
def windows(context: dg.AssetExecutionContext, settings: VqaSettings):
    """Windows of the video in the `windows` table, decoded once (the decode is cached for the extractors).

    Not materialized for a video none of whose files decodes: the run logs and observes why.
    """
    store = settings.store()
    vid = context.partition_key
    t0 = time.perf_counter()
    plans = plans_for(context, settings, store)
    out = build_video_windows(store, settings.windowing(), settings.cache_dir(), plans)
    row = store.get_video(vid) or {}
    rows = store.count_windows(vid)
    if row.get("status") != "indexed" or not rows:
        reason = "; ".join(out.failures) or failure_line(row.get("source") or vid, row.get("error") or "no windows")
        context.log.warning(f"windows not built: {reason}")
        yield dg.AssetObservation(
            asset_key=WINDOWS_ASSET, partition=vid,
            metadata={**file_metadata(row, [p.path for p in plans]), "status": row.get("status") or "", "error": reason},
        )
        return
    yield dg.MaterializeResult(
        metadata=rounded_floats({
            **file_metadata(row, [p.path for p in plans]),
            "rows": rows,
            "decoded_now": out.media is not None,
            "decode_s": rounded(time.perf_counter() - t0, 3) if out.media is not None else 0.0,
            "windowing": settings.windowing().tag,
            "status": row.get("status") or "",
            "error": "; ".join(out.failures),
        })
    )
