"""Indexing runs over messy folders (windows only; extractors are tested on their own)."""

import os
import shutil
import time

import pytest

from vqa_pipeline.indexing.pipeline import index_paths
from vqa_pipeline_tests.media_factory import make_clip, make_wav


def run(store, *paths, **kw):
    return index_paths([str(p) for p in paths], store, extractors=[], **kw)


def by_name(summary):
    return {os.path.basename(f.path): f for f in summary.files}


@pytest.fixture
def messy(tmp_path):
    d = tmp_path / "corpus"
    (d / "sub dir ünï").mkdir(parents=True)
    make_clip(d / "good.mp4", duration_s=4.0)
    make_clip(d / "sub dir ünï" / "vidéo à moi.mp4", duration_s=3.0, tone_hz=660)
    make_clip(d / "silent.mp4", duration_s=2.0, audio=False, tone_hz=550)
    make_clip(d / "short.mp4", duration_s=0.3, audio=False, scenes=[(0.0, (9, 9, 9))])
    make_wav(d / "voice.wav", duration_s=3.0)
    (d / "empty.mp4").write_bytes(b"")
    (d / "notes.mp4").write_text("not a video at all\n" * 10)
    (d / "corrupt.mov").write_bytes(os.urandom(4096))
    full = (d / "good.mp4").read_bytes()
    (d / "truncated.mp4").write_bytes(full[: len(full) // 3])
    shutil.copy(d / "good.mp4", d / "copy of good.mp4")
    os.symlink(d, d / "sub dir ünï" / "loop")  # a symlink loop back to the top
    (d / "readme.txt").write_text("ignored: not media")
    return d


def test_messy_folder_indexes_good_files_and_reports_bad_ones(store, messy):
    s = run(store, messy)
    f = by_name(s)
    assert set(f) == {
        "good.mp4", "vidéo à moi.mp4", "silent.mp4", "short.mp4", "voice.wav", "empty.mp4",
        "notes.mp4", "corrupt.mov", "truncated.mp4", "copy of good.mp4",
    }
    # The same bytes under two names: indexed once (the first name in order), both names recorded.
    assert f["copy of good.mp4"].status == "indexed" and f["copy of good.mp4"].windows == 2
    assert f["good.mp4"].status == "duplicate"
    assert f["copy of good.mp4"].video_id == f["good.mp4"].video_id
    assert f["vidéo à moi.mp4"].status == "indexed"
    assert f["silent.mp4"].status == "indexed" and "no audio track" in f["silent.mp4"].notes
    assert f["short.mp4"].status == "indexed" and f["short.mp4"].windows == 1
    assert f["voice.wav"].status == "indexed" and "audio only" in f["voice.wav"].notes
    assert f["empty.mp4"].error == "empty file (0 bytes)"
    assert f["notes.mp4"].error.startswith("not a readable media file")
    assert f["corrupt.mov"].error.startswith("not a readable media file")
    assert f["truncated.mp4"].status == "failed" and f["truncated.mp4"].error
    video = store.get_video(f["good.mp4"].video_id)
    assert sorted(os.path.basename(p) for p in video["sources"]) == ["copy of good.mp4", "good.mp4"]
    assert store.count_windows(f["good.mp4"].video_id) == 2
    # Every failure is a one-line reason, recorded in the videos table too.
    for name in ("empty.mp4", "notes.mp4", "corrupt.mov", "truncated.mp4"):
        assert "\n" not in f[name].error and "Traceback" not in f[name].error
        row = store.get_video(f[name].video_id)
        assert row["status"] == "failed" and row["error"] == f[name].error
    # Windows carry absolute, unicode-safe source paths.
    rows = store.windows_for(f["vidéo à moi.mp4"].video_id)
    assert rows[0]["source"] == str(messy / "sub dir ünï" / "vidéo à moi.mp4")


def test_rerun_skips_unchanged_files_fast(store, messy):
    run(store, messy)
    n = store.count_windows()
    t0 = time.perf_counter()
    s = run(store, messy)
    elapsed = time.perf_counter() - t0
    f = by_name(s)
    assert f["good.mp4"].status == "unchanged" and f["voice.wav"].status == "unchanged"
    assert f["notes.mp4"].status == "failed"  # still reported, not retried
    assert store.count_windows() == n  # no duplicate rows
    assert elapsed / len(s.files) < 0.5


def test_replaced_file_is_reindexed_and_old_rows_removed(store, tmp_path):
    p = make_clip(tmp_path / "clip.mp4", duration_s=4.0)
    old = run(store, p).files[0]
    time.sleep(0.01)
    make_clip(p, duration_s=6.0, tone_hz=880)
    new = run(store, p).files[0]
    assert new.status == "indexed" and new.video_id != old.video_id and new.windows == 3
    assert store.count_windows(old.video_id) == 0 and store.get_video(old.video_id) is None
    assert store.count_windows() == 3


def test_changed_windowing_rewindows(store, tmp_path):
    from vqa_pipeline.media.types import WindowingOptions

    p = make_clip(tmp_path / "clip.mp4", duration_s=8.0, audio=False)
    run(store, p)
    s = run(store, p, options=WindowingOptions(length_s=4.0, stride_s=4.0))
    assert s.files[0].status == "indexed" and store.count_windows() == 2


def test_unreadable_file_is_reported(store, tmp_path):
    p = make_clip(tmp_path / "secret.mp4", duration_s=2.0)
    if os.geteuid() == 0:
        pytest.skip("root reads any file; test_cli covers this without the override capabilities")
    p.chmod(0)
    f = run(store, p).files[0]
    assert f.status == "failed" and f.error == "permission denied"


def test_files_gone_from_an_indexed_folder_leave_the_index(store, tmp_path):
    a = make_clip(tmp_path / "a.mp4", duration_s=4.0)
    b = make_clip(tmp_path / "b.mp4", duration_s=2.0, tone_hz=700)
    twin = tmp_path / "a twin.mp4"
    shutil.copy(a, twin)
    first = by_name(run(store, tmp_path))
    vid_a, vid_b = first["a.mp4"].video_id, first["b.mp4"].video_id
    b.unlink()
    twin.unlink()
    s = run(store, tmp_path)
    removed = {os.path.basename(f.path) for f in s.files if f.status == "removed"}
    assert removed == {"b.mp4", "a twin.mp4"}
    # b's content is gone from every table; a stays, now known only under its remaining name.
    assert store.get_video(vid_b) is None and store.count_windows(vid_b) == 0
    assert store.get_video(vid_a)["sources"] == [str(a)]
    assert {r["source"] for r in store.windows_for(vid_a, ["source"])} == {str(a)}
    assert str(b) not in store.file_records()
    # Naming a single file never prunes its folder.
    run(store, a)
    assert store.count_windows(vid_a) == 2
