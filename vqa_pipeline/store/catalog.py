"""Which indexed video a user means: one rule for every place that takes a VIDEO.

``vqa evidence VIDEO``, ``--video`` filters of search/ask and the ``video`` field of dev-set files all
name a video the same way (:func:`match_videos`):

1. a video id (``3f2a9c0d11aa22bb``);
2. the path of an indexed file (``~/talks/intro.mp4``, resolved to an absolute path);
3. a suffix of an indexed path at a path-component boundary (``intro.mp4``, ``talks/intro.mp4``;
   ``ro.mp4`` does not match ``/x/intro.mp4``);
4. the file-name stem of an indexed path (``intro`` for ``/x/intro.mp4``), when nothing above matched.

A reference that matches several videos is ambiguous; callers decide whether that is an error
(``vqa evidence``), a dropped filter value (search) or a skipped question (dev sets).

Nothing here imports LanceDB: the catalog is a plain ``{video_id: [source paths]}`` mapping.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Iterable, Mapping

Catalog = Mapping[str, Iterable[str]]
"""``{video_id: source paths}`` of the indexed videos (the ``windows`` or ``videos`` table)."""


def source_matches(source: str, video: str) -> bool:
    """Whether an indexed ``source`` path is named by ``video`` (equal, or a component-boundary suffix)."""
    src = source.replace("\\", "/")
    vid = video.replace("\\", "/").lstrip("/")
    if not vid:
        return False
    return src == vid or src.endswith("/" + vid)


def match_videos(ref: str, catalog: Catalog) -> list[str]:
    """Ids of the videos ``ref`` names (see the module docstring), sorted; ``[]`` when none."""
    ref = ref.strip()
    if not ref:
        return []
    if ref in catalog:
        return [ref]
    absolute = os.path.abspath(os.path.expanduser(ref))
    exact = sorted(vid for vid, sources in catalog.items() if absolute in set(sources))
    if exact:
        return exact
    suffix = sorted(vid for vid, sources in catalog.items() if any(source_matches(s, ref) for s in sources))
    if suffix or "/" in ref or "\\" in ref:
        return suffix
    return sorted(vid for vid, sources in catalog.items() if any(file_stem(s) == ref for s in sources))


def file_stem(source: str) -> str:
    """The file name of ``source`` without its last suffix (``/x/fire_drill.mp4`` -> ``fire_drill``)."""
    name = source.replace("\\", "/").rsplit("/", 1)[-1]
    stem, dot, _ = name.rpartition(".")
    return stem if dot and stem else name


class VideoRefError(LookupError):
    """A reference that names no indexed video, or several. ``str(err)`` is one line."""


def resolve_video_id(ref: str, catalog: Catalog) -> str:
    """The one video ``ref`` names.

    Raises:
        VideoRefError: no video matches, or several do (the message lists a few).
    """
    ids = match_videos(ref, catalog)
    if len(ids) == 1:
        return ids[0]
    raise VideoRefError(ref_problem(ref, ids, catalog))


def near_matches(ref: str, catalog: Catalog, n: int = 4) -> list[str]:
    """Indexed paths (or ids) that look like ``ref``: for "did you mean" in an error message."""
    names: dict[str, str] = {}
    for vid, sources in catalog.items():
        for s in sources or ():
            names.setdefault(os.path.basename(s.replace("\\", "/")) or s, s)
        names.setdefault(vid, vid)
    key = os.path.basename(ref.strip().replace("\\", "/")) or ref.strip()
    return [names[m] for m in difflib.get_close_matches(key, list(names), n=n, cutoff=0.5)]


def ref_problem(ref: str, ids: list[str], catalog: Catalog) -> str:
    """Why ``ref`` does not name one video (``ids``: what it matched), in one line."""
    if ids:
        names = ", ".join(sorted(next(iter(catalog[i]), i) for i in ids)[:4])
        more = f" and {len(ids) - 4} more" if len(ids) > 4 else ""
        return f"{ref!r} matches {len(ids)} videos ({names}{more}); give more of the path or the video id"
    near = near_matches(ref, catalog)
    hint = f"; did you mean {', '.join(near)}?" if near else f" ({len(catalog)} videos are indexed)"
    return f"no indexed video matches {ref!r}{hint}"
