"""Running extractors on decoded media and writing their columns, recomputing only what is stale."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from vqa_pipeline.extractors.base import EvidenceLine, Extractor, ExtractorOutput
from vqa_pipeline.extractors.registry import create_extractor
from vqa_pipeline.media.types import DecodedMedia
from vqa_pipeline.store import ExtractionRecord, Store
from vqa_pipeline.store.schema import EVIDENCE_GROUPS

log = logging.getLogger(__name__)


@dataclass(slots=True)
class ExtractionJob:
    extractor: str
    media: DecodedMedia
    upstream: dict[str, ExtractorOutput] = field(default_factory=dict)


@dataclass(slots=True)
class ExtractionResult:
    extractor: str
    video_id: str
    output: ExtractorOutput | None
    error: str = ""
    seconds: float = 0.0


class ExtractionRunner(Protocol):
    """Runs extraction jobs. ``submit`` queues a job; ``wait_one`` returns any finished result.

    Several videos' jobs may be in flight at once, so decoding, writing and every model overlap.
    """

    def submit(self, job: ExtractionJob) -> None: ...

    def wait_one(self) -> ExtractionResult: ...

    def pending(self) -> int: ...

    def close(self) -> None: ...


def run_all(runner: ExtractionRunner, jobs: Sequence[ExtractionJob]) -> Iterator[ExtractionResult]:
    """Submit ``jobs`` and yield their results as they finish."""
    for job in jobs:
        runner.submit(job)
    for _ in jobs:
        yield runner.wait_one()


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
    try:
        ex = loaded.get(job.extractor)
        out = ex.extract(job.media, job.upstream)
        _check_output(out, len(job.media.windows), job.extractor)
        return ExtractionResult(job.extractor, job.media.video_id, out, seconds=time.perf_counter() - t0)
    except Exception as exc:
        msg = str(exc) if str(exc).startswith("model failed to load") else one_line(exc)
        log.warning("extractor %s failed on %s: %s", job.extractor, job.media.video_id, msg)
        return ExtractionResult(job.extractor, job.media.video_id, None, error=msg, seconds=time.perf_counter() - t0)


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

def stored_output(store: Store, video_id: str, extractor: Extractor) -> ExtractorOutput:
    """A group's stored columns, as an ``ExtractorOutput`` for downstream extractors."""
    g = extractor.group
    extra = [f.name for f in extractor.fields()]
    rows = store.windows_for(video_id, columns=[f"{g}_lines", *extra])
    lines = [
        [EvidenceLine(ln["start_s"], ln["end_s"], extractor.kind, ln["text"]) for ln in (r.get(f"{g}_lines") or [])]
        for r in rows
    ]
    return ExtractorOutput(lines=lines, columns={c: [r.get(c) for r in rows] for c in extra})


def _plain(value):
    if isinstance(value, np.ndarray):
        return value.astype(np.float32).tolist() if value.dtype.kind == "f" else value.tolist()
    if isinstance(value, (np.floating, np.integer, np.bool_)):
        return value.item()
    return value


def write_output(store: Store, media: DecodedMedia, extractor: Extractor, output: ExtractorOutput) -> int:
    """Store an extractor's columns for a video's windows; returns the number of lines written."""
    g = extractor.group
    store.ensure_group_columns(g, extractor.fields())
    declared = {f.name for f in extractor.fields()}
    columns: dict[str, list] = {
        f"{g}_lines": [
            [{"start_s": float(ln.start_s), "end_s": float(ln.end_s), "text": ln.text} for ln in lines] or None
            for lines in output.lines
        ],
        f"{g}_model": [extractor.model_tag] * len(media.windows),
    }
    for name, values in output.columns.items():
        if name in declared:
            columns[name] = [_plain(v) for v in values]
    store.write_group(media.video_id, g, columns, [w.window_id for w in media.windows])
    if g in EVIDENCE_GROUPS:
        store.refresh_evidence_text(media.video_id)
    return sum(len(x) for x in output.lines)
