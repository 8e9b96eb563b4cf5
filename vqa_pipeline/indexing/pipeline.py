"""`index_paths`: the whole indexing run over files and folders, as plain function calls.

:class:`Indexer` bundles what one run needs (store, windowing, extractors, runner) for the Dagster
assets, which call its steps one by one; :func:`index_paths` chains them for the CLI:

    discover -> plan each file -> record it (sources) -> decode + write windows -> schedule extraction

(Under 400 lines: the Indexer's steps, segment streaming and the one driver loop, with the
self-check and the batched failures it wraps.)
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from vqa_pipeline.extractors.base import Extractor
from vqa_pipeline.extractors.registry import resolve_extractors
from vqa_pipeline.indexing.discover import discover
from vqa_pipeline.indexing.heap import release_free_memory
from vqa_pipeline.indexing.plan import FilePlan, plan_file
from vqa_pipeline.indexing.runners import ExtractionRunner, InlineRunner
from vqa_pipeline.indexing.schedule import SKIPPED, ExtractionScheduler, VideoProgress, stale
from vqa_pipeline.indexing.sources import Sources
from vqa_pipeline.indexing.summary import FileOutcome, IndexSummary, dumps, summary_lines
from vqa_pipeline.media.decode import decode, decode_segments, probe
from vqa_pipeline.media.types import DecodedMedia, MediaError, WindowingOptions
from vqa_pipeline.store import Store, health
from vqa_pipeline.store.rows import window_rows

log = logging.getLogger(__name__)

Progress = Callable[[str, dict], None]

__all__ = ["FileOutcome", "IndexSummary", "Indexer", "dumps", "index_paths", "resolve_extractors", "summary_lines"]


class Indexer:
    """One indexing run's state: the store, options, extractors and runner.

    Dagster assets call the per-step methods (``register``, ``build_windows``, ``extract``);
    :func:`index_paths` chains them for the CLI.
    """

    def __init__(
        self,
        store: Store,
        options: WindowingOptions | None = None,
        extractors: Sequence[Extractor] = (),
        runner: ExtractionRunner | None = None,
        progress: Progress | None = None,
        batch_failures: bool = False,
    ) -> None:
        self.store = store
        self.options = options or WindowingOptions()
        self.extractors = list(extractors)
        self.runner = runner or InlineRunner()
        self.sources = Sources(store, self.options.tag, batch_failures)
        self.scheduler = ExtractionScheduler(store, self.extractors, self.runner, progress)

    @property
    def extractor_seconds(self) -> dict[str, float]:
        return self.scheduler.seconds

    # -- files -> videos (record keeping lives in Sources) -----------------------------------
    def record_failure(self, path: Path, plan: FilePlan | None, error: str) -> FileOutcome:
        return self.sources.record_failure(path, plan, error)

    def add_source(self, plan: FilePlan) -> None:
        self.sources.add_source(plan)

    def register(self, plan: FilePlan) -> FileOutcome:
        """Probe a new or changed file and record it (status ``probed``) before decoding."""
        try:
            info = probe(plan.path)
        except MediaError as exc:
            self.sources.detach_old(plan)
            return self.sources.record_failure(plan.path, plan, str(exc))
        return self.sources.record_probed(plan, info)

    def build_windows(self, plan: FilePlan) -> tuple[DecodedMedia | None, FileOutcome]:
        """Decode a new or changed file and write its window rows (replacing any old ones)."""
        t0 = time.perf_counter()
        try:
            media = decode(plan.path, plan.video_id, self.options)
        except MediaError as exc:
            self.sources.detach_old(plan)
            return None, self.sources.record_failure(plan.path, plan, str(exc))
        decode_s = time.perf_counter() - t0
        if _changed(plan):
            # Keep nothing from a file that changed under us; the next run indexes the new bytes.
            return None, FileOutcome(str(plan.path), plan.video_id, "failed",
                                     error="file changed while it was being indexed; run again to index the new version")
        self.store.replace_windows(plan.video_id, window_rows(media, str(plan.path), plan.content_hash))
        self.store.clear_extractions(plan.video_id)
        info = media.info
        self.sources.record_indexed(plan, info, len(media.windows), decode_s)
        notes = [] if info.has_audio else ["no audio track"]
        if not info.has_video:
            notes.append("audio only")
        return media, FileOutcome(str(plan.path), plan.video_id, "indexed", windows=len(media.windows),
                                  duration_s=info.duration_s, notes=notes)

    def stream_windows(self, plan: FilePlan, outcome: FileOutcome, on_done: Callable[[VideoProgress], object],
                       keep: int = 2) -> bool:
        """Decode a new or changed file segment by segment (bounded memory for any length): write
        each segment's window rows and hand it to the extraction scheduler, keeping at most ``keep``
        segments in flight. Returns whether the file was indexed; ``outcome`` is filled in either
        way (the scheduler calls ``on_done`` once its extraction is finished).

        Segment 0 replaces all of the video's old rows; later segments add theirs. The video is
        recorded as indexed only after its last segment, so a run stopped half-way leaves it to be
        redone from segment 0 (no duplicate rows).
        """
        vid = plan.video_id
        decode_s = 0.0
        written = False
        segments = decode_segments(plan.path, vid, self.options)
        try:
            while True:
                t0 = time.perf_counter()
                media = next(segments, None)
                decode_s += time.perf_counter() - t0
                if media is None:
                    break
                if media.last_segment and _changed(plan):
                    # Keep nothing from a file that changed under us; the next run indexes the new bytes.
                    segments.close()
                    if written:
                        self._drop_partial(vid)
                    outcome.status = "failed"
                    outcome.error = "file changed while it was being indexed; run again to index the new version"
                    return False
                rows = window_rows(media, str(plan.path), plan.content_hash)
                if media.segment == 0:
                    self.store.replace_windows(vid, rows)
                    self.store.clear_extractions(vid)
                else:
                    self.store.add_windows(rows)
                written = True
                if media.last_segment:
                    info = media.info
                    n_windows = media.windows[-1].index + 1 if media.windows else 0
                    self.sources.record_indexed(plan, info, n_windows, decode_s)
                    outcome.windows, outcome.duration_s = n_windows, info.duration_s
                    outcome.notes = [] if info.has_audio else ["no audio track"]
                    if not info.has_video:
                        outcome.notes.append("audio only")
                self.scheduler.add(media, on_done)
                del media  # the scheduler holds it while its extraction runs
                self.scheduler.drain(keep=keep)
                release_free_memory()
        except MediaError as exc:
            if written:
                self._drop_partial(vid)
            self.sources.detach_old(plan)
            failed = self.sources.record_failure(plan.path, plan, str(exc))
            outcome.status, outcome.error = failed.status, failed.error
            return False
        return True

    def _drop_partial(self, video_id: str) -> None:
        """Forget what a file that failed half-way left: its extraction jobs, window rows and records."""
        self.scheduler.abandon(video_id)
        self.store.delete_windows(video_id)
        self.store.clear_extractions(video_id)

    # -- extraction -----------------------------------------------------------------------------
    def stale(self, video_id: str) -> dict[str, str]:
        return stale(self.store, video_id, self.extractors)

    def extract(self, media: DecodedMedia, only: set[str] | None = None) -> dict[str, str]:
        """Run the stale extractors (or only these names) on decoded media; returns name -> outcome."""
        return self.scheduler.run(media, only)


def _changed(plan: FilePlan) -> bool:
    """Whether the file is no longer the one that was planned (size or mtime differ)."""
    try:
        st = plan.path.stat()
        return (st.st_size, st.st_mtime_ns) != (plan.size_bytes, plan.mtime_ns)
    except OSError:
        return True


def index_paths(
    paths: Sequence[str | Path],
    store: Store,
    options: WindowingOptions | None = None,
    profile: str = "lite",
    runner: ExtractionRunner | None = None,
    extractors: Sequence[str] | None = None,
    progress: Progress | None = None,
    max_in_flight: int = 3,
    prune: bool = True,
    repair: bool = False,
) -> IndexSummary:
    """Index files and folders: windows for new/changed files, then every stale extractor column.

    Args:
        paths: files and folders (searched recursively).
        store: the target store.
        options: windowing options.
        profile: extractor profile (``lite`` or ``full``); ``extractors`` overrides it by names
            (an empty list builds windows only).
        runner: where extractors run (``InlineRunner`` by default; the CLI passes a Ray runner).
        progress: called with ``(event, data)``: ``found`` ``{n}``; ``start`` ``{path, video_id}``
            when a file's turn comes (before it is decoded); ``extracted`` ``{video_id, extractor,
            outcome}``; ``file`` ``{outcome}`` when a file is finished; ``removed`` ``{outcome}``.
        max_in_flight: videos whose extraction may overlap (bounds memory: each holds its
            decoded keyframes and audio).
        prune: forget files recorded under the given folders that no longer exist (their video
            leaves the index unless another file holds the same content).
        repair: check every column of every table (not only the cheap checks every run makes)
            before trusting what the index records (:mod:`vqa_pipeline.store.health`).

    Returns:
        An ``IndexSummary``; bad files are listed with their reason, never raised.

    The run holds the database's writer lock throughout, waiting for another writer to finish
    (a caller that wants to choose how to wait takes it first: ``with store.writing(...)``).
    """
    with store.writing():
        return _index_paths(paths, store, options, profile, runner, extractors, progress, max_in_flight, prune,
                            repair)


def _index_paths(
    paths: Sequence[str | Path],
    store: Store,
    options: WindowingOptions | None,
    profile: str,
    runner: ExtractionRunner | None,
    extractors: Sequence[str] | None,
    progress: Progress | None,
    max_in_flight: int,
    prune: bool,
    repair: bool,
) -> IndexSummary:
    t0 = time.perf_counter()
    progress = progress or (lambda event, data: None)
    options = options or WindowingOptions()
    exs, missing = resolve_extractors(profile, extractors)
    # Before trusting "unchanged": damaged tables are moved aside, videos that lost windows are stale.
    fixes = health.repair(store.uri, deep=repair)
    store.forget_tables()
    # Two rows for one key (left by concurrent writers of older versions) block every merge; the
    # check reads every key, so it runs once per database unless the self-check found some.
    for name, n in store.repair_duplicates(once=not (repair or fixes.duplicates)).items():
        fixes.lines.append(f"table '{name}' held {n} duplicate row{'s' if n > 1 else ''}: one row per key kept")
    # Failures are written in batches: thousands of bad files must not cost a commit each.
    indexer = Indexer(store, options, exs, runner, progress, batch_failures=True)
    summary = IndexSummary(db=store.uri, profile=profile, missing_extractors=missing, repairs=list(fixes.lines))

    found = discover(list(paths))
    progress("found", {"n": len(found)})
    files, videos = store.file_records(), store.video_records()
    stale_sources = {vid: (videos.get(vid) or {}).get("source") or vid for vid in fixes.stale_videos}
    for vid in fixes.stale_videos:
        videos.pop(vid, None)  # planned as new: decoded, windows rewritten, extractors run again
    indexer.sources.remember(videos)
    seen_ids: set[str] = set()

    def finish(outcome: FileOutcome) -> None:
        progress("file", {"outcome": outcome})

    def extracted(outcome: FileOutcome) -> Callable[[VideoProgress], None]:
        def done(x: VideoProgress) -> None:
            outcome.extractors = x.outcome
            finish(outcome)

        return done

    # Segments (a short file is one) whose extraction may overlap; each holds at most
    # SEGMENT_S + 2 * HALO_S (6 min) of decoded media, so memory does not grow with a file's length.
    keep = max(max_in_flight - 1, 0)

    finished = False
    try:
        for f in found:
            if f.error:
                summary.files.append(indexer.record_failure(f.path, None, f.error))
                finish(summary.files[-1])
                continue
            plan = plan_file(f.path, files, videos, options.tag)
            progress("start", {"path": str(plan.path), "video_id": plan.video_id})
            if plan.action == "index" and plan.video_id in seen_ids:
                plan.action = "duplicate"  # the same bytes twice in this run
                plan.error = indexer.sources.failed_now.get(plan.video_id, "")
            streamed = False  # the file's segments went to the scheduler (which reports its outcome)
            if plan.action == "error":
                outcome = indexer.record_failure(plan.path, plan, plan.error)
            elif plan.action == "duplicate" and plan.error:
                # Known bad bytes under another name: recorded as a failure (batched), not read again.
                indexer.sources.detach_old(plan)
                outcome = indexer.record_failure(plan.path, plan, plan.error)
            elif plan.action in ("unchanged", "duplicate"):
                if plan.action == "duplicate":
                    indexer.add_source(plan)
                status = "failed" if plan.error else plan.action
                if status == "duplicate" and str(plan.path) in ((videos.get(plan.video_id) or {}).get("sources") or []):
                    status = "unchanged"  # a name the video already has: only its `files` row was lost
                known = {} if plan.error else store.get_video(plan.video_id) or {}
                outcome = FileOutcome(str(plan.path), plan.video_id, status, error=plan.error,
                                      windows=known.get("n_windows") or 0, duration_s=known.get("duration_s") or 0.0)
                if status != "failed" and plan.video_id not in seen_ids:
                    if indexer.stale(plan.video_id):
                        streamed = _redecode_for_extractors(indexer, plan, outcome, extracted(outcome), keep)
                    else:
                        outcome.extractors = {e.name: SKIPPED for e in indexer.extractors}
            else:
                outcome = FileOutcome(str(plan.path), plan.video_id, "indexed")
                streamed = indexer.stream_windows(plan, outcome, extracted(outcome), keep)
                if streamed:
                    summary.media_seconds += outcome.duration_s
            seen_ids.add(plan.video_id)
            summary.files.append(outcome)
            if not streamed:
                finish(outcome)
            # Keep a few segments in flight: models work on one while the next is decoded and written.
            indexer.scheduler.drain(keep=keep)
        indexer.scheduler.drain()
        finished = True
    finally:
        # Failure rows held for a batched write are kept when the run stops half-way too.
        _flush_failures(indexer, raise_errors=finished)
    folders = [Path(p) for p in paths if Path(p).is_dir()]
    if prune and folders:
        removed = indexer.sources.prune(folders, {str(f.path) for f in found})
        summary.files.extend(removed)
        for outcome in removed:
            progress("removed", {"outcome": outcome})
    summary.repairs += _stale_lines(stale_sources, seen_ids)
    if fixes.rebuild_indexes or any(
            f.status in ("indexed", "removed") or any(v.startswith("ok") for v in f.extractors.values())
            for f in summary.files):
        store.refresh_search_index()  # so the first search does not pay for it
        store.optimize()  # many small upserts leave many small fragments and versions
    summary.extractor_seconds = indexer.extractor_seconds
    summary.seconds = time.perf_counter() - t0
    return summary


def _stale_lines(stale: dict[str, str], seen: set[str]) -> list[str]:
    """Summary lines for the videos (id -> source) whose windows were missing: indexed again now, or left to do."""
    if not stale:
        return []
    done = [v for v in stale if v in seen]
    left = [v for v in stale if v not in seen]
    out = []
    if done:
        out.append(f"{len(done)} video{'s' if len(done) > 1 else ''} had lost window rows: indexed again")
    if left:
        example = stale[left[0]]
        out.append(f"{len(left)} other video{'s' if len(left) > 1 else ''} lost window rows but "
                   f"{'are' if len(left) > 1 else 'is'} not under the given paths: index again "
                   f"(e.g. vqa index {example})")
    return out


def _flush_failures(indexer: Indexer, raise_errors: bool) -> None:
    """Write the failure rows held back; after an error only log a second one (the first is what
    the user must see)."""
    try:
        indexer.sources.flush()
    except Exception:
        if raise_errors:
            raise
        log.warning("could not record the failed files of an interrupted run", exc_info=True)


def _redecode_for_extractors(indexer: Indexer, plan: FilePlan, outcome: FileOutcome,
                             on_done: Callable[[VideoProgress], object], keep: int) -> bool:
    """Known windows but stale extractor columns: decode once more, segment by segment, to feed the
    extractors. Returns whether the scheduler took the file (it then reports the outcome)."""
    added = False
    try:
        for media in decode_segments(plan.path, plan.video_id, indexer.options):
            if media.last_segment:
                outcome.windows = media.windows[-1].index + 1 if media.windows else 0
                outcome.duration_s = media.info.duration_s
            indexer.scheduler.add(media, on_done)
            added = True
            indexer.scheduler.drain(keep=keep)
    except MediaError as exc:
        if added:
            indexer.scheduler.abandon(plan.video_id)
        outcome.notes.append(f"could not decode to refresh extractors: {exc}")
        return False
    return added
