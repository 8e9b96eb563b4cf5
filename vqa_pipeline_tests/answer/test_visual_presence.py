"""Yes/no presence questions ("is there a car …?") answered from the object detector's lines."""

from __future__ import annotations

from vqa_pipeline.answer.ask import answer_question
from vqa_pipeline.answer.counting import detector_says_present
from vqa_pipeline.answer.pack import PackedLine


def _line(text: str, start: float, kind: str = "visual", video: str = "street") -> PackedLine:
    return PackedLine(video_id=video, source=f"/x/{video}.mp4", kind=kind, start_s=start, end_s=start + 2, text=text,
                      priority=start)


def test_a_detector_line_counting_the_thing_says_yes():
    line = "objects: 1 car; appears: car; disappears: person"
    assert detector_says_present("Is there a car in the bikes street video?", line)
    assert detector_says_present("Are there any cars in the street scene?", line)
    assert detector_says_present("Does a vehicle appear in the clip?", line)  # a synonym of car
    assert detector_says_present("Is a car visible at the start?", line)


def test_no_yes_without_the_thing_a_presence_question_or_with_a_negation():
    line = "objects: 1 car; appears: car; disappears: person"
    assert not detector_says_present("Is there a dog in the street video?", line)
    assert not detector_says_present("Is there a person in the street video?", line)  # only "disappears: person"
    assert not detector_says_present("Is the car red?", line)  # not about presence
    assert not detector_says_present("Isn't there a car in the video?", line)
    assert not detector_says_present("Is there a car in the video?", "dominant colours: gray; motion: high")


def test_ask_answers_yes_from_the_detector_line_and_cites_it():
    lines = [
        _line("scene cut at 1.4s; dominant colours: gray; motion: medium", 0.0),
        _line("motion: high", 2.0),
        _line("objects: 1 car; appears: car; disappears: person", 6.0),
        _line("objects: none; disappears: car", 8.0),
    ]
    a = answer_question("Is there a car in the bikes street video?", lines, None, abstain_threshold=0.0)
    assert not a.abstained
    assert a.answer.startswith("Yes"), a.answer
    assert [(c.start, c.end) for c in a.citations] == [(6.0, 8.0)]
    # the same evidence does not say yes to a thing it does not count
    b = answer_question("Is there a dog in the bikes street video?", lines, None, abstain_threshold=0.0)
    assert not b.answer.startswith("Yes"), b.answer


def test_presence_questions_may_use_detector_lines_but_questions_about_words_may_not():
    from vqa_pipeline.answer.counting import asks_what_is_seen
    from vqa_pipeline.answer.question import analyze

    assert asks_what_is_seen(analyze("Is there a car in the bikes street video?"))
    assert asks_what_is_seen(analyze("Does a dog appear in the trailer?"))
    assert not asks_what_is_seen(analyze("Is the book on the shelf written by Austen?"))
    assert not asks_what_is_seen(analyze("Is there a meeting on Friday?"))  # no detector class named


def test_the_absence_answer_is_that_of_the_units_the_answer_is_composed_from():
    # ranked by retrieval rank alone: street's late window first, then park's and street's "nothing
    # seen" lines. "At the start" puts street's earliest good unit (its "nothing seen" line) first,
    # so the "no" cites street, not the line of the other video ranked before it
    from vqa_pipeline.answer.rerank import Reranker

    def line(video: str, text: str, start: float, priority: float) -> PackedLine:
        return PackedLine(video_id=video, source=f"/x/{video}.mp4", kind="visual", start_s=start, end_s=start + 2,
                          text=text, priority=priority)

    by_rank = Reranker({"fused_rr": 1.0})
    lines = [line("street", "motion: high; dominant colours: gray", 10.0, 0.0),
             line("park", "objects: no car seen in 0.0-30.0 s (15 frames)", 0.0, 1.0),
             line("street", "objects: no car seen in 0.0-20.0 s (10 frames)", 0.0, 2.0)]
    anywhen = answer_question("Is there a car in the video?", lines, None, reranker=by_rank, abstain_threshold=0.0)
    assert anywhen.answer.startswith("No") and {c.video_id for c in anywhen.citations} == {"park"}, anywhen
    start = answer_question("Is there a car at the start of the video?", lines, None, reranker=by_rank,
                            abstain_threshold=0.0)
    assert start.answer.startswith("No") and {c.video_id for c in start.citations} == {"street"}, start
