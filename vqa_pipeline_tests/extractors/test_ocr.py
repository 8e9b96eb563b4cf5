"""OCR of PIL-drawn text on JPEG keyframes."""

from __future__ import annotations

import numpy as np

from vqa_pipeline.extractors.ocr import (
    RapidOcr,
    changed_box,
    frame_change,
    frame_signature,
    grow_over,
    jpeg_signature,
    normalize_text,
    same_text,
)
from vqa_pipeline_tests.extractors.conftest import TEXT, TEXT_S, render_frame, window_of


def test_text_is_read_and_merged_into_one_line(lite_outputs, media):
    out = lite_outputs["ocr"]
    first, last = window_of(media, TEXT_S[0]), window_of(media, TEXT_S[1] - 0.01)
    for i in range(len(media.windows)):
        texts = [ln.text for ln in out.lines[i]]
        if first <= i <= last:
            assert texts == [TEXT], (i, texts)
            ln = out.lines[i][0]
            assert (ln.start_s, ln.end_s, ln.kind) == (media.windows[first].start_s, media.windows[last].end_s, "ocr")
            assert ln is out.lines[first][0]  # the same merged line in each window
            boxes = out.columns["ocr_boxes"][i]
            assert [b["text"] for b in boxes] == [TEXT] and boxes[0]["score"] >= 0.5
            x0, y0, x1, y1 = boxes[0]["box"]
            assert 0 <= x0 < x1 <= 1 and 0.3 < y0 < y1 < 0.7
        else:
            assert texts == [], (i, texts)
            assert out.columns["ocr_boxes"][i] == []
    assert out.stats["text_lines"] == 1


def test_unchanged_frames_are_skipped(lite_outputs, media):
    stats = lite_outputs["ocr"].stats
    assert stats["frames_ocr"] + stats["frames_region"] + stats["frames_skipped"] == len(media.keyframes)
    assert stats["frames_skipped"] >= len(media.keyframes) // 2
    # without skipping, the same evidence at a higher cost
    full = RapidOcr(skip_threshold=-1.0, region_max=0).extract(media, {})
    assert full.stats["frames_ocr"] == len(media.keyframes) and full.stats["frames_skipped"] == 0
    assert [[ln.text for ln in w] for w in full.lines] == [[ln.text for ln in w] for w in lite_outputs["ocr"].lines]


def test_a_small_change_is_read_as_a_region_with_the_same_evidence(media):
    # The fixture's square covers 10 % of the frame: with regions up to half the frame, its keyframes
    # cost a crop (no text in it), and "PLATFORM 9" appearing is found in its region, then read whole.
    regions = RapidOcr(region_max=0.5).extract(media, {})
    whole = RapidOcr(region_max=0).extract(media, {})
    assert regions.stats["frames_region"] >= 1 and whole.stats["frames_region"] == 0
    assert regions.stats["frames_ocr"] < whole.stats["frames_ocr"]
    assert [[ln.text for ln in w] for w in regions.lines] == [[ln.text for ln in w] for w in whole.lines]
    texts = [[b["text"] for b in w or []] for w in regions.columns["ocr_boxes"]]
    assert texts == [[b["text"] for b in w or []] for w in whole.columns["ocr_boxes"]]


def test_change_regions():
    a = np.zeros((90, 160), np.float32)
    b = a.copy()
    assert changed_box(a, b) is None
    b[40:50, 100:120] = 255.0
    assert changed_box(a, b, margin=0) == (100 / 160, 40 / 90, 120 / 160, 50 / 90)
    # a text box the region touches is taken in whole; one it does not touch is left out
    grown = grow_over((0.5, 0.5, 0.6, 0.6), [(0.55, 0.55, 0.9, 0.58), (0.0, 0.0, 0.1, 0.1)])
    assert grown == (0.5, 0.5, 0.9, 0.6)


def test_jpeg_signature_matches_the_full_decode(media):
    for kf in media.keyframes:
        full, small = frame_signature(kf.rgb()), jpeg_signature(kf.jpeg)
        assert full.shape == small.shape
        assert frame_change(full, small) < 0.002  # no keyframe looks changed against itself


def test_frame_change_sees_text_appear():
    a = frame_signature(np.asarray(render_frame(1.0)))
    b = frame_signature(np.asarray(render_frame(3.0)))
    assert frame_change(a, a) == 0.0
    assert frame_change(a, b) > 0.01


def test_text_normalization():
    assert normalize_text("Platform 9!") == normalize_text("PLATFORM  9") == "platform9"
    assert same_text("departures1045", "departures1O45")
    assert not same_text("exit", "exi7")


def test_no_video_blank_and_short(audio_only_media, blank_media, tiny_media):
    ex = RapidOcr()
    out = ex.extract(audio_only_media, {})
    assert out.notes == ["no video track"] and all(lines == [] for lines in out.lines)
    assert out.columns == {"ocr_boxes": [None] * len(audio_only_media.windows)}
    for m in (blank_media, tiny_media):
        out = ex.extract(m, {})
        assert len(out.lines) == len(m.windows)
        assert all(lines == [] for lines in out.lines)


def test_short_clip_with_text(tiny_loud_media):
    out = RapidOcr().extract(tiny_loud_media, {})
    assert [[(ln.start_s, ln.end_s, ln.text) for ln in w] for w in out.lines] == [[(0.0, 0.3, TEXT)]]
    assert out.stats["frames_ocr"] == 1
