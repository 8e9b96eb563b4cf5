"""The one extraction loop: which jobs to submit next, and what to do with each result.

A :class:`VideoExtraction` walks one video's stale extractors stage by stage (a stage needs only the
groups of earlier stages) and writes each result as it arrives, so a crash half-way keeps what
finished and a re-run redoes only the rest. An :class:`ExtractionScheduler` keeps several videos in
flight on one runner, so models work on one video while the next is decoded and written; the CLI
feeds it a folder, a Dagster asset one video (:meth:`ExtractionScheduler.run`).

An extractor with ``plan_parts`` (ASR) may split a file's work into pieces: each piece is a job of
its own, so the runner can spread one long file over several actors, and the pieces' payloads are
joined here (``join_parts``) into the one result the rest of the loop sees. Such an extractor may
first want a short probe job (``probe_part``: ASR's language detection, once per file); its pieces
are submitted when the probe returns (``after_probe`` hands them its result). The probe goes out with
the rest of its stage, so the other extractors keep the cores busy meanwhile.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

from vqa_pipeline.extractors.base import Extractor, ExtractorOutput
from vqa_pipeline.indexing.extract import (
    input_tag,
    join_segments,
    stages,
    stale_extractors,
    stored_output,
    write_output,
)
from vqa_pipeline.indexing.runners import ExtractionJob, ExtractionResult, ExtractionRunner, one_line
from vqa_pipeline.media.types import DecodedMedia
from vqa_pipeline.store import Store

log = logging.getLogger(__name__)

Progress = Callable[[str, dict], None]
SKIPPED = "skipped (up to date)"


def stale(store: Store, video_id: str, extractors: Sequence[Extractor]) -> dict[str, str]:
    """Extractor name -> why it must run for this video (see :func:`stale_extractors`)."""
    return stale_extractors(store.extraction_records(video_id), video_id, extractors)


class _ExtractorTally:
    """One extractor's results over a video's segments, until every segment has reported."""

    __slots__ = ("errors", "finished", "lines", "model_tag", "notes", "seconds", "stats")

    def __init__(self) -> None:
        self.finished = 0
        self.seconds = 0.0
        self.lines = 0
        self.errors: list[str] = []
        self.notes: list[list[str]] = []  # per segment
        self.stats: list[dict[str, float]] = []
        self.model_tag: str | None = None

    def add(self, result: ExtractionResult, n_lines: int) -> None:
        self.finished += 1
        self.seconds += result.seconds
        if result.output is None:
            self.errors.append(result.error)
            return
        self.lines += n_lines
        self.notes.append(list(result.output.notes))
        self.stats.append(result.output.stats)

    def note(self) -> str:
        # A segment's "no speech detected" says nothing about a video whose other segments had
        # some: "no ..." notes hold for the video when every segment gave them; others always do.
        if len(self.notes) == 1:
            return "; ".join(self.notes[0])
        every = set.intersection(*(set(n) for n in self.notes)) if self.notes else set()
        keep = [nt for notes in self.notes for nt in notes if nt in every or not nt.startswith("no ")]
        return "; ".join(dict.fromkeys(keep))

    def merged_stats(self) -> dict[str, float]:
        if len(self.stats) == 1:
            return self.stats[0]
        out: dict[str, float] = {}
        for key in dict.fromkeys(k for st in self.stats for k in st):
            values = [float(st[key]) for st in self.stats if key in st]
            ratio = "per_" in key or "probability" in key
            out[key] = round(sum(values) / len(values), 4) if ratio else round(sum(values), 4)
        return out


class VideoProgress:
    """A video's extraction over all its segments (a whole file is one segment).

    Each extractor's record is written once every segment has reported for it, so a crash half-way
    through a long file leaves the extractor stale and a re-run redoes it.

    Attributes:
        outcome: extractor name -> ``ok``, ``ok (note)``, ``failed: reason`` or :data:`SKIPPED`.
        seconds: extractor name -> seconds its jobs took.
    """

    def __init__(self, store: Store, video_id: str, extractors: Sequence[Extractor],
                 only: set[str] | None = None) -> None:
        self.store, self.video_id = store, video_id
        todo = set(stale(store, video_id, extractors))
        if only is not None:
            todo &= only
        self.todo = todo
        self.outcome: dict[str, str] = {e.name: SKIPPED for e in extractors if e.name not in todo}
        self.seconds: dict[str, float] = {}
        self.active = {e.group: e for e in extractors}
        self.by_name = {e.name: e for e in extractors}
        self.n_segments: int | None = None  # known once the last segment is added
        self.open = 0  # segments added and not finished
        self.tallies: dict[str, _ExtractorTally] = {}
        self.on_done: Callable[[VideoProgress], object] | None = None

    @property
    def done(self) -> bool:
        return self.n_segments is not None and self.open == 0

    def add_result(self, result: ExtractionResult, n_lines: int) -> str | None:
        """Count one segment's result; returns the outcome once the extractor's record is written."""
        tally = self.tallies.setdefault(result.extractor, _ExtractorTally())
        tally.add(result, n_lines)
        self.seconds[result.extractor] = tally.seconds
        return self._maybe_record(result.extractor)

    def set_segments(self, n: int) -> None:
        self.n_segments = n
        for name in list(self.tallies):
            self._maybe_record(name)

    def _maybe_record(self, name: str) -> str | None:
        tally = self.tallies[name]
        if self.n_segments is None or tally.finished < self.n_segments or name in self.outcome:
            return self.outcome.get(name)
        ex = self.by_name[name]
        tag = input_tag(ex, self.active)
        if tally.errors:
            error = tally.errors[0] if len(set(tally.errors)) == 1 else f"{tally.errors[0]} (and {len(tally.errors) - 1} more)"
            self.store.record_extraction(self.video_id, ex.group, ex.name, ex.model_tag, tag, "failed", error,
                                         tally.seconds)
            self.outcome[name] = f"failed: {error}"
        else:
            if self.n_segments > 1:
                join_segments(self.store, self.video_id, ex)  # before the record: a crash here redoes it
            note = tally.note()
            status = "empty" if tally.lines == 0 and note else "ok"
            self.store.record_extraction(self.video_id, ex.group, ex.name, ex.model_tag, tag, status, note,
                                         tally.seconds, tally.lines, tally.merged_stats())
            self.outcome[name] = "ok" + (f" ({note})" if note else "")
        return self.outcome[name]


class _Pieces:
    """A split extractor's pieces on one media, until each has reported.

    ``probing``: the probe job is out and the pieces wait for it; ``probe``: its payload once in
    (``None`` when it failed).
    """

    __slots__ = ("parts", "probe", "probe_seconds", "probing", "results", "upstream")

    def __init__(self, parts: list[Any], upstream: dict[str, ExtractorOutput], probing: bool = False) -> None:
        self.parts = parts
        self.upstream = upstream
        self.probing = probing
        self.probe: Any = None
        self.probe_seconds = 0.0
        self.results: list[ExtractionResult | None] = [None] * len(parts)


def plan_parts(ex: Extractor, media: DecodedMedia) -> list[Any] | None:
    """The extractor's pieces for this media, or ``None`` to run it as one job (also when planning
    fails: the one job then meets the same problem and reports it)."""
    plan = getattr(ex, "plan_parts", None)
    if plan is None:
        return None
    try:
        parts = plan(media)
    except Exception:  # noqa: BLE001 - the whole job reports the failure in its own words
        return None
    return list(parts) if parts and len(parts) > 1 else None


class VideoExtraction:
    """One decoded file's (or segment's) extraction, stage by stage."""

    def __init__(self, store: Store, media: DecodedMedia, video: VideoProgress) -> None:
        self.store, self.media, self.video = store, media, video
        todo = video.todo
        self.stages = [st for st in ([e for e in stage if e.name in todo]
                                     for stage in stages(list(video.by_name.values()))) if st]
        self.fresh: dict[str, ExtractorOutput] = {}
        self.pieces: dict[str, _Pieces] = {}
        self._later: list[ExtractionJob] = []  # pieces released by their probe, not yet submitted
        self.waiting = 0

    @property
    def done(self) -> bool:
        return self.waiting == 0 and not self.stages

    def next_jobs(self) -> list[ExtractionJob]:
        """Jobs of the next stage (its inputs are complete), or ``[]`` while a stage runs or at the end."""
        if self.waiting or not self.stages:
            return []
        jobs = []
        for ex in self.stages.pop(0):
            upstream = {}
            for g in ex.requires:
                if g in self.fresh:
                    upstream[g] = self.fresh[g]
                elif g in self.video.active:
                    upstream[g] = stored_output(self.store, self.media, self.video.active[g])
            parts = plan_parts(ex, self.media)
            probe = getattr(ex, "probe_part", None)
            lead = probe(parts) if parts is not None and probe is not None else None
            if parts is None:
                jobs.append(ExtractionJob(ex.name, self.media, upstream))
            elif lead is not None:  # the pieces go out when the probe is back (:meth:`_join`)
                self.pieces[ex.name] = _Pieces(parts, upstream, probing=True)
                jobs.append(ExtractionJob(ex.name, self.media, upstream, part=lead))
            else:
                self.pieces[ex.name] = _Pieces(parts, upstream)
                jobs += [ExtractionJob(ex.name, self.media, upstream, part=p) for p in parts]
        self.waiting = len(jobs)
        return jobs

    def later_jobs(self) -> list[ExtractionJob]:
        """Pieces whose probe came back since the last call (submitted by the scheduler, like :meth:`next_jobs`)."""
        jobs, self._later = self._later, []
        self.waiting += len(jobs)
        return jobs

    def _join(self, result: ExtractionResult) -> ExtractionResult | None:
        """Keep a piece's result; once every piece is in, their joined result (``None`` before)."""
        pieces = self.pieces[result.extractor]
        if pieces.probing:  # the probe: hand its result to the pieces and send them out
            pieces.probing = False
            pieces.probe_seconds = result.seconds
            if result.part_output is None:  # a failed probe decides nothing: each piece detects its own
                log.warning("extractor %s: the language probe failed on %s (%s); each piece detects its own",
                            result.extractor, self.media.video_id, result.error)
            ex = self.video.by_name[result.extractor]
            pieces.probe = result.part_output
            pieces.parts = ex.after_probe(pieces.parts, result.part_output)  # type: ignore[attr-defined]
            self._later += [ExtractionJob(result.extractor, self.media, pieces.upstream, part=p)
                            for p in pieces.parts]
            return None
        pieces.results[result.part_index] = result
        if any(r is None for r in pieces.results):
            return None
        del self.pieces[result.extractor]
        done = [r for r in pieces.results if r is not None]
        seconds = sum(r.seconds for r in done) + pieces.probe_seconds
        base = ExtractionResult(result.extractor, result.video_id, None, seconds=seconds, segment=result.segment)
        failed = [r for r in done if r.part_output is None]
        if failed:
            base.error = failed[0].error
            return base
        try:
            base.output = self.video.by_name[result.extractor].join_parts(  # type: ignore[attr-defined]
                self.media, pieces.parts, [r.part_output for r in done], probe=pieces.probe)
        except Exception as exc:  # noqa: BLE001 - reported per video like any extractor failure
            base.error = one_line(exc)
        return base

    def handle(self, result: ExtractionResult) -> str | None:
        """Write a finished job's columns for the windows this media owns; returns the outcome so far
        (``None`` for a piece whose extractor still waits for other pieces)."""
        self.waiting -= 1
        if result.part_index >= 0:
            joined = self._join(result)
            if joined is None:
                return None
            result = joined
        ex = self.video.by_name[result.extractor]
        n = 0
        if result.output is not None:
            n = write_output(self.store, self.media, ex, result.output)
            self.fresh[ex.group] = result.output
        outcome = self.video.add_result(result, n)
        if outcome is not None:
            return outcome
        part = f"segment {self.media.segment + 1}"
        return f"ok ({part})" if result.output is not None else f"failed ({part}): {result.error}"


class ExtractionScheduler:
    """Keeps videos' extraction jobs flowing through one runner.

    Args:
        store: where results are written.
        extractors: the run's extractors.
        runner: where jobs run.
        progress: called with ``("extracted", {video_id, extractor, outcome})`` per finished job.
    """

    def __init__(self, store: Store, extractors: Sequence[Extractor], runner: ExtractionRunner,
                 progress: Progress | None = None) -> None:
        self.store = store
        self.extractors = list(extractors)
        self.runner = runner
        self.progress = progress or (lambda event, data: None)
        self.seconds: dict[str, float] = {}
        self._videos: dict[str, VideoProgress] = {}
        self._in_flight: dict[tuple[str, int], VideoExtraction] = {}

    def __len__(self) -> int:
        """Segments (whole files count as one) whose extraction is under way."""
        return len(self._in_flight)

    def add(self, media: DecodedMedia, on_done: Callable[[VideoProgress], object],
            only: set[str] | None = None) -> None:
        """Start a file's (or a segment's) stale extractors (or only these names); ``on_done`` runs
        once all of the video's segments are finished (the last one is marked ``last_segment``)."""
        video = self._videos.get(media.video_id)
        if video is None:
            video = self._videos[media.video_id] = VideoProgress(self.store, media.video_id, self.extractors, only)
        video.on_done = on_done
        video.open += 1
        x = VideoExtraction(self.store, media, video)
        self._in_flight[(media.video_id, media.segment)] = x
        if media.last_segment:
            video.set_segments(media.segment + 1)
        self._submit_next(x)

    def abandon(self, video_id: str) -> None:
        """Wait for a video's jobs and forget it without calling its ``on_done`` (its file failed)."""
        while any(k[0] == video_id for k in self._in_flight):
            self.pump()
        self._videos.pop(video_id, None)

    def _submit_next(self, x: VideoExtraction) -> None:
        for job in [*x.later_jobs(), *x.next_jobs()]:
            self.runner.submit(job)
        if x.done:
            del self._in_flight[(x.media.video_id, x.media.segment)]
            video = x.video
            video.open -= 1
            if video.done and self._videos.get(video.video_id) is video:
                del self._videos[video.video_id]
                if video.on_done is not None:
                    video.on_done(video)

    def pump(self) -> None:
        """Wait for one result, write it, and submit what became ready."""
        result = self.runner.wait_one()
        x = self._in_flight[(result.video_id, result.segment)]
        outcome = x.handle(result)
        self.seconds[result.extractor] = self.seconds.get(result.extractor, 0.0) + result.seconds
        if outcome is not None:
            self.progress("extracted", {"video_id": result.video_id, "extractor": result.extractor, "outcome": outcome})
        self._submit_next(x)

    def drain(self, keep: int = 0) -> None:
        """Pump until at most ``keep`` segments are in flight."""
        while len(self._in_flight) > keep:
            self.pump()

    def run(self, media: DecodedMedia, only: set[str] | None = None) -> dict[str, str]:
        """Extract one decoded file to the end; returns extractor name -> outcome."""
        finished: dict[str, VideoProgress] = {}
        self.add(media, lambda v: finished.setdefault("x", v), only)
        while "x" not in finished:
            self.pump()
        return finished["x"].outcome


__all__ = ["SKIPPED", "ExtractionScheduler", "VideoExtraction", "VideoProgress", "stale"]
