"""Evidence units: whole spoken sentences across window edges, on-screen layout blocks in reading
order, on the real lite extractors' outputs."""

from __future__ import annotations

import pytest
from PIL import Image

from vqa_pipeline.corpus import synth
from vqa_pipeline.extractors.base import ExtractorOutput
from vqa_pipeline.extractors.units import (
    MAX_BLOCK_LINES,
    MAX_SENTENCE_S,
    Box,
    EvidenceUnits,
    Unit,
    Word,
    layout_blocks,
    screen_units,
    sentences,
)
from vqa_pipeline.media.decode import HALO_S
from vqa_pipeline.media.types import DecodedMedia, MediaInfo, WindowingOptions
from vqa_pipeline_tests.extractors.conftest import (
    FRAME_H,
    FRAME_W,
    SPEECH_AT_S,
    TEXT,
    make_media,
    make_windows,
    needs_espeak,
    window_of,
)


def test_a_sentence_that_crosses_a_window_edge_is_one_unit():
    words = [Word(w, a, b) for w, a, b in [
        ("Your", 1.0, 1.2), ("account", 1.25, 1.6), ("number", 1.65, 1.9), ("is", 1.95, 2.05), ("5517,", 2.1, 2.6),
        ("and", 2.7, 2.8), ("your", 2.85, 3.0), ("PIN", 3.0, 3.2), ("is", 3.25, 3.4), ("2040.", 3.5, 3.9),
        ("Goodbye", 6.0, 6.4)]]
    units = sentences(words + words[:3])  # words listed in two overlapping windows count once
    assert [u.text for u in units] == ["Your account number is 5517, and your PIN is 2040.", "Goodbye"]
    assert (units[0].start_s, units[0].end_s) == (1.0, 3.9)


def test_a_pause_ends_a_sentence_and_run_on_speech_is_cut_at_its_longest_pause():
    words = [Word("first", 0.0, 0.5), Word("part", 0.6, 1.0), Word("second", 2.5, 3.0), Word("part", 3.1, 3.5)]
    assert [u.text for u in sentences(words)] == ["first part", "second part"]
    run_on = [Word(f"w{i}", i * 0.5, i * 0.5 + 0.4) for i in range(200)]  # 100 s, no punctuation, no pause
    run_on[80] = Word("w80,", 40.0, 40.4)
    units = sentences(run_on, max_s=30.0)
    assert all(u.end_s - u.start_s <= 30.0 for u in units) and len(units) >= 4
    assert " ".join(u.text for u in units) == " ".join(w.text for w in run_on)


def test_abbreviations_do_not_end_a_sentence():
    words = [Word("Dr.", 0.0, 0.3), Word("Lee", 0.35, 0.6), Word("is", 0.65, 0.8), Word("here.", 0.85, 1.2)]
    assert [u.text for u in sentences(words)] == ["Dr. Lee is here."]


def test_credits_card_label_and_name_form_one_block():
    card = [Box("EDITOR", 0.44, 0.30, 0.56, 0.34), Box("Ana Lima", 0.38, 0.36, 0.62, 0.43),
            Box("www.example.org", 0.40, 0.86, 0.60, 0.89)]
    assert layout_blocks(card) == [["EDITOR", "Ana Lima"], ["www.example.org"]]


def test_slide_columns_keep_each_heading_with_its_value():
    slide = [Box("Q3 RESULTS", 0.30, 0.05, 0.70, 0.12), Box("REVENUE", 0.10, 0.30, 0.30, 0.35),
             Box("4.2 million", 0.10, 0.37, 0.35, 0.42), Box("COSTS", 0.60, 0.30, 0.75, 0.35),
             Box("3.1 million", 0.60, 0.37, 0.85, 0.42)]
    assert layout_blocks(slide) == [["Q3 RESULTS"], ["REVENUE", "4.2 million"], ["COSTS", "3.1 million"]]


def test_a_page_of_code_is_cut_into_quotable_blocks_verbatim():
    lines = [Box(f"  x[{i}] = f(y) # {i}", 0.02, 0.02 + i * 0.03, 0.5, 0.045 + i * 0.03) for i in range(30)]
    blocks = layout_blocks(lines)
    assert [len(b) for b in blocks] == [MAX_BLOCK_LINES, MAX_BLOCK_LINES, 30 - 2 * MAX_BLOCK_LINES]
    assert blocks[0][3] == "  x[3] = f(y) # 3"  # verbatim, spaces included


def test_the_same_block_on_consecutive_windows_is_one_unit():
    ws = make_windows("v", 10.0)
    card = [Box("DIRECTOR", 0.4, 0.3, 0.6, 0.34), Box("Sam Ortiz", 0.38, 0.36, 0.62, 0.42)]
    units = screen_units(ws, [card, card, None, card, [Box("THE END", 0.4, 0.4, 0.6, 0.5)]])
    assert units == [Unit("ocr", 0.0, 8.0, "DIRECTOR / Sam Ortiz", ("DIRECTOR", "Sam Ortiz")),
                     Unit("ocr", 8.0, 10.0, "THE END", ("THE END",))]


@needs_espeak
def test_units_from_the_real_extractors(media, lite_outputs):
    out = EvidenceUnits().extract(media, lite_outputs)
    per_window = out.columns["units"]
    speech = [u for us in per_window for u in (us or ()) if u["kind"] == "asr"]
    assert speech, "whisper heard the sentence"
    sentence = speech[0]
    # one unit holds the whole sentence, from its start near 2.2 s past the window edge at 4 s
    assert "oven" in sentence["text"].lower() and "minutes" in sentence["text"].lower()
    assert sentence["start_s"] == pytest.approx(SPEECH_AT_S, abs=0.4) and sentence["end_s"] > 4.0
    for i in (window_of(media, 3.0), window_of(media, 4.5)):
        assert any(u["kind"] == "asr" and u["text"] == sentence["text"] for u in per_window[i])
    ocr = {u["text"] for us in per_window for u in (us or ()) if u["kind"] == "ocr"}
    assert ocr == {TEXT}
    assert any(u["kind"] == "audio" and "beep" in u["text"] for us in per_window for u in (us or ()))


def _credits_frame(t: float, width: int = FRAME_W, height: int = FRAME_H) -> Image.Image:
    im = synth.solid_frame((8, 8, 8), size=(width, height))
    s = width / 1280
    rows = [("EDITOR", 44, 0.30), ("Ana Lima", 80, 0.37)] if t < 4.0 else [("MUSIC", 44, 0.30), ("Joe Park", 80, 0.37)]
    for text, size, y in rows:
        synth.draw_text_line(im, text, font_size=int(size * s), top_y=int(height * y), text_rgb=(240, 240, 240))
    return im


def test_a_credits_card_read_by_rapidocr_is_one_label_value_unit():
    from vqa_pipeline.extractors.ocr import RapidOcr

    media = make_media(video_id="credits", duration_s=8.0, audio=None, frame=_credits_frame)
    ocr = RapidOcr().extract(media, {})
    out = EvidenceUnits().extract(media, {"ocr": ocr})
    units = {(u["text"], u["start_s"], u["end_s"]) for us in out.columns["units"] for u in (us or ())}
    assert units == {("EDITOR / Ana Lima", 0.0, 4.0), ("MUSIC / Joe Park", 4.0, 8.0)}


# -- a long recording extracted in segments (as media.decode.decode_segments cuts it) ---------------

LOGO = [Box("ACME LABS", 0.05, 0.05, 0.25, 0.09)]


def _info(duration_s: float) -> MediaInfo:
    return MediaInfo(duration_s=duration_s, has_video=True, has_audio=True)


def _segments(ws, segment_s: float = 300.0, halo_s: float = 30.0) -> list[DecodedMedia]:
    out = []
    k = 0
    while k * segment_s < ws[-1].start_s + 1e-9:
        lo_t, hi_t = k * segment_s, (k + 1) * segment_s
        last = hi_t > ws[-1].start_s
        seg = [w for w in ws if w.start_s >= lo_t - halo_s and (last or w.start_s < hi_t + halo_s)]
        core_lo = next(i for i, w in enumerate(seg) if w.start_s >= lo_t)
        core_hi = len(seg) if last else next(i for i, w in enumerate(seg) if w.start_s >= hi_t)
        out.append(DecodedMedia(video_id="v", info=_info(ws[-1].end_s), options=WindowingOptions(),
                                windows=seg, segment=k, last_segment=last, core=(core_lo, core_hi), context_s=halo_s))
        k += 1
    return out


def _extract_in_segments(ws, ocr_per_window, asr_per_segment=None) -> tuple[list, list]:
    """What the segments write (each its own windows' ``units``), and the column joined afterwards."""
    ex = EvidenceUnits()
    written: list = [None] * len(ws)
    for media in _segments(ws):
        first = media.windows[0].index
        up = {"ocr": ExtractorOutput(lines=[[] for _ in media.windows],
                                     columns={"ocr_boxes": [ocr_per_window[w.index] for w in media.windows]})}
        if asr_per_segment is not None:
            words = asr_per_segment[media.segment]
            per = [[w for w in words if win.start_s <= (w["start_s"] + w["end_s"]) / 2 < win.end_s]
                   for win in media.windows]
            up["asr"] = ExtractorOutput(lines=[[] for _ in media.windows], columns={"asr_words": per})
        col = ex.extract(media, up).columns["units"]
        lo, hi = media.core_range
        for i in range(lo, hi):
            written[first + i] = col[i]
    joined = ex.join_segments(ws, {"ocr_boxes": ocr_per_window, "units": written})["units"]
    return written, joined


def _ocr(per_window, i):
    return [(u["start_s"], u["end_s"]) for u in per_window[i] or () if u["kind"] == "ocr"]


def test_a_logo_on_screen_for_12_minutes_is_one_unit_across_segments():
    ws = make_windows("v", 720.0)
    boxes = [[{"text": b.text, "box": [b.x0, b.y0, b.x1, b.y1]} for b in LOGO] for _ in ws]
    written, joined = _extract_in_segments(ws, boxes)
    assert _ocr(written, 149) == [(0.0, 330.0)]  # what each segment sees alone: cut at its context edge
    whole = EvidenceUnits().extract(DecodedMedia(video_id="v", info=_info(720.0),
                                                 options=WindowingOptions(), windows=ws),
                                    {"ocr": ExtractorOutput(lines=[[] for _ in ws], columns={"ocr_boxes": boxes})})
    assert joined == whole.columns["units"]
    assert all(_ocr(joined, i) == [(0.0, 720.0)] for i in range(len(ws)))
    assert joined[150][0]["text"] == "ACME LABS"


def test_a_block_that_leaves_the_screen_near_a_segment_edge_stays_two_units():
    ws = make_windows("v", 720.0)
    on = [{"text": "Slide 4", "box": [0.1, 0.1, 0.3, 0.15]}]
    boxes = [None if i % 3 else ([] if 148 <= i <= 152 else on) for i in range(len(ws))]  # keyframes every 6 s
    _, joined = _extract_in_segments(ws, boxes)
    spans = sorted({s for i in range(len(ws)) for s in _ocr(joined, i)})
    assert spans == [(0.0, 296.0), (306.0, 716.0)]  # the last keyframe is in window 357


def said(text: str, t0: float) -> list[dict]:
    return [{"word": w, "start_s": t0 + 0.5 * i, "end_s": t0 + 0.5 * i + 0.4} for i, w in enumerate(text.split())]


def test_a_sentence_at_a_segment_edge_is_kept_once_from_the_segment_owning_its_start():
    ws = make_windows("v", 400.0)

    # Both segments heard the sentence starting at 298 s (in segment 0), a little differently.
    seg0 = said("The invoice total is 4,180 dollars.", 298.0)
    seg1 = said("The invoice total is 4180 dollars.", 298.1) + said("Next slide please.", 320.0)
    _, joined = _extract_in_segments(ws, [None] * len(ws), [seg0, seg1])
    speech = {(u["start_s"], u["text"]) for us in joined for u in us or () if u["kind"] == "asr"}
    assert speech == {(298.0, "The invoice total is 4,180 dollars."), (320.0, "Next slide please.")}
    # listed in the windows on both sides of the edge at 300 s
    for i in (149, 150):
        assert [u["text"] for u in joined[i] if u["kind"] == "asr"] == ["The invoice total is 4,180 dollars."]


def test_a_sentence_longer_than_the_context_after_an_edge_is_kept_once_as_the_next_segment_heard_it():
    ws = make_windows("v", 400.0)
    long = " ".join(f"w{i}" for i in range(57)) + " end."  # 299-327.9 s: past what segment 0 heard well
    heard0 = said(long.replace("end.", "en"), 299.0)  # segment 0's context ends at 330 s: cut short
    heard1 = said(long, 299.0) + said("Next slide please.", 340.0)
    _, joined = _extract_in_segments(ws, [None] * len(ws), [heard0, heard1])
    speech = sorted({(u["start_s"], u["end_s"], u["text"]) for us in joined for u in us or () if u["kind"] == "asr"})
    assert speech == [(299.0, 327.9, long), (340.0, 341.4, "Next slide please.")]
    assert [u["text"] for u in joined[149] if u["kind"] == "asr"] == [long]  # listed in segment 0's windows too


def test_a_sentence_fits_in_the_context_of_the_segment_owning_its_start():
    # with the default segments: so the owner hears every sentence it keeps to its end
    assert MAX_SENTENCE_S <= HALO_S
