"""The one place that records which files hold which video, and why a file failed.

The ``files`` table maps each seen path to its size, mtime and video id; the ``videos`` table keeps
every path a video's bytes were found under (``sources``) and the one its windows were decoded from
(``source``). A path that now holds other bytes is detached from its old video, and a video no file
holds any more leaves the index with all its rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from vqa_pipeline.indexing.plan import FilePlan, error_video_id
from vqa_pipeline.indexing.summary import FileOutcome
from vqa_pipeline.media.types import MediaInfo
from vqa_pipeline.store import Store
from vqa_pipeline.store.tables import now_iso

FLUSH_EVERY = 1000
"""Batched failure rows are written at least this often (bounds what a crash can lose: the next
run simply records those files again)."""


def media_facts(info: MediaInfo) -> dict:
    """The ``videos`` columns that come from probing or decoding a file."""
    return {
        "duration_s": info.duration_s,
        "has_video": info.has_video,
        "has_audio": info.has_audio,
        "width": info.width,
        "height": info.height,
        "fps": info.fps,
    }


class Sources:
    """Record keeping for the ``files`` and ``videos`` tables of one store.

    Args:
        store: the store.
        windowing: the run's ``WindowingOptions.tag`` (recorded with failures).
        batch_failures: hold failure rows and write them in batches (:meth:`flush` writes them;
            every other method flushes first, so reads and writes keep their order).
    """

    def __init__(self, store: Store, windowing: str, batch_failures: bool = False) -> None:
        self.store = store
        self.windowing = windowing
        self.batch_failures = batch_failures
        self._failed_videos: dict[str, dict] = {}
        self._failed_files: dict[str, dict] = {}
        self.failed_now: dict[str, str] = {}  # video id -> why, for the failures recorded by this object
        self._known: dict[str, dict] | None = None
        self._touched: set[str] = set()

    def remember(self, videos: dict[str, dict]) -> None:
        """``Store.video_records()`` as the run starts: read instead of querying LanceDB once per
        failed file, for every video this object has not written since."""
        self._known = videos

    def _video(self, video_id: str) -> dict | None:
        if video_id in self._failed_videos:
            return self._failed_videos[video_id]
        if self._known is not None and video_id not in self._touched:
            return self._known.get(video_id)
        return self.store.get_video(video_id)

    def flush(self) -> None:
        """Write the failure rows held back (one commit per table)."""
        videos, files = list(self._failed_videos.values()), list(self._failed_files.values())
        self._failed_videos, self._failed_files = {}, {}
        self.store.upsert_videos(videos)
        self.store.upsert_files(files)

    def file_row(self, plan: FilePlan, video_id: str, status: str, error: str = "") -> dict:
        return {
            "path": str(plan.path),
            "size_bytes": plan.size_bytes,
            "mtime_ns": plan.mtime_ns,
            "video_id": video_id,
            "status": status,
            "error": error,
            "seen_at": now_iso(),
        }

    def _names(self, video_id: str, path: Path | str) -> list[str]:
        old = self._video(video_id)
        return sorted(set((old or {}).get("sources") or []) | {str(path)})

    def record_failure(self, path: Path, plan: FilePlan | None, error: str) -> FileOutcome:
        """A file that cannot be indexed: its video row says failed with the one-line reason."""
        vid = plan.video_id if plan and plan.video_id else error_video_id(path)
        sources = self._names(vid, path)
        self._failed_videos[vid] = {
            "video_id": vid,
            "content_hash": plan.content_hash if plan else "",
            "source": sources[0],
            "sources": sources,
            "status": "failed",
            "error": error,
            "windowing": self.windowing,
            "size_bytes": plan.size_bytes if plan else 0,
            "indexed_at": now_iso(),
        }
        self.failed_now[vid] = error
        self._touched.add(vid)
        if plan is not None and plan.size_bytes is not None:
            self._failed_files[str(plan.path)] = self.file_row(plan, vid, "failed", error)
        if not self.batch_failures or len(self._failed_videos) + len(self._failed_files) >= FLUSH_EVERY:
            self.flush()
        return FileOutcome(str(path), vid, "failed", error=error)

    def detach_old(self, plan: FilePlan) -> None:
        """The path held other content before: drop it from that video, and the video if orphaned."""
        for old_id in plan.replaces:
            self.drop_source(old_id, str(plan.path))

    def drop_source(self, video_id: str, path: str) -> None:
        """``path`` no longer holds this video: forget it there, and the video (rows and all) if no
        other file holds it."""
        self.flush()
        self._touched.add(video_id)
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
        self.flush()
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
        """A known video found under one more name (a duplicate, or an unchanged file re-seen)."""
        self.flush()
        self._touched.add(plan.video_id)
        video = self.store.get_video(plan.video_id)
        if video is None:
            return
        sources = sorted(set(video.get("sources") or []) | {str(plan.path)})
        if sources != (video.get("sources") or []):
            video.update(sources=sources, source=video.get("source") or sources[0])
            self.store.upsert_video(video)
        self.detach_old(plan)
        self.store.upsert_files([self.file_row(plan, plan.video_id, video["status"], video.get("error") or "")])

    def record_probed(self, plan: FilePlan, info: MediaInfo) -> FileOutcome:
        """A new or changed file probed (status ``probed``) before it is decoded."""
        self.flush()
        self._touched.add(plan.video_id)
        old = self.store.get_video(plan.video_id) or {}
        self.store.upsert_video({
            **{k: v for k, v in old.items() if k != "_rowid"},
            "video_id": plan.video_id,
            "content_hash": plan.content_hash,
            "source": old.get("source") or str(plan.path),
            "sources": sorted(set(old.get("sources") or []) | {str(plan.path)}),
            **media_facts(info),
            "windowing": old.get("windowing") or "",
            "status": old.get("status") if old.get("status") == "indexed" else "probed",
            "error": "",
            "size_bytes": plan.size_bytes,
        })
        return FileOutcome(str(plan.path), plan.video_id, "probed", duration_s=info.duration_s,
                           notes=[] if info.has_audio else ["no audio track"])

    def record_indexed(self, plan: FilePlan, info: MediaInfo, n_windows: int, decode_s: float) -> None:
        """The file's windows were written: its video is indexed, decoded from this path."""
        self.flush()
        self._touched.add(plan.video_id)
        self.store.upsert_video({
            "video_id": plan.video_id,
            "content_hash": plan.content_hash,
            "source": str(plan.path),  # the file the window rows were decoded from
            "sources": self._names(plan.video_id, plan.path),
            **media_facts(info),
            "rotation_deg": info.rotation_deg,
            "n_windows": n_windows,
            "windowing": self.windowing,
            "status": "indexed",
            "error": "",
            "decode_s": round(decode_s, 4),
            "size_bytes": plan.size_bytes,
            "indexed_at": now_iso(),
        })
        self.detach_old(plan)
        self.store.upsert_files([self.file_row(plan, plan.video_id, "indexed")])
