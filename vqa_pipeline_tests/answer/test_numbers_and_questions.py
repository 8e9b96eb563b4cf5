"""Spoken numbers, question analysis and answer spans: the rules, on phrasings seen from Whisper and
from people (not the ones the rules were written from where that could be avoided)."""

from __future__ import annotations

import pytest

from vqa_pipeline.answer.numbers import normalize_numbers, number_values
from vqa_pipeline.answer.question import analyze
from vqa_pipeline.answer.spans import answer_spans, is_label, labelled_values


@pytest.mark.parametrize(("spoken", "written"), [
    ("3 .00", "300"),  # Whisper's split "three hundred"
    ("the total is 3 .00 today", "the total is 300 today"),
    ("$140 .00", "$140.00"),  # ... but cents after a currency sign
    ("three hundred", "300"),
    ("three hundred and twelve", "312"),
    ("nine point five", "9.5"),
    ("zero point seven five", "0.75"),
    ("four point two million", "4.2 million"),
    ("five five one seven", "5517"),
    ("two oh four oh", "2040"),
    ("twenty-five", "25"),
    ("a thousand", "1000"),
    ("nineteen eighty four", "1984"),
    ("12,500 people", "12500 people"),
    ("on the 21st", "on the 21"),
])
def test_spoken_and_split_numbers_become_digits(spoken, written):
    assert normalize_numbers(spoken) == written


@pytest.mark.parametrize("text", ["a big dog", "oh no", "at some point", "a few more", "point taken"])
def test_words_that_are_not_numbers_stay(text):
    assert normalize_numbers(text) == text


def test_number_values_compare_spellings():
    assert number_values("three hundred") == number_values("300") == number_values("3 .00") == {300.0}
    assert number_values("nine point five degrees") == {9.5}


@pytest.mark.parametrize(("question", "answer_type", "kinds"), [
    ("Who directed it?", "name", set()),
    ("Whose voice do we hear first?", "name", {"asr", "audio"}),
    ("What's the reference code?", "number", set()),
    ("How many speakers are there?", "count", set()),
    ("Which site should viewers visit?", "url", set()),
    ("What did the user type into the terminal?", "command", {"ocr"}),
    ("Was the bridge finished in 1932?", "yes_no", set()),
    ("Did the narrator mention the river?", "yes_no", {"asr"}),
    ("What comes after the second chime?", "next", {"audio"}),
    ("What is said before the music starts?", "previous", {"asr", "audio"}),
    ("On which day does the course start?", "date", set()),
    ("What does the banner at the top say?", "text", {"ocr"}),
])
def test_question_analysis(question, answer_type, kinds):
    q = analyze(question)
    assert q.answer_type == answer_type and set(q.kinds) == kinds


def test_odd_questions_do_not_fail():
    for text in ("???", "", "Quelle est la température?", "x" * 5000, "after after after"):
        assert analyze(text).answer_type in ("text", "next", "previous", "number")


def test_labels_and_their_values():
    assert is_label("PRODUCER") and is_label("Q3 RESULTS") and not is_label("Ana Lima")
    q = analyze("Who produced the show?")
    assert labelled_values(q, ["PRODUCER", "Maya Chen", "EDITOR", "Ana Lima"])[0][0] == "Maya Chen"
    assert labelled_values(analyze("What is done in step 2?"), ["STEP 2: RINSE", "x"]) == [("RINSE", 1.0)]


@pytest.mark.parametrize(("question", "text", "kind", "answer"), [
    ("Who produced the show?", "PRODUCER / Maya Chen", "ocr", "Maya Chen"),
    ("What is the budget shown on the slide?", "BUDGET / 2.5 million", "ocr", "2.5 million"),
    ("What is the reference code?", "Your reference code is 88 -41.", "asr", "8841"),
    ("How long is the flight?", "The flight takes about ninety minutes.", "asr", "90 minutes"),
    ("How much is the ticket?", "A ticket costs $12 at the door.", "asr", "$12"),
    ("Which website is given at the end?", "Thanks for watching / www.rivers.example.org", "ocr",
     "www.rivers.example.org"),
    ("What command is run?", "dev@box:~/app$ npm run build / > build done", "ocr", "npm run build"),
    ("On what date does the course start?", "The course starts on the 2nd of October.", "asr", "2 of October"),
    # a clock time's colon is no "Label: value" separator ("OXFORD 11" is not a label of "05")
    ("What departure time is shown for the Bristol coach?", "CITY TERMINAL / BRISTOL 14:35 ON TIME", "ocr",
     "14:35"),
])
def test_answer_spans_by_type(question, text, kind, answer):
    spans = answer_spans(analyze(question), text, (), kind)
    assert spans and spans[0].text == answer


def _line(text: str, kind: str = "asr"):
    from vqa_pipeline.answer.pack import PackedLine

    return PackedLine("v", "/v.mp4", 0.0, 2.0, kind, text)


@pytest.mark.parametrize(("question", "evidence", "missing"), [
    # the named place is nowhere in the evidence: another station's announcement does not answer it
    ("When does the bus to Sheffield depart?", ["The 9:15 bus to Leicester leaves from stand B."], ("Sheffield",)),
    # ASR's sound-alike spellings of the name count as mentions
    ("When does the gallery on Quay Lane open?", ["The gallery on Kilein opens at ten."], ()),
    ("Who is Callum Reid?", ["Our guide is Kalim Reed."], ()),
    ("What did Ana Lima edit?", ["EDITOR / ANA LIMA"], ()),
    # acronyms and the question's first word are not names
    ("Which URL was opened?", ["https://example.org"], ()),
])
def test_names_the_evidence_never_mentions(question, evidence, missing):
    from vqa_pipeline.answer.compose import missing_names

    assert missing_names(analyze(question), [_line(t) for t in evidence]) == missing


@pytest.mark.parametrize(("question", "names"), [
    ("Quick question: What temperature is the oven?", ()),  # a sentence's first word is no name
    ("In the cooking video. How hot is it?", ()),
    ("What Is The Capital Of Mongolia?", ("Capital", "Mongolia")),  # Title Case: stopwords left out
    ("Où habite Émile Zola ?", ("Émile", "Zola")),
    ("What was Selim Haddad's job?", ("Selim", "Haddad")),
])
def test_proper_names_of_a_question(question, names):
    assert analyze(question).names == names


@pytest.mark.parametrize(("question", "text", "supported"), [
    # one shared proper name ties an on-screen row to the question, though no other word is shared
    ("What departure time is displayed for the Oxford train?", "CENTRAL STATION / OXFORD 11:05 DELAYED +20", True),
    ("What was said about the Denver forecast?", "Tomorrow in Denver, minus three.", True),
    # a shared number or generic word alone does not
    ("How many people attended the 1961 inauguration?", "JANUARY 20, 1961", False),
    ("What number is shown on the screen?", "Platform 7 closed for works", False),
])
def test_a_unit_supports_a_question(question, text, supported):
    from vqa_pipeline.answer.compose import supports

    assert supports(analyze(question), _line(text, "ocr")) is supported


@pytest.mark.parametrize(("question", "form", "ordinal"), [
    ("What was the final score of the match?", "score", ""),  # "final" is the result, not an ordinal
    ("What's the score?", "score", ""),
    ("What number should I call back?", "phone", ""),
    ("What phone number is given in the voicemail?", "phone", ""),
    ("Which number should I ring?", "phone", ""),
    ("What is the account number?", "", ""),
    ("What was the last price mentioned?", "", "last"),
    ("Who scored the final goal?", "", "final"),  # a name question has no number form
])
def test_questions_asking_for_a_score_or_a_phone_number(question, form, ordinal):
    q = analyze(question)
    assert (q.form, q.ordinal) == (form, ordinal)
    if form:
        assert q.answer_type == "number"


@pytest.mark.parametrize(("question", "text", "answer"), [
    ("What was the final score?", "FULL TIME / SHARKS 3 - 2 OWLS", "3-2"),
    ("What was the final score?", "They won three to two in the end", "3-2"),
    ("What was the final score?", "Attendance: 18,400", "18400"),  # no score: plain numbers
    ("What number should I call back?", "Please call a smacking 555 -0192.", "5550192"),
    ("What number should I call back?", "Your appointment is on Tuesday at 4 .30", "430"),  # no phone: plain numbers
])
def test_score_and_phone_spans(question, text, answer):
    spans = answer_spans(analyze(question), text, (), "ocr" if text.isupper() else "asr")
    assert spans and spans[0].text == answer


@pytest.mark.parametrize(("answer", "span", "evidence", "same"), [
    ("Marta Ruiz", "Chef Marta Ruiz", "Chef Marta Ruiz", True),  # shorter
    ("Lena Fischer", "Lena Fisher", "LENA FISCHER / Weather | Lena Fisher", True),  # as the screen spells it
    ("Lena Fischer", "Lena Fisher", "Lena Fisher", False),  # a spelling no evidence has
    ("Thomas Merget", "T. Berg", "Thomas Merget", False),  # another name
    ("Chef Marta Ruiz and Tom", "Marta Ruiz", "Chef Marta Ruiz and Tom", False),  # more than the span
])
def test_a_model_name_answer_is_the_span_name(answer, span, evidence, same):
    from vqa_pipeline.answer.ask import _same_name

    assert _same_name(answer, span, evidence) is same
