"""The thumbnails extractor in an index: its column, its staleness, and where the pictures never go."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

from vqa_pipeline.extractors.registry import resolve_extractors
from vqa_pipeline.indexing.extract import input_tag, stale_extractors
from vqa_pipeline.indexing.pipeline import index_paths
from vqa_pipeline.query import thumbnail
from vqa_pipeline.store import ExtractionRecord
from vqa_pipeline.store.evidence import lines_for_video
from vqa_pipeline.store.search import fetch_span, fetch_windows, open_windows_table
from vqa_pipeline_tests.media_factory import make_clip, make_wav

SCENES = [(0.0, (220, 40, 40)), (2.0, (40, 40, 220)), (4.0, (240, 240, 240))]


def mean_rgb(jpeg: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(jpeg)) as im:
        assert im.format == "JPEG" and im.width == 160
        return np.asarray(im.convert("RGB"), dtype=np.float64).reshape(-1, 3).mean(axis=0)


def test_an_existing_index_gets_thumbnails_on_the_next_run_and_nothing_else_reruns(store, db_dir, tmp_path):
    clip = make_clip(tmp_path / "scenes.mp4", duration_s=6.0, scenes=SCENES)
    first = index_paths([clip], store, extractors=["visual-stats", "yamnet"])
    vid = first.files[0].video_id
    assert "thumb_jpeg" not in store.windows.schema.names
    assert thumbnail(f"{vid}-00000", db_dir) is None  # an index without the column yet

    again = index_paths([clip], store, extractors=["visual-stats", "yamnet", "thumbnails"])
    ran = {k: v.split(" ")[0] for k, v in again.files[0].extractors.items()}
    assert ran == {"visual-stats": "skipped", "yamnet": "skipped", "thumbnails": "ok"}
    rows = store.windows_for(vid, ["window_id", "thumb_jpeg", "thumb_model", "evidence_text"])
    assert len(rows) == 3 and {r["thumb_model"] for r in rows} == {"jpeg-thumb-160q70@1"}
    for row, (_, colour) in zip(rows, SCENES):
        assert 300 < len(row["thumb_jpeg"]) < 8000
        assert np.abs(mean_rgb(row["thumb_jpeg"]) - colour).max() < 15
        assert thumbnail(row["window_id"], db_dir) == row["thumb_jpeg"]
        assert "thumb" not in (row["evidence_text"] or "")
    assert thumbnail("no-such-window", db_dir) is None

    third = index_paths([clip], store, extractors=["visual-stats", "yamnet", "thumbnails"])
    assert set(third.files[0].extractors.values()) == {"skipped (up to date)"}

    # The pictures stay out of evidence and of the rows that searches and packs read.
    assert {ln["kind"] for ln in lines_for_video(store, vid)} == {"visual", "audio"}
    table = open_windows_table(db_dir)
    assert not any("thumb" in c for r in fetch_windows(table, [r["window_id"] for r in rows]).values() for c in r)
    assert not any("thumb" in c for r in fetch_span(table, vid, 0.0, 6.0) for c in r)


def test_audio_files_store_no_picture(store, db_dir, tmp_path):
    wav = make_wav(tmp_path / "tone.wav", duration_s=3.0)
    s = index_paths([wav], store, extractors=["thumbnails"])
    assert s.files[0].extractors["thumbnails"].startswith("ok") and "no video track" in s.files[0].extractors["thumbnails"]
    vid = s.files[0].video_id
    assert store.extraction_records(vid)[(vid, "thumb")].status == "empty"
    assert [r["thumb_jpeg"] for r in store.windows_for(vid, ["thumb_jpeg"])] == [None, None]


def test_a_lite_index_made_before_thumbnails_runs_only_them():
    """Records as a lite index written before thumbnails existed leave them: only they are stale."""
    lite, _ = resolve_extractors("lite")
    active = {e.group: e for e in lite}
    records = {("v", e.group): ExtractionRecord("v", e.group, e.name, e.model_tag, input_tag(e, active), "ok", "", 1.0)
               for e in lite if e.name != "thumbnails"}
    assert stale_extractors(records, "v", lite) == {"thumbnails": "new"}
