"""The no-op fast path: a re-run with nothing to do is settled from the manifest, and only then."""

import time

from vqa_pipeline.indexing import manifest
from vqa_pipeline.indexing.discover import discover
from vqa_pipeline.indexing.pipeline import index_paths
from vqa_pipeline_tests.media_factory import make_clip

SETTINGS = {"windowing": "w2s2k2", "extractors": {"visual-stats": "visual-stats@1"}}


def indexed(store, folder):
    s = index_paths([folder], store, extractors=["visual-stats"])
    manifest.save(store.uri, SETTINGS, s, store.file_records())
    return s


def test_unchanged_corpus_is_settled_without_the_database(store, tmp_path):
    make_clip(tmp_path / "a.mp4", duration_s=4.0)
    (tmp_path / "bad.mp4").write_text("not media")
    first = indexed(store, tmp_path)
    again = manifest.try_noop(store.uri, SETTINGS, discover([tmp_path]), "lite")
    assert again is not None
    got = {f.path: (f.status, f.windows, f.error) for f in again.files}
    want = {f.path: ("unchanged" if f.status == "indexed" else f.status, f.windows, f.error) for f in first.files}
    assert got == want


def test_any_change_takes_the_full_path(store, tmp_path):
    clip = make_clip(tmp_path / "a.mp4", duration_s=4.0)
    indexed(store, tmp_path)
    found = discover([tmp_path])
    assert manifest.try_noop(store.uri, {**SETTINGS, "windowing": "w4s4k2"}, found, "lite") is None  # new settings
    assert manifest.try_noop(store.uri, {**SETTINGS, "extractors": {"visual-stats": "visual-stats@2"}}, found, "lite") is None
    make_clip(tmp_path / "b.mp4", duration_s=2.0)
    assert manifest.try_noop(store.uri, SETTINGS, discover([tmp_path]), "lite") is None  # a new file
    (tmp_path / "b.mp4").unlink()
    assert manifest.try_noop(store.uri, SETTINGS, discover([tmp_path]), "lite") is not None
    time.sleep(0.01)
    make_clip(clip, duration_s=6.0)  # the file was replaced
    assert manifest.try_noop(store.uri, SETTINGS, discover([tmp_path]), "lite") is None


def test_a_write_by_another_process_invalidates_it(store, tmp_path):
    make_clip(tmp_path / "a.mp4", duration_s=4.0)
    s = indexed(store, tmp_path)
    assert manifest.try_noop(store.uri, SETTINGS, discover([tmp_path]), "lite") is not None
    time.sleep(0.01)
    store.record_extraction(s.files[0].video_id, "visual", "visual-stats", "visual-stats@1", "", "failed", "boom")
    assert manifest.try_noop(store.uri, SETTINGS, discover([tmp_path]), "lite") is None


def test_a_run_with_failed_extractors_leaves_no_manifest(store, tmp_path, monkeypatch):
    from vqa_pipeline.extractors.visual import VisualStats

    make_clip(tmp_path / "a.mp4", duration_s=4.0)

    def boom(self, media, upstream):
        raise RuntimeError("synthetic")

    monkeypatch.setattr(VisualStats, "extract", boom)
    indexed(store, tmp_path)
    assert manifest.try_noop(store.uri, SETTINGS, discover([tmp_path]), "lite") is None
