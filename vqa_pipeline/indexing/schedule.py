"""The one extraction loop: which jobs to submit next, and what to do with each result.

A :class:`VideoExtraction` walks one video's stale extractors stage by stage (a stage needs only the
groups of earlier stages) and writes each result as it arrives, so a crash half-way keeps what
finished and a re-run redoes only the rest. An :class:`ExtractionScheduler` keeps several videos in
flight on one runner, so models work on one video while the next is decoded and written; the CLI
feeds it a folder, a Dagster asset one video (:meth:`ExtractionScheduler.run`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from vqa_pipeline.extractors.base import Extractor, ExtractorOutput
from vqa_pipeline.indexing.extract import input_tag, stages, stale_extractors, stored_output, write_output
from vqa_pipeline.indexing.runners import ExtractionJob, ExtractionResult, ExtractionRunner
from vqa_pipeline.media.types import DecodedMedia
from vqa_pipeline.store import Store

Progress = Callable[[str, dict], None]
SKIPPED = "skipped (up to date)"


def stale(store: Store, video_id: str, extractors: Sequence[Extractor]) -> dict[str, str]:
    """Extractor name -> why it must run for this video (see :func:`stale_extractors`)."""
    return stale_extractors(store.extraction_records(video_id), video_id, extractors)


class VideoExtraction:
    """One video's extraction, stage by stage.

    Attributes:
        outcome: extractor name -> ``ok``, ``ok (note)``, ``failed: reason`` or :data:`SKIPPED`.
        seconds: extractor name -> seconds its job took.
    """

    def __init__(self, store: Store, media: DecodedMedia, extractors: Sequence[Extractor],
                 only: set[str] | None = None) -> None:
        self.store, self.media = store, media
        todo = set(stale(store, media.video_id, extractors))
        if only is not None:
            todo &= only
        self.outcome: dict[str, str] = {e.name: SKIPPED for e in extractors if e.name not in todo}
        self.seconds: dict[str, float] = {}
        self.active = {e.group: e for e in extractors}
        self.by_name = {e.name: e for e in extractors}
        self.stages = [st for st in ([e for e in stage if e.name in todo] for stage in stages(extractors)) if st]
        self.fresh: dict[str, ExtractorOutput] = {}
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
                elif g in self.active:
                    upstream[g] = stored_output(self.store, self.media.video_id, self.active[g])
            jobs.append(ExtractionJob(ex.name, self.media, upstream))
        self.waiting = len(jobs)
        return jobs

    def handle(self, result: ExtractionResult) -> str:
        """Write a finished job's columns (or record its failure); returns its outcome."""
        ex = self.by_name[result.extractor]
        vid = self.media.video_id
        self.waiting -= 1
        self.seconds[ex.name] = self.seconds.get(ex.name, 0.0) + result.seconds
        tag = input_tag(ex, self.active)
        if result.output is None:
            self.store.record_extraction(vid, ex.group, ex.name, ex.model_tag, tag, "failed", result.error,
                                         result.seconds)
            self.outcome[ex.name] = f"failed: {result.error}"
        else:
            n = write_output(self.store, self.media, ex, result.output)
            self.fresh[ex.group] = result.output
            note = "; ".join(result.output.notes)
            status = "empty" if n == 0 and note else "ok"
            self.store.record_extraction(vid, ex.group, ex.name, ex.model_tag, tag, status, note,
                                         result.seconds, n, result.output.stats)
            self.outcome[ex.name] = "ok" + (f" ({note})" if note else "")
        return self.outcome[ex.name]


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
        self._in_flight: dict[str, tuple[VideoExtraction, Callable[[VideoExtraction], object]]] = {}

    def __len__(self) -> int:
        return len(self._in_flight)

    def add(self, media: DecodedMedia, on_done: Callable[[VideoExtraction], object],
            only: set[str] | None = None) -> None:
        """Start a video's stale extractors (or only these names); ``on_done`` runs when all finished."""
        x = VideoExtraction(self.store, media, self.extractors, only)
        self._in_flight[media.video_id] = (x, on_done)
        self._submit_next(x)

    def _submit_next(self, x: VideoExtraction) -> None:
        for job in x.next_jobs():
            self.runner.submit(job)
        if x.done:
            _, on_done = self._in_flight.pop(x.media.video_id)
            on_done(x)

    def pump(self) -> None:
        """Wait for one result, write it, and submit what became ready."""
        result = self.runner.wait_one()
        x, _ = self._in_flight[result.video_id]
        outcome = x.handle(result)
        self.seconds[result.extractor] = self.seconds.get(result.extractor, 0.0) + result.seconds
        self.progress("extracted", {"video_id": result.video_id, "extractor": result.extractor, "outcome": outcome})
        self._submit_next(x)

    def drain(self, keep: int = 0) -> None:
        """Pump until at most ``keep`` videos are in flight."""
        while len(self._in_flight) > keep:
            self.pump()

    def run(self, media: DecodedMedia, only: set[str] | None = None) -> dict[str, str]:
        """Extract one video to the end; returns extractor name -> outcome."""
        finished: dict[str, VideoExtraction] = {}
        self.add(media, lambda x: finished.setdefault("x", x), only)
        while "x" not in finished:
            self.pump()
        return finished["x"].outcome


__all__ = ["SKIPPED", "ExtractionScheduler", "VideoExtraction", "stale"]
