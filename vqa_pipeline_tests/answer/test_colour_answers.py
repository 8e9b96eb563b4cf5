"""Colour questions about a person's clothes or a detector class, answered from the colours inside the
detector's boxes (answer/colours.py), with lines as the objects extractor writes them."""

from __future__ import annotations

import pytest

from vqa_pipeline.answer.ask import answer_question
from vqa_pipeline.answer.colours import colour_label
from vqa_pipeline.answer.pack import PackedLine


def _line(text: str, start: float, video: str = "psychopy_jwpIntro") -> PackedLine:
    return PackedLine(video_id=video, source=f"/x/{video}.mp4", kind="visual", start_s=start, end_s=start + 2,
                      text=text, priority=start)


@pytest.mark.parametrize(("question", "label"), [
    ("What colour is the lecturer's shirt?", "person"),
    ("What color shirts do the men wear?", "person"),
    ("Which colour is the car in the street video?", "car"),
    ("What colour is the woman?", "person"),
    ("What colour are the clouds at the start of the trailer?", ""),  # no box stands for clouds
    ("What colour is the big rabbit's fur?", ""),
    ("What is the lecturer wearing?", ""),  # not a colour question
])
def test_which_box_a_colour_question_is_about(question, label):
    assert colour_label(question) == label


def test_the_shirt_colour_comes_from_the_person_box_not_the_frame():
    # the evidence of the PsychoPy intro's first window (the real index, issue 12)
    lines = [
        _line("dominant colours: gray, red, brown", 0.0),
        _line("people: 1 face", 0.0),
        _line("objects: 1 person; appears: person", 0.0),
        _line("colours: person (clothes): red, pink", 0.0),
    ]
    a = answer_question("What colour is the lecturer's shirt?", lines, None, abstain_threshold=0.0)
    assert not a.abstained and a.answer.startswith("red, pink")
    assert [(c.start, c.end) for c in a.citations] == [(0.0, 2.0)]
    # even when the re-ranker finds nothing likely (the words "red" and "shirt" share nothing)
    a = answer_question("What colour is the lecturer's shirt?", lines, None, abstain_threshold=0.99)
    assert not a.abstained and a.answer.startswith("red")


def test_no_colours_line_for_the_thing_leaves_the_usual_answer():
    lines = [_line("dominant colours: pink, white", 0.0, "trailer"), _line("colours: person (clothes): gray", 12.0, "trailer")]
    a = answer_question("What colour are the clouds at the start of the trailer?", lines, None, abstain_threshold=0.0)
    assert "gray" not in a.answer  # not the person's colours
    a = answer_question("What colour is the car?", lines, None, abstain_threshold=0.0)
    assert "gray" not in a.answer
