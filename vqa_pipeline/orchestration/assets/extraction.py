"""One asset per extractor family, all computed in one step so Ray runs them side by side."""


import json

import dagster as dg

from vqa_pipeline.extractors.registry import get_extractor_class, profile_names
from vqa_pipeline.indexing import decode_cache
from vqa_pipeline.indexing.pipeline import Indexer, resolve_extractors
from vqa_pipeline.media.decode import decode
from vqa_pipeline.media.types import MediaError
from vqa_pipeline.orchestration.assets.common import partition_paths
from vqa_pipeline.orchestration.constants import EXTRACTION_GROUP, GROUP_ASSETS
from vqa_pipeline.orchestration.partitions import video_partitions
from vqa_pipeline.orchestration.resources import ExtractionRuntime, VqaSettings


def build_extraction_assets(profile: str = "lite") -> dg.AssetsDefinition:
    """A multi-asset with one asset per column group of ``profile`` (asr, ocr, audio_events, ...)."""
    classes = [get_extractor_class(n) for n in profile_names(profile)]
    group_of = {c.group: c for c in classes}
    specs = []
    for cls in classes:
        deps = ["windows"] + [GROUP_ASSETS.get(g, g) for g in cls.requires if g in group_of]
        specs.append(
            dg.AssetSpec(
                GROUP_ASSETS.get(cls.group, cls.group),
                deps=deps,
                description=f"{cls.group} columns of the windows table, by {cls.name} ({cls.model_id})",
                group_name=EXTRACTION_GROUP,
                kinds={"lancedb", "ray"},
                skippable=True,
            )
        )

    @dg.multi_asset(specs=specs, partitions_def=video_partitions, can_subset=True, name="extractors")
    def extractors(context: dg.AssetExecutionContext, settings: VqaSettings, runtime: ExtractionRuntime):
        store = settings.store()
        vid = context.partition_key
        row = store.get_video(vid)
        selected = {k.to_user_string() for k in context.selected_asset_keys}
        exs, missing = resolve_extractors(settings.profile)
        wanted = {e.name for e in exs if GROUP_ASSETS.get(e.group, e.group) in selected}
        if row is None or row.get("status") != "indexed":
            reason = (row or {}).get("error") or "the video has no windows (materialize `windows` first)"
            for key in sorted(selected):
                yield dg.MaterializeResult(asset_key=key, metadata={"status": "not run", "reason": reason})
            return
        runner = runtime.runner()
        try:
            indexer = Indexer(store, settings.windowing(), exs, runner)
            stale = indexer.stale(vid)
            outcome: dict[str, str] = {}
            if wanted & set(stale):
                media = decode_cache.load(settings.cache_dir(), vid, settings.windowing())
                if media is None:
                    path = partition_paths(context, settings, store)[0]
                    try:
                        media = decode(path, vid, settings.windowing())
                    except MediaError as exc:
                        raise dg.Failure(f"{path}: {exc}") from None
                outcome = indexer.extract(media, only=wanted)
                store.refresh_search_index()
        finally:
            runner.close()
        records = store.extraction_records(vid)
        for ex in exs:
            key = GROUP_ASSETS.get(ex.group, ex.group)
            if key not in selected:
                continue
            rec = records.get((vid, ex.group))
            yield dg.MaterializeResult(
                asset_key=key,
                metadata={
                    "extractor": ex.name,
                    "model": ex.model_tag,
                    "status": rec.status if rec else "not run",
                    "note": (rec.error if rec else "") or "",
                    "ran_now": ex.name in outcome and not outcome[ex.name].startswith("skipped"),
                    "seconds": round(rec.seconds, 3) if rec else 0.0,
                    "rows": row.get("n_windows") or 0,
                    "stale_reason": stale.get(ex.name, "up to date"),
                },
            )
        for name, why in missing.items():
            context.log.warning(f"extractor {name} not available: {why}")
        context.log.info(json.dumps(outcome))

    return extractors
