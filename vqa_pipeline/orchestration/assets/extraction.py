"""One asset per extractor column group, all computed in one step so Ray runs them side by side.

The assets are the union of the column groups of every profile, so the asset graph never depends
on the environment; at run time a group the configured profile does not use (or whose models
cannot load here) is skipped, not materialized.
"""

import json
from collections.abc import Sequence
from dataclasses import dataclass

import dagster as dg

from vqa_pipeline.extractors.registry import PROFILES, get_extractor_class, profile_alternatives, resolve_extractors
from vqa_pipeline.media.types import MediaError
from vqa_pipeline.orchestration.assets.common import partition_paths
from vqa_pipeline.orchestration.constants import EXTRACTION_GROUP, GROUP_ASSETS, WINDOWS_ASSET
from vqa_pipeline.orchestration.metadata import evidence_preview, file_metadata, rounded
from vqa_pipeline.orchestration.partitions import video_partitions
from vqa_pipeline.orchestration.resources import ExtractionRuntime, VqaSettings
from vqa_pipeline.orchestration.video_steps import extract_video, failure_line


def asset_name(group: str) -> str:
    """The asset of a column group (``audio`` -> ``audio_events``; most groups keep their name)."""
    return GROUP_ASSETS.get(group, group)


@dataclass(frozen=True, slots=True)
class GroupAsset:
    """One column group as an asset: the extractors that can fill it and the groups it reads."""

    group: str
    extractors: tuple[str, ...]
    requires: tuple[str, ...]

    @property
    def key(self) -> str:
        return asset_name(self.group)


def column_groups(profiles: Sequence[str] = tuple(PROFILES)) -> list[GroupAsset]:
    """Every column group of ``profiles``, in dependency order (a group after the groups it reads).

    Groups keep their order of first appearance in the profiles where dependencies allow.
    """
    names: dict[str, list[str]] = {}
    for profile in profiles:
        for alternatives in profile_alternatives(profile):
            for name in alternatives:
                group = get_extractor_class(name).group
                if name not in names.setdefault(group, []):
                    names[group].append(name)
    requires = {
        g: tuple(dict.fromkeys(r for n in ns for r in get_extractor_class(n).requires if r in names and r != g))
        for g, ns in names.items()
    }
    ordered: list[str] = []
    while len(ordered) < len(names):
        ready = [g for g in names if g not in ordered and all(r in ordered for r in requires[g])]
        if not ready:
            raise ValueError(f"extractor groups depend on each other in a cycle: {sorted(set(names) - set(ordered))}")
        ordered.append(ready[0])
    return [GroupAsset(g, tuple(names[g]), requires[g]) for g in ordered]


def _spec(g: GroupAsset) -> dg.AssetSpec:
    return dg.AssetSpec(
        g.key,
        deps=[WINDOWS_ASSET, *(asset_name(r) for r in g.requires)],
        description=f"`{g.group}` columns of the windows table, by the profile's extractor for it "
        f"({', '.join(g.extractors)}); skipped when the configured profile has none.",
        group_name=EXTRACTION_GROUP,
        kinds={"lancedb", "ray"},
        skippable=True,
    )


def _not_indexed_reason(row: dict | None) -> str:
    if row and row.get("status") == "failed":
        return failure_line(row.get("source") or row["video_id"], row.get("error") or "failed")
    return "the video has no windows (materialize `windows` first)"


def _metadata(ex, rec, outcome: dict[str, str], stale: dict[str, str], row: dict) -> dict:
    return {
        **file_metadata(row),
        "extractor": ex.name,
        "model": ex.model_tag,
        "status": rec.status if rec else "not run",
        "note": (rec.error if rec else "") or "",
        "ran_now": ex.name in outcome and not outcome[ex.name].startswith("skipped"),
        "seconds": rounded(rec.seconds, 3) if rec else 0.0,
        "rows": row.get("n_windows") or 0,
        "stale_reason": stale.get(ex.name, "up to date"),
    }


def build_extraction_assets(profiles: Sequence[str] = tuple(PROFILES)) -> dg.AssetsDefinition:
    """A multi-asset with one asset per column group of ``profiles`` (asr, ocr, audio_events, ...).

    Outputs are yielded in dependency order (Dagster requires it of a multi-asset), only for the
    groups that the configured profile uses and that ran or were up to date. `evidence_units` (or,
    without it, the last one) carries a preview of the video's evidence lines, read once every
    group has run.
    """
    groups = column_groups(profiles)

    @dg.multi_asset(
        specs=[_spec(g) for g in groups], partitions_def=video_partitions, can_subset=True, name="extractors"
    )
    def extractors(context: dg.AssetExecutionContext, settings: VqaSettings, runtime: ExtractionRuntime):
        store = settings.store()
        vid = context.partition_key
        row = store.get_video(vid)
        if row is None or row.get("status") != "indexed":
            context.log.warning(f"extractors not run for {vid}: {_not_indexed_reason(row)}")
            return
        selected = {k.to_user_string() for k in context.selected_asset_keys}
        exs, missing = resolve_extractors(settings.profile)
        active = {asset_name(e.group): e for e in exs}
        wanted = {e.name for key, e in active.items() if key in selected}
        runner = runtime.runner()
        try:
            outcome, stale = extract_video(
                store, settings.windowing(), settings.cache_dir(), exs, runner, vid, wanted,
                lambda: partition_paths(context, settings, store),
            )
        except MediaError as exc:
            raise dg.Failure(str(exc)) from None
        finally:
            runner.close()
        records = store.extraction_records(vid)
        in_profile = {get_extractor_class(n).group for alts in profile_alternatives(settings.profile) for n in alts}
        skipped: dict[str, list[str]] = {}
        results: list[tuple[str, dict]] = []
        for g in groups:
            ex = active.get(g.key)
            if g.key not in selected:
                continue
            if ex is None:
                why = "no model available here" if g.group in in_profile else f"not in profile {settings.profile!r}"
                skipped.setdefault(why, []).append(g.key)
                continue
            results.append((g.key, _metadata(ex, records.get((vid, ex.group)), outcome, stale, row)))
        if results:
            from vqa_pipeline.store.evidence import lines_for_video

            keys = [k for k, _ in results]
            at = keys.index(GROUP_ASSETS["units"]) if GROUP_ASSETS["units"] in keys else -1
            results[at][1]["evidence_preview"] = evidence_preview(lines_for_video(store, vid))
        for key, metadata in results:
            yield dg.MaterializeResult(asset_key=key, metadata=metadata)
        for why, keys in skipped.items():
            context.log.info(f"skipped ({why}): {', '.join(keys)}")
        for name, why in missing.items():
            context.log.warning(f"extractor {name} not available: {why}")
        context.log.info(json.dumps(outcome))

    return extractors
