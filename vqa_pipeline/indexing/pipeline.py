"""`index_paths`: the whole indexing run over files and folders, as plain function calls."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import pyarrow as pa

from vqa_pipeline.extractors.base import Extractor, ExtractorOutput
from vqa_pipeline.extractors.registry import resolve_extractors
from vqa_pipeline.indexing.discover import discover
from vqa_pipeline.indexing.extract import (
    ExtractionJob,
    ExtractionResult,
    ExtractionRunner,
    InlineRunner,
    input_tag,
    run_all,
    stages,
    stale_extractors,
    stored_output,
    write_output,
)
from vqa_pipeline.indexing.plan import FilePlan, error_video_id, plan_file
from vqa_pipeline.indexing.summary import FileOutcome, IndexSummary, dumps, summary_lines
from vqa_pipeline.media.decode import decode, probe
from vqa_pipeline.media.types import DecodedMedia, MediaError, WindowingOptions
from vqa_pipeline.store import Store
from vqa_pipeline.store.tables import now_iso

log = logging.getLogger(__name__)

Progress = Callable[[str, dict], None]

__all__ = ["FileOutcome", "IndexSummary", "Indexer", "dumps", "index_paths", "resolve_extractors", "summary_lines"]


def _media_facts(info) -> dict:
    """The ``videos`` columns that come from probing or decoding a file."""
    return {
        "duration_s": info.duration_s,
        "has_video": info.has_video,
        "has_audio": info.has_audio,
        "width": info.width,
        "height": info.height,
        "fps": info.fps,
    }


def window_rows(media: DecodedMedia, source: str, digest: str) -> pa.Table:
    """Base rows of the windows table for a decoded file."""
    kts: dict[int, list[float]] = {}
    for k in media.keyframes:
        kts.setdefault(k.window_index, []).append(k.t_s)
    ws = media.windows
    return pa.table(
        {
            "window_id": [w.window_id for w in ws],
            "video_id": [media.video_id] * len(ws),
            "source": [source] * len(ws),
            "content_hash": [digest] * len(ws),
            "window_index": pa.array([w.index for w in ws], pa.int32()),
            "start_s": [w.start_s for w in ws],
            "end_s": [w.end_s for w in ws],
            "keyframe_ts": [kts.get(w.index, []) for w in ws],
            "windowing": [media.options.tag] * len(ws),
        }
    )


class Indexer:
    """One indexing run's state: the store, options, extractors and runner.

    Dagster assets call the per-step methods (``register``, ``build_windows``, ``extract``);
    ``index_paths`` chains them for the CLI.
    """

    def __init__(
        self,
        store: Store,
        options: WindowingOptions | None = None,
        extractors: Sequence[Extractor] = (),
        runner: ExtractionRunner | None = None,
        progress: Progress | None = None,
    ) -> None:
        self.store = store
        self.options = options or WindowingOptions()
        self.extractors = list(extractors)
        self.runner = runner or InlineRunner()
        self.progress = progress or (lambda event, data: None)
        self.extractor_seconds: dict[str, float] = {}

    # -- files -> videos ------------------------------------------------------------------------
    def record_failure(self, path: Path, plan: FilePlan | None, error: str) -> FileOutcome:
        vid = plan.video_id if plan and plan.video_id else error_video_id(path)
        old = self.store.get_video(vid)
        sources = sorted(set((old or {}).get("sources") or []) | {str(path)})
        self.store.upsert_video(
            {
                "video_id": vid,
                "content_hash": plan.content_hash if plan else "",
                "source": sources[0],
                "sources": sources,
                "status": "failed",
                "error": error,
                "windowing": self.options.tag,
                "size_bytes": plan.size_bytes if plan else 0,
                "indexed_at": now_iso(),
            }
        )
        if plan is not None and plan.size_bytes is not None:
            self.store.upsert_files([self._file_row(plan, vid, "failed", error)])
        return FileOutcome(str(path), vid, "failed", error=error)

    def _file_row(self, plan: FilePlan, video_id: str, status: str, error: str = "") -> dict:
        return {
            "path": str(plan.path),
            "size_bytes": plan.size_bytes,
            "mtime_ns": plan.mtime_ns,
            "video_id": video_id,
            "status": status,
            "error": error,
            "seen_at": now_iso(),
        }

    def _detach_old(self, plan: FilePlan) -> None:
        """The path held other content before: drop it from that video, and the video if orphaned."""
        for old_id in plan.replaces:
            self.drop_source(old_id, str(plan.path))

    def drop_source(self, video_id: str, path: str) -> None:
        """``path`` no longer holds this video: forget it there, and the video (rows and all) if no
        other file holds it."""
        video = self.store.get_video(video_id)
        if not video:
            return
        sources = [s for s in (video.get("sources") or []) if s != path]
        if not sources:
            self.store.delete_video(video_id)
            return
        if video.get("source") not in sources:
            self.store.set_source(video_id, sources[0])
        video.update(sources=sources, source=video["source"] if video.get("source") in sources else sources[0])
        self.store.upsert_video(video)

    def prune(self, folders: Sequence[Path], present: set[str]) -> list[FileOutcome]:
        """Files recorded under ``folders`` that are gone from disk: removed from the index."""
        roots = [str(f.absolute()).rstrip("/") + "/" for f in folders]
        out = []
        for path, rec in self.store.file_records().items():
            if path in present or not any(path.startswith(r) for r in roots) or Path(path).exists():
                continue
            if rec.get("video_id"):
                self.drop_source(rec["video_id"], path)
            self.store.delete_file(path)
            out.append(FileOutcome(path, rec.get("video_id") or "", "removed", notes=["file no longer exists"]))
        return out

    def add_source(self, plan: FilePlan) -> None:
        video = self.store.get_video(plan.video_id)
        if video is None:
            return
        sources = sorted(set(video.get("sources") or []) | {str(plan.path)})
        if sources != (video.get("sources") or []):
            video.update(sources=sources, source=video.get("source") or sources[0])
            self.store.upsert_video(video)
        self._detach_old(plan)
        self.store.upsert_files([self._file_row(plan, plan.video_id, video["status"], video.get("error") or "")])

    def register(self, plan: FilePlan) -> FileOutcome:
        """Probe a new or changed file and record it (status ``probed``) before decoding."""
        try:
            info = probe(plan.path)
        except MediaError as exc:
            self._detach_old(plan)
            return self.record_failure(plan.path, plan, str(exc))
        old = self.store.get_video(plan.video_id) or {}
        sources = sorted(set(old.get("sources") or []) | {str(plan.path)})
        self.store.upsert_video(
            {
                **{k: v for k, v in old.items() if k != "_rowid"},
                "video_id": plan.video_id,
                "content_hash": plan.content_hash,
                "source": old.get("source") or str(plan.path),
                "sources": sources,
                **_media_facts(info),
                "windowing": old.get("windowing") or "",
                "status": old.get("status") if old.get("status") == "indexed" else "probed",
                "error": "",
                "size_bytes": plan.size_bytes,
            }
        )
        return FileOutcome(str(plan.path), plan.video_id, "probed", duration_s=info.duration_s,
                           notes=[] if info.has_audio else ["no audio track"])

    def build_windows(self, plan: FilePlan) -> tuple[DecodedMedia | None, FileOutcome]:
        """Decode a new or changed file and write its window rows (replacing any old ones)."""
        t0 = time.perf_counter()
        try:
            media = decode(plan.path, plan.video_id, self.options)
        except MediaError as exc:
            self._detach_old(plan)
            return None, self.record_failure(plan.path, plan, str(exc))
        decode_s = time.perf_counter() - t0
        try:
            st = plan.path.stat()
            changed = (st.st_size, st.st_mtime_ns) != (plan.size_bytes, plan.mtime_ns)
        except OSError:
            changed = True
        if changed:
            # Keep nothing from a file that changed under us; the next run indexes the new bytes.
            return None, FileOutcome(str(plan.path), plan.video_id, "failed",
                                     error="file changed while it was being indexed; run again to index the new version")
        old = self.store.get_video(plan.video_id)
        sources = sorted(set((old or {}).get("sources") or []) | {str(plan.path)})
        self.store.replace_windows(plan.video_id, window_rows(media, str(plan.path), plan.content_hash))
        self.store.clear_extractions(plan.video_id)
        info = media.info
        self.store.upsert_video(
            {
                "video_id": plan.video_id,
                "content_hash": plan.content_hash,
                "source": str(plan.path),  # the file the window rows were decoded from
                "sources": sources,
                **_media_facts(info),
                "rotation_deg": info.rotation_deg,
                "n_windows": len(media.windows),
                "windowing": self.options.tag,
                "status": "indexed",
                "error": "",
                "decode_s": round(decode_s, 4),
                "size_bytes": plan.size_bytes,
                "indexed_at": now_iso(),
            }
        )
        self._detach_old(plan)
        self.store.upsert_files([self._file_row(plan, plan.video_id, "indexed")])
        notes = [] if info.has_audio else ["no audio track"]
        if not info.has_video:
            notes.append("audio only")
        return media, FileOutcome(str(plan.path), plan.video_id, "indexed", windows=len(media.windows),
                                  duration_s=info.duration_s, notes=notes)

    # -- extraction -----------------------------------------------------------------------------
    def stale(self, video_id: str) -> dict[str, str]:
        return stale_extractors(self.store.extraction_records(video_id), video_id, self.extractors)

    def extract(self, media: DecodedMedia, only: set[str] | None = None) -> dict[str, str]:
        """Run the stale extractors (or only these names) on decoded media; returns name -> outcome."""
        x = VideoExtraction(self, media, only)
        while jobs := x.next_jobs():
            for result in run_all(self.runner, jobs):
                x.handle(result)
        return x.outcome


class VideoExtraction:
    """One video's extraction, stage by stage: which jobs to submit next, and what came back.

    Results are written to the store as they arrive, so a crash half-way keeps what finished
    and a re-run only redoes the rest.
    """

    def __init__(self, indexer: Indexer, media: DecodedMedia, only: set[str] | None = None) -> None:
        self.indexer, self.media = indexer, media
        stale = indexer.stale(media.video_id)
        todo = set(stale) if only is None else set(stale) & only
        self.outcome: dict[str, str] = {e.name: "skipped (up to date)" for e in indexer.extractors if e.name not in todo}
        self.active = {e.group: e for e in indexer.extractors}
        self.by_name = {e.name: e for e in indexer.extractors}
        self.stages = [[e for e in st if e.name in todo] for st in stages(indexer.extractors)]
        self.stages = [st for st in self.stages if st]
        self.fresh: dict[str, ExtractorOutput] = {}
        self.waiting = 0

    @property
    def done(self) -> bool:
        return self.waiting == 0 and not self.stages

    def next_jobs(self) -> list[ExtractionJob]:
        """Jobs of the next stage (its inputs are complete), or ``[]`` when nothing is left."""
        if self.waiting or not self.stages:
            return []
        stage = self.stages.pop(0)
        jobs = []
        for ex in stage:
            upstream = {}
            for g in ex.requires:
                if g in self.fresh:
                    upstream[g] = self.fresh[g]
                elif g in self.active:
                    upstream[g] = stored_output(self.indexer.store, self.media.video_id, self.active[g])
            jobs.append(ExtractionJob(ex.name, self.media, upstream))
        self.waiting = len(jobs)
        return jobs

    def handle(self, result: ExtractionResult) -> None:
        """Write a finished job's columns (or record its failure)."""
        ix, media = self.indexer, self.media
        ex = self.by_name[result.extractor]
        self.waiting -= 1
        ix.extractor_seconds[ex.name] = ix.extractor_seconds.get(ex.name, 0.0) + result.seconds
        tag = input_tag(ex, self.active)
        if result.output is None:
            ix.store.record_extraction(media.video_id, ex.group, ex.name, ex.model_tag, tag, "failed",
                                       result.error, result.seconds)
            self.outcome[ex.name] = f"failed: {result.error}"
        else:
            n = write_output(ix.store, media, ex, result.output)
            self.fresh[ex.group] = result.output
            note = "; ".join(result.output.notes)
            status = "empty" if n == 0 and note else "ok"
            ix.store.record_extraction(media.video_id, ex.group, ex.name, ex.model_tag, tag, status, note,
                                       result.seconds, n, result.output.stats)
            self.outcome[ex.name] = "ok" + (f" ({note})" if note else "")
        ix.progress("extracted", {"video_id": media.video_id, "extractor": ex.name, "outcome": self.outcome[ex.name]})


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
) -> IndexSummary:
    """Index files and folders: windows for new/changed files, then every stale extractor column.

    Args:
        paths: files and folders (searched recursively).
        store: the target store.
        options: windowing options.
        profile: extractor profile (``lite`` or ``full``); ``extractors`` overrides it by names
            (an empty list builds windows only).
        runner: where extractors run (``InlineRunner`` by default; the CLI passes a Ray runner).
        progress: called with ``(event, data)`` for ``found``, ``file``, ``extracted``.
        max_in_flight: videos whose extraction may overlap (bounds memory: each holds its
            decoded keyframes and audio).
        prune: forget files recorded under the given folders that no longer exist (their video
            leaves the index unless another file holds the same content).

    Returns:
        An ``IndexSummary``; bad files are listed with their reason, never raised.
    """
    t0 = time.perf_counter()
    progress = progress or (lambda event, data: None)
    options = options or WindowingOptions()
    exs, missing = resolve_extractors(profile, extractors)
    indexer = Indexer(store, options, exs, runner, progress)
    summary = IndexSummary(db=store.uri, profile=profile, missing_extractors=missing)

    found = discover(list(paths))
    progress("found", {"n": len(found)})
    files, videos = store.file_records(), store.video_records()
    seen_ids: set[str] = set()
    in_flight: dict[str, tuple[VideoExtraction, FileOutcome]] = {}

    def finish(outcome: FileOutcome) -> None:
        progress("file", {"outcome": outcome})

    def start(media: DecodedMedia, outcome: FileOutcome) -> None:
        x = VideoExtraction(indexer, media)
        jobs = x.next_jobs()
        if not jobs:
            outcome.extractors = x.outcome
            finish(outcome)
            return
        for job in jobs:
            indexer.runner.submit(job)
        in_flight[media.video_id] = (x, outcome)

    def pump() -> None:
        result = indexer.runner.wait_one()
        x, outcome = in_flight[result.video_id]
        x.handle(result)
        for job in x.next_jobs():
            indexer.runner.submit(job)
        if x.done:
            outcome.extractors = x.outcome
            del in_flight[result.video_id]
            finish(outcome)

    for f in found:
        if f.error:
            summary.files.append(indexer.record_failure(f.path, None, f.error))
            finish(summary.files[-1])
            continue
        plan = plan_file(f.path, files, videos, options.tag)
        if plan.action == "index" and plan.video_id in seen_ids:
            plan.action = "duplicate"  # the same bytes twice in this run
        media = None
        if plan.action == "error":
            outcome = indexer.record_failure(plan.path, plan, plan.error)
        elif plan.action in ("unchanged", "duplicate"):
            if plan.action == "duplicate":
                indexer.add_source(plan)
            status = "failed" if plan.error else plan.action
            known = store.get_video(plan.video_id) or {}
            outcome = FileOutcome(str(plan.path), plan.video_id, status, error=plan.error,
                                  windows=known.get("n_windows") or 0, duration_s=known.get("duration_s") or 0.0)
            if status != "failed" and plan.video_id not in seen_ids:
                if indexer.stale(plan.video_id):
                    media, outcome = _redecode_for_extractors(indexer, plan, outcome)
                else:
                    outcome.extractors = {e.name: "skipped (up to date)" for e in indexer.extractors}
        else:
            media, outcome = indexer.build_windows(plan)
            if media is not None:
                summary.media_seconds += media.info.duration_s
        seen_ids.add(plan.video_id)
        summary.files.append(outcome)
        if media is not None:
            start(media, outcome)
        else:
            finish(outcome)
        # Keep a few videos in flight: models work on one while the next is decoded and written.
        while len(in_flight) >= max_in_flight:
            pump()
    while in_flight:
        pump()
    folders = [Path(p) for p in paths if Path(p).is_dir()]
    if prune and folders:
        removed = indexer.prune(folders, {str(f.path) for f in found})
        summary.files.extend(removed)
        for outcome in removed:
            progress("removed", {"outcome": outcome})
    if any(f.status in ("indexed", "removed") or any(v.startswith("ok") for v in f.extractors.values())
           for f in summary.files):
        store.refresh_search_index()  # so the first search does not pay for it
        store.optimize()  # many small upserts leave many small fragments and versions
    summary.extractor_seconds = indexer.extractor_seconds
    summary.seconds = time.perf_counter() - t0
    return summary


def _redecode_for_extractors(indexer: Indexer, plan: FilePlan, outcome: FileOutcome):
    """Known windows but stale extractor columns: decode once more to feed the extractors."""
    try:
        media = decode(plan.path, plan.video_id, indexer.options)
    except MediaError as exc:
        outcome.notes.append(f"could not decode to refresh extractors: {exc}")
        return None, outcome
    outcome.windows = len(media.windows)
    outcome.duration_s = media.info.duration_s
    return media, outcome
