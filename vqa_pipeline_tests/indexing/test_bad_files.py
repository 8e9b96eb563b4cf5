"""Thousands of bad files (issue 15, point 5): failures are recorded in a few batched commits, and a
re-run in which every file failed is settled by the manifest, without LanceDB."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import vqa_pipeline
from vqa_pipeline.indexing import manifest
from vqa_pipeline.indexing.discover import discover
from vqa_pipeline.indexing.pipeline import index_paths
from vqa_pipeline.media.types import WindowingOptions
from vqa_pipeline.store.fingerprint import db_fingerprint

ROOT = Path(vqa_pipeline.__file__).resolve().parents[1]
N = 50


def bad_files(folder: Path, n: int = N) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        (folder / f"clip{i:03d}.mp4").write_text(f"not a video, number {i}\n")


def versions(db: Path, table: str) -> int:
    return len(list((db / f"{table}.lance" / "_versions").glob("*.manifest")))


def test_bad_files_are_recorded_in_a_few_commits(store, tmp_path):
    folder = tmp_path / "bad"
    bad_files(folder)
    (folder / "copy-a.mp4").write_text("the same bad bytes\n")
    (folder / "copy-b.mp4").write_text("the same bad bytes\n")
    summary = index_paths([folder], store, extractors=[])
    assert summary.count("failed") == N + 2 and summary.count("indexed") == 0
    assert all(f.error.startswith("not a readable media file") for f in summary.failed)
    db = Path(store.uri)
    # one commit per table (plus its creation), not one or two per file
    assert versions(db, "videos") <= 3 and versions(db, "files") <= 3
    videos = store.video_records()
    files = store.file_records()
    assert len(files) == N + 2 and {r["status"] for r in files.values()} == {"failed"}
    # the same bad bytes under two names: one video row holding both names
    assert len(videos) == N + 1
    copy = videos[files[str(folder / "copy-a.mp4")]["video_id"]]
    assert copy["status"] == "failed" and copy["sources"] == [str(folder / "copy-a.mp4"), str(folder / "copy-b.mp4")]
    assert files[str(folder / "copy-b.mp4")]["video_id"] == copy["video_id"]


def vqa_index(*args) -> subprocess.CompletedProcess:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "vqa_pipeline.cli", "index", *map(str, args)],
                          capture_output=True, text=True, env=env, timeout=600)


def test_a_rerun_where_every_file_failed_takes_the_fast_path(tmp_path):
    folder, db = tmp_path / "bad", tmp_path / "db"
    bad_files(folder)
    (folder / "gone.mp4").symlink_to(tmp_path / "missing.mp4")
    if hasattr(os, "mkfifo"):
        os.mkfifo(folder / "pipe.mp4")
    first = vqa_index(folder, "--db", db, "--windows-only", "--json")
    assert first.returncode == 1 and first.stderr.strip().splitlines()[-1] == "vqa index: no file could be indexed"
    before = json.loads(first.stdout)
    assert before["counts"]["failed"] == len(before["files"]) == N + 1 + hasattr(os, "mkfifo")

    # The manifest settles the next run: same files, same settings, untouched tables.
    settings = {"windowing": WindowingOptions().tag, "extractors": {}}
    noop = manifest.try_noop(db, settings, discover([folder]), "lite")
    assert noop is not None
    assert {f.path: (f.status, f.error) for f in noop.files} == {
        f["path"]: ("failed", f["error"]) for f in before["files"]}

    stamp = db_fingerprint(db)
    again = vqa_index(folder, "--db", db, "--windows-only", "--json")
    assert again.returncode == 1
    after = json.loads(again.stdout)
    assert db_fingerprint(db) == stamp  # nothing was written
    assert [(f["path"], f["status"], f["error"]) for f in after["files"]] == [
        (f["path"], f["status"], f["error"]) for f in before["files"]]

    # A changed file takes the full path again.
    (folder / "clip000.mp4").write_text("other bad bytes\n")
    assert manifest.try_noop(db, settings, discover([folder]), "lite") is None


def test_failures_held_for_a_batch_are_written_when_the_run_stops_half_way(store, tmp_path, monkeypatch):
    import pytest

    from vqa_pipeline.indexing import pipeline
    from vqa_pipeline_tests.media_factory import make_clip

    folder = tmp_path / "mixed"
    bad_files(folder, 5)
    make_clip(folder / "zz-good.mp4", duration_s=3.0)  # found last: decoded after the bad files failed

    real_decode = pipeline.decode_segments

    def crash(path, *args, **kwargs):
        if Path(path).name == "zz-good.mp4":
            raise RuntimeError("decoder crashed")
        return real_decode(path, *args, **kwargs)  # the bad files fail as usual

    monkeypatch.setattr(pipeline, "decode_segments", crash)  # a crash half-way (Ctrl-C, a decoder bug)
    with pytest.raises(RuntimeError, match="decoder crashed"):
        index_paths([folder], store, extractors=[])
    files = store.file_records()
    assert sorted(Path(p).name for p, r in files.items() if r["status"] == "failed") == [
        f"clip{i:03d}.mp4" for i in range(5)]
