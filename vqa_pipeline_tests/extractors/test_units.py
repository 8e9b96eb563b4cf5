"""Evidence units: whole spoken sentences across window edges, on-screen layout blocks in reading
order, on the real lite extractors' outputs."""

from __future__ import annotations

import pytest
from PIL import Image

from vqa_pipeline.corpus import synth
from vqa_pipeline.extractors.units import (
    MAX_BLOCK_LINES,
    Box,
    EvidenceUnits,
    Unit,
    Word,
    layout_blocks,
    screen_units,
    sentences,
)
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
