"""Crashes half-way and files that change under the indexer lose nothing and duplicate nothing."""

import pytest

import vqa_pipeline.indexing.pipeline as pipeline
from vqa_pipeline.indexing.pipeline import index_paths
from vqa_pipeline_tests.media_factory import make_clip


def test_rerun_after_a_crash_resumes_without_duplicate_rows(store, tmp_path):
    for i in range(3):
        make_clip(tmp_path / f"c{i}.mp4", duration_s=4.0, tone_hz=300 + 100 * i)
    names = ["visual-stats", "yamnet"]

    def crash(event, data):
        if event == "extracted":
            raise KeyboardInterrupt  # the user pressed Ctrl-C, or the machine went down

    with pytest.raises(KeyboardInterrupt):
        index_paths([tmp_path], store, extractors=names, progress=crash)
    s = index_paths([tmp_path], store, extractors=names)
    results = [v.split(" ")[0] for f in s.files for v in f.extractors.values()]
    assert len(results) == 6 and set(results) <= {"ok", "skipped"}
    assert results.count("ok") == 5  # only what the crash left undone runs again
    rows = store.windows.to_arrow().column("window_id").to_pylist()
    assert len(rows) == len(set(rows)) == 6
    assert index_paths([tmp_path], store, extractors=names).count("unchanged") == 3


def test_a_file_replaced_while_it_is_decoded_is_not_half_indexed(store, tmp_path, monkeypatch):
    clip = make_clip(tmp_path / "c.mp4", duration_s=4.0)
    real_decode = pipeline.decode_segments

    def decode_then_replace(path, video_id, options):
        segments = list(real_decode(path, video_id, options))
        make_clip(clip, duration_s=6.0, tone_hz=900)  # another program rewrites the file meanwhile
        yield from segments

    monkeypatch.setattr(pipeline, "decode_segments", decode_then_replace)
    f = index_paths([clip], store, extractors=[]).files[0]
    assert f.status == "failed" and "changed while it was being indexed" in f.error
    assert store.count_windows() == 0
    monkeypatch.undo()
    f = index_paths([clip], store, extractors=[]).files[0]
    assert f.status == "indexed" and f.windows == 3 and store.count_windows() == 3
