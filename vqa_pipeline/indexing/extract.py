"""What must run for a video (staleness by model and input tags, dependency stages), and reading
and writing one extractor group's columns."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from vqa_pipeline.extractors.base import EvidenceLine, Extractor, ExtractorOutput
from vqa_pipeline.media.types import DecodedMedia, Window
from vqa_pipeline.store import ExtractionRecord, Store
from vqa_pipeline.store.rows import group_columns
from vqa_pipeline.store.schema import EVIDENCE_GROUPS

# -- staleness ---------------------------------------------------------------------------------

def input_tag(extractor: Extractor, active: Mapping[str, Extractor]) -> str:
    """What an extractor's inputs were made by; a change upstream makes it stale too."""
    return ";".join(f"{g}={active[g].model_tag}" for g in extractor.requires if g in active)


def stale_extractors(
    records: Mapping[tuple[str, str], ExtractionRecord],
    video_id: str,
    extractors: Sequence[Extractor],
    retry_failed: bool = True,
) -> dict[str, str]:
    """Extractor name -> why it must run for this video (missing, new model, failed, new inputs)."""
    active = {e.group: e for e in extractors}
    stale: dict[str, str] = {}
    for ex in extractors:
        rec = records.get((video_id, ex.group))
        if rec is None:
            stale[ex.name] = "new"
        elif rec.model_tag != ex.model_tag:
            stale[ex.name] = f"model changed ({rec.model_tag} -> {ex.model_tag})"
        elif rec.status == "failed" and retry_failed:
            stale[ex.name] = "retry after failure"
        elif rec.input_tag != input_tag(ex, active):
            stale[ex.name] = "inputs changed"
    # Anything downstream of a stale group is stale as well.
    changed = True
    while changed:
        changed = False
        stale_groups = {e.group for e in extractors if e.name in stale}
        for ex in extractors:
            if ex.name not in stale and stale_groups.intersection(ex.requires):
                stale[ex.name] = "inputs changed"
                changed = True
    return stale


def stages(extractors: Sequence[Extractor]) -> list[list[Extractor]]:
    """Extractors in dependency stages: each stage only needs groups of earlier stages."""
    remaining = list(extractors)
    present = {e.group for e in extractors}
    done: set[str] = set()
    out: list[list[Extractor]] = []
    while remaining:
        stage = [e for e in remaining if all(g in done or g not in present for g in e.requires)]
        if not stage:
            raise ValueError("extractor dependencies form a cycle: " + ", ".join(e.name for e in remaining))
        out.append(stage)
        done.update(e.group for e in stage)
        remaining = [e for e in remaining if e not in stage]
    return out


# -- reading and writing columns -------------------------------------------------------------

def stored_output(store: Store, media: DecodedMedia, extractor: Extractor) -> ExtractorOutput:
    """A group's stored columns for ``media``'s windows, as an ``ExtractorOutput`` for downstream extractors."""
    g = extractor.group
    extra = [f.name for f in extractor.fields()]
    span = (media.windows[0].index, media.windows[-1].index + 1) if media.core is not None and media.windows else None
    stored = {r["window_id"]: r for r in store.windows_for(media.video_id, columns=["window_id", f"{g}_lines", *extra],
                                                           index_range=span)}
    rows = [stored.get(w.window_id) or {} for w in media.windows]
    lines = [
        [EvidenceLine(ln["start_s"], ln["end_s"], extractor.kind, ln["text"]) for ln in (r.get(f"{g}_lines") or [])]
        for r in rows
    ]
    return ExtractorOutput(lines=lines, columns={c: [r.get(c) for r in rows] for c in extra})


def join_segments(store: Store, video_id: str, extractor: Extractor) -> None:
    """After the last segment of a video extracted in segments, let an extractor whose results
    cross segment edges (evidence units: a slide on screen for 12 minutes) rewrite its columns
    from every window's stored columns."""
    join = getattr(extractor, "join_segments", None)
    if join is None:
        return
    names = list(getattr(extractor, "joined_columns", ()))
    rows = store.windows_for(video_id, columns=["window_id", "start_s", "end_s", *names])
    if not rows:
        return
    windows = [Window(window_id=r["window_id"], video_id=video_id, index=int(r["window_index"]),
                      start_s=float(r["start_s"]), end_s=float(r["end_s"])) for r in rows]
    columns = join(windows, {c: [r.get(c) for r in rows] for c in names})
    store.write_group(video_id, extractor.group, columns, [w.window_id for w in windows])


def write_output(store: Store, media: DecodedMedia, extractor: Extractor, output: ExtractorOutput) -> int:
    """Store an extractor's columns for the windows ``media`` owns (a segment's core; all windows
    of a whole file); returns the number of lines written."""
    g = extractor.group
    store.ensure_group_columns(g, extractor.fields())
    ran = output.model_tag or extractor.model_tag  # the rows name what actually ran for this file
    lo, hi = media.core_range
    lines = output.lines[lo:hi]
    extra = {c: v[lo:hi] for c, v in output.columns.items()}
    columns = group_columns(g, ran, lines, extra, (f.name for f in extractor.fields()))
    owned = media.windows[lo:hi]
    store.write_group(media.video_id, g, columns, [w.window_id for w in owned])
    if g in EVIDENCE_GROUPS and owned:
        # A segment refreshes only its own windows: the work per segment stays the same however long the file.
        span = (owned[0].index, owned[-1].index + 1) if media.core is not None else None
        store.refresh_evidence_text(media.video_id, span)
    return sum(len(x) for x in lines)
