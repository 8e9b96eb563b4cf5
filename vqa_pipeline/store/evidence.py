"""Reading a video's evidence lines back, and resolving what a user means by VIDEO."""

from __future__ import annotations

from vqa_pipeline.store.catalog import VideoRefError, resolve_video_id
from vqa_pipeline.store.schema import EVIDENCE_GROUPS, GROUP_KINDS
from vqa_pipeline.store.tables import Store, StoreError

# Display order of kinds at the same time; other groups (concept tags of full models) come after.
_KIND_ORDER = {g: i for i, g in enumerate(EVIDENCE_GROUPS)}
# Groups whose (always empty) ``{group}_lines`` are no evidence: units are read from ``units``;
# thumbnails are pictures.
_NOT_EVIDENCE = frozenset({"units_lines", "thumb_lines"})


def resolve_video(store: Store, ref: str) -> dict:
    """The video row ``ref`` names: an id, an indexed file's path, or a unique suffix of one
    (:func:`vqa_pipeline.store.catalog.match_videos`; every name a video has counts).

    Raises:
        StoreError: no video matches, or a suffix matches several.
    """
    videos = store.video_records()
    try:
        vid = resolve_video_id(ref, {v: r.get("sources") or [r.get("source") or ""] for v, r in videos.items()})
    except VideoRefError as exc:
        raise StoreError(str(exc)) from None
    return videos[vid]


def line_groups(store: Store) -> list[str]:
    """Column groups that hold evidence lines in this index, in display order."""
    groups = [n[: -len("_lines")] for n in store.windows.schema.names
              if n.endswith("_lines") and n not in _NOT_EVIDENCE]
    return sorted(groups, key=lambda g: (_KIND_ORDER.get(g, len(_KIND_ORDER)), g))


def lines_for_video(store: Store, video_id: str) -> list[dict]:
    """Every distinct evidence line of a video, in time order: ``{start, end, kind, text}``.

    Where the index holds evidence units (whole spoken sentences, on-screen blocks), those are the
    lines; windows without units give their per-model lines. A line stored in several windows
    (text on screen for 6 s, a sentence across a window edge) is returned once.
    """
    groups = line_groups(store)
    has_units = "units" in store.windows.schema.names
    rows = store.windows_for(video_id, columns=[f"{g}_lines" for g in groups] + (["units"] if has_units else []))
    seen: set[tuple] = set()
    out: list[dict] = []

    def add(kind: str, start: float, end: float, text: str) -> None:
        key = (round(start, 3), round(end, 3), kind, text)
        if key not in seen:
            seen.add(key)
            out.append({"start": start, "end": end, "kind": kind, "text": text})

    for r in rows:
        if r.get("units") is not None:
            for u in r["units"]:
                add(u["kind"], u["start_s"], u["end_s"], u["text"])
            continue
        for g in groups:
            for ln in r.get(f"{g}_lines") or []:
                add(GROUP_KINDS.get(g, g), ln["start_s"], ln["end_s"], ln["text"])
    out.sort(key=lambda x: (x["start"], _KIND_ORDER.get(x["kind"], 9), x["end"]))
    return out


__all__ = ["StoreError", "line_groups", "lines_for_video", "resolve_video"]
