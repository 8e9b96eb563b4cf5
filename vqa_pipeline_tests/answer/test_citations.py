"""Timecode parsing, citation checks, grounding and the extractive fallback."""

from __future__ import annotations

import pytest

from vqa_pipeline.answer.citations import (
    check_citations,
    extractive_answer,
    grounding,
    numbers,
    parse_timecodes,
    strip_timecodes,
)
from vqa_pipeline.answer.pack import PackedLine

OVEN = PackedLine("k", "/m/kitchen.mp4", 10.2, 11.8, "asr", "preheat the oven to 180 degrees")
SALT = PackedLine("k", "/m/kitchen.mp4", 16.0, 18.0, "ocr", "SECRET: SEA SALT")
LINES = [OVEN, SALT]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("180 degrees [10.2-11.8s]", [(10.2, 11.8)]),
        ("at [10-12s] and (16.0s - 18.0s)", [(10.0, 12.0), (16.0, 18.0)]),
        ("around [10.5s]", [(10.5, 10.5)]),
        ("[12.0 \u2013 10.0 s]", [(10.0, 12.0)]),
        ("no codes here, 180 degrees", []),
    ],
)
def test_parse_timecodes(text, expected):
    assert [(t.start_s, t.end_s) for t in parse_timecodes(text)] == expected


def test_invented_timecodes_are_dropped():
    text, cited, dropped = check_citations("180 degrees [10.2-11.8s], sea salt [55.0-57.0s].", LINES)
    assert text == "180 degrees [10.2-11.8s], sea salt."
    assert cited == [OVEN] and dropped == 1


def test_rounded_and_point_codes_match_but_broad_ones_do_not():
    assert check_citations("x [10.0-12.0s]", LINES)[1] == [OVEN]  # mostly inside the line
    assert check_citations("x [11s]", LINES)[1] == [OVEN]
    assert check_citations("x [0.0-999.0s]", LINES)[1:] == ([], 1)
    assert check_citations("x [11.7-13.9s]", LINES)[1:] == ([], 1)  # mostly outside every line


def test_a_code_matching_several_lines_cites_the_first_given():
    twin = PackedLine("s", "/m/station.mp4", 10.0, 12.0, "asr", "platform 9")
    assert check_citations("y [10.2-11.8s]", [twin, OVEN])[1] == [twin]


def test_grounding_requires_numbers_and_words_from_the_line():
    assert grounding("180 degrees [10.2-11.8s]", OVEN.text) == 1.0
    assert grounding("200 degrees", OVEN.text) == 0.0
    assert grounding("the oven should be hot", OVEN.text) == pytest.approx(0.5)  # oven yes, hot no
    assert grounding("HACKED", OVEN.text) == 0.0
    assert grounding("", OVEN.text) == 0.0
    assert grounding("1 hour", "let the dough rise for one hour") == 1.0
    assert numbers("the 3rd of June, twenty minutes, 14:05") == {"3", "20", "14:05"}


def test_extractive_answer_quotes_lines_with_timecodes():
    assert extractive_answer([OVEN]) == "preheat the oven to 180 degrees [10.2-11.8s]"
    assert extractive_answer(LINES).endswith("; SECRET: SEA SALT [16.0-18.0s]")
    assert strip_timecodes(extractive_answer([OVEN])) == OVEN.text
