"""Where extraction jobs run: the runner protocol, in-process execution, and loading models once.

An :class:`ExtractionJob` is one extractor on one decoded file. A runner (:class:`InlineRunner`
here, :class:`~vqa_pipeline.indexing.ray_runner.RayRunner` on Ray actors) takes jobs with
``submit`` and hands back finished :class:`ExtractionResult` objects with ``wait_one``; the
scheduler (:mod:`vqa_pipeline.indexing.schedule`) decides what to submit. A job with a ``part``
runs one piece of a split extractor's work (``extract_part``: ASR on one stretch of a long track);
its result carries that piece's payload, which the scheduler joins.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from vqa_pipeline.extractors.base import Extractor, ExtractorOutput
from vqa_pipeline.extractors.registry import create_extractor
from vqa_pipeline.media.types import DecodedMedia

log = logging.getLogger(__name__)


@dataclass(slots=True)
class ExtractionJob:
    extractor: str
    media: DecodedMedia
    upstream: dict[str, ExtractorOutput] = field(default_factory=dict)
    part: Any = None  # one piece of the extractor's work (its ``plan_parts``), or None: all of it


@dataclass(slots=True)
class ExtractionResult:
    extractor: str
    video_id: str
    output: ExtractorOutput | None
    error: str = ""
    seconds: float = 0.0
    segment: int = 0  # which segment of a long file (``DecodedMedia.segment``)
    node: str = ""  # the Ray node that ran the job (empty: this process)
    part_index: int = -1  # the piece this result is for (``job.part.index``); -1: the whole job
    part_output: Any = None  # that piece's payload (``extract_part``); None when it failed


class ExtractionRunner(Protocol):
    """Runs extraction jobs. ``submit`` queues a job; ``wait_one`` returns any finished result.

    Several videos' jobs may be in flight at once, so decoding, writing and every model overlap.
    """

    def submit(self, job: ExtractionJob) -> None: ...

    def wait_one(self) -> ExtractionResult: ...

    def pending(self) -> int: ...

    def close(self) -> None: ...


def one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return f"{type(exc).__name__}: {text}"[:300]


class LoadedExtractors:
    """Extractor instances loaded at most once per process; load failures are remembered."""

    def __init__(self, options: Mapping[str, dict] | None = None) -> None:
        self.options = dict(options or {})
        self._loaded: dict[str, Extractor] = {}
        self._failed: dict[str, str] = {}
        self._lock = threading.Lock()

    def get(self, name: str) -> Extractor:
        with self._lock:
            if name in self._failed:
                raise RuntimeError(self._failed[name])
            if name not in self._loaded:
                try:
                    ex = create_extractor(name, **self.options.get(name, {}))
                    ex.load()
                except Exception as exc:  # any load failure is reported per video, not raised
                    self._failed[name] = f"model failed to load: {one_line(exc)}"
                    raise RuntimeError(self._failed[name]) from exc
                self._loaded[name] = ex
            return self._loaded[name]


def run_job(loaded: LoadedExtractors, job: ExtractionJob) -> ExtractionResult:
    """Run one job, turning any exception into a failed result with a one-line reason."""
    t0 = time.perf_counter()
    part_index = -1 if job.part is None else int(job.part.index)
    try:
        ex = loaded.get(job.extractor)
        if job.part is not None:
            payload = ex.extract_part(job.media, job.part)  # type: ignore[attr-defined]
            return ExtractionResult(job.extractor, job.media.video_id, None, seconds=time.perf_counter() - t0,
                                    segment=job.media.segment, part_index=part_index, part_output=payload)
        out = ex.extract(job.media, job.upstream)
        _check_output(out, len(job.media.windows), job.extractor)
        return ExtractionResult(job.extractor, job.media.video_id, out, seconds=time.perf_counter() - t0,
                                segment=job.media.segment)
    except Exception as exc:
        msg = str(exc) if str(exc).startswith("model failed to load") else one_line(exc)
        log.warning("extractor %s failed on %s: %s", job.extractor, job.media.video_id, msg)
        return ExtractionResult(job.extractor, job.media.video_id, None, error=msg, seconds=time.perf_counter() - t0,
                                segment=job.media.segment, part_index=part_index)


def _check_output(out: ExtractorOutput, n: int, name: str) -> None:
    if len(out.lines) != n:
        raise ValueError(f"{name} returned {len(out.lines)} line lists for {n} windows")
    for col, values in out.columns.items():
        if len(values) != n:
            raise ValueError(f"{name} column {col} has {len(values)} values for {n} windows")


class InlineRunner:
    """Runs jobs one after another in this process (tests, debugging, no Ray)."""

    def __init__(self, options: Mapping[str, dict] | None = None) -> None:
        self.loaded = LoadedExtractors(options)
        self._queue: list[ExtractionJob] = []

    def submit(self, job: ExtractionJob) -> None:
        self._queue.append(job)

    def wait_one(self) -> ExtractionResult:
        return run_job(self.loaded, self._queue.pop(0))

    def pending(self) -> int:
        return len(self._queue)

    def close(self) -> None:
        self._queue.clear()
