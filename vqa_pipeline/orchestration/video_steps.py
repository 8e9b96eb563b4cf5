"""The per-video steps behind the `videos`, `windows` and extractor assets, as plain functions.

No Dagster here: each function takes the store, the windowing options and the file plans of one
video (content id) and returns what happened, so the assets only unpack their context and turn
the result into metadata. A bad file is an outcome (recorded in the store as ``failed`` with its
one-line reason, as ``vqa index`` does), never an exception.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from vqa_pipeline.extractors.base import Extractor
from vqa_pipeline.indexing import decode_cache
from vqa_pipeline.indexing.pipeline import Indexer
from vqa_pipeline.indexing.plan import FilePlan
from vqa_pipeline.indexing.runners import ExtractionRunner
from vqa_pipeline.indexing.summary import FileOutcome
from vqa_pipeline.media.decode import decode
from vqa_pipeline.media.types import DecodedMedia, MediaError, WindowingOptions
from vqa_pipeline.store import Store


def failure_line(path: str | Path, error: str) -> str:
    """``<path>: <reason>``: a failure names the file, not only its content id."""
    return f"{path}: {error}"


def record_video(store: Store, options: WindowingOptions, plans: Sequence[FilePlan]) -> list[FileOutcome]:
    """Record one video's files in the ``videos`` and ``files`` tables (probe facts or the error).

    Args:
        store: the target store.
        options: windowing options of this run.
        plans: the plans of the files that hold this video's content (``plan_file``).

    Returns:
        One outcome per file: ``probed``, ``unchanged``, ``duplicate`` or ``failed`` (with ``error``).
    """
    indexer = Indexer(store, options)
    outcomes = []
    with store.writing():  # the step's records as one unit: a CLI run cannot slip in between
        for plan in plans:
            if plan.action == "error":
                outcomes.append(indexer.record_failure(plan.path, plan, plan.error))
            elif plan.action in ("unchanged", "duplicate"):
                indexer.add_source(plan)
                status = "failed" if plan.error else plan.action
                outcomes.append(FileOutcome(str(plan.path), plan.video_id, status, error=plan.error))
            else:
                outcomes.append(indexer.register(plan))
    return outcomes


@dataclass(slots=True)
class WindowsOutcome:
    """What the windows step did for one video.

    Attributes:
        media: the media decoded now (also saved to the decode cache), or ``None``.
        failures: ``<path>: <reason>`` per file that could not be decoded.
    """

    media: DecodedMedia | None = None
    failures: list[str] = field(default_factory=list)


def build_video_windows(
    store: Store, options: WindowingOptions, cache_dir: Path, plans: Sequence[FilePlan]
) -> WindowsOutcome:
    """Decode the first decodable new or changed file of a video and write its window rows.

    Files already indexed with these options are not decoded again. A file that fails to decode is
    recorded as failed (its reason in the ``videos`` and ``files`` tables) and the next one holding
    the same content is tried. The decoded media goes to the decode cache for the extractors.
    """
    indexer = Indexer(store, options)
    out = WindowsOutcome()
    # Held across decode and writes so a video's windows, cleared extractions and record change
    # together (a CLI run holds the lock for its whole run the same way).
    with store.writing():
        for plan in plans:
            if plan.action == "index":
                media, outcome = indexer.build_windows(plan)
                if media is not None:
                    decode_cache.save(cache_dir, media)
                    out.media = media
                    return out
                out.failures.append(failure_line(plan.path, outcome.error))
            elif plan.action == "error" or plan.error:
                out.failures.append(failure_line(plan.path, plan.error))
    return out


def extract_video(
    store: Store,
    options: WindowingOptions,
    cache_dir: Path,
    extractors: Sequence[Extractor],
    runner: ExtractionRunner,
    video_id: str,
    wanted: set[str],
    paths: Callable[[], list[Path]],
) -> tuple[dict[str, str], dict[str, str]]:
    """Run the stale extractors among ``wanted`` (names) on one indexed video.

    The media comes from the decode cache, or is decoded again from the first of ``paths()``
    (called only then).

    Returns:
        ``(outcome, stale)``: extractor name -> what happened now (empty when nothing was stale),
        and extractor name -> why it was stale before this call.

    Raises:
        MediaError: the media had to be decoded again and the file no longer decodes (the message
            starts with the file's path).
    """
    indexer = Indexer(store, options, extractors, runner)
    stale = indexer.stale(video_id)
    if not wanted & set(stale):
        return {}, stale
    media = decode_cache.load(cache_dir, video_id, options)
    if media is None:
        path = paths()[0]
        try:
            media = decode(path, video_id, options)
        except MediaError as exc:
            raise MediaError(failure_line(path, str(exc))) from None
    outcome = indexer.extract(media, only=wanted)
    store.refresh_search_index()
    return outcome, stale
