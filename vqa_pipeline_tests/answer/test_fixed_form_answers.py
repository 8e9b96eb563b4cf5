"""Score and phone questions on two clips of the bundled sample corpus, indexed by the real lite
pipeline: the answer is there in a fixed form ("SHARKS 3 - 2 OWLS", "555 -0192") whose words do
not match the question's ("FULL TIME" for "final score"), and the answer step used to abstain."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from vqa_pipeline.indexing.pipeline import index_paths
from vqa_pipeline.query import ask
from vqa_pipeline.store import Store

SAMPLE = Path(__file__).resolve().parents[2] / "data" / "sample"


@pytest.fixture(scope="module")
def sample_db(tmp_path_factory):
    folder = tmp_path_factory.mktemp("sample")
    clips = [shutil.copy(SAMPLE / name, folder / name) for name in ("sports_score.mp4", "voicemail.wav")]
    db = folder / "db"
    summary = index_paths([Path(c) for c in clips], Store(db))
    assert [f.status for f in summary.files] == ["indexed", "indexed"], summary.files
    return db


@pytest.mark.parametrize("question", ["What was the final score of the match?", "what was the final score?"])
def test_the_final_score_is_read_from_the_full_time_card(sample_db, question):
    a = ask(question, videos=["sports_score"], db=sample_db, extractive_only=True)
    assert not a.abstained, a.answer
    assert a.answer.startswith("3-2 "), a.answer
    assert [(Path(c.source).name, c.start, c.end) for c in a.citations] == [("sports_score.mp4", 4.0, 14.0)]


@pytest.mark.parametrize("question", ["What number should I call back?", "What phone number is given in the voicemail?",
                                      "which number should I call?"])
def test_the_number_to_call_back_is_answered(sample_db, question):
    a = ask(question, videos=["voicemail"], db=sample_db, extractive_only=True)
    assert not a.abstained, a.answer
    assert a.answer.startswith("5550192 "), a.answer
    assert [Path(c.source).name for c in a.citations] == ["voicemail.wav"]


def test_a_score_question_about_a_clip_without_one_still_abstains(sample_db):
    a = ask("What was the final score of the match?", videos=["voicemail"], db=sample_db, extractive_only=True)
    assert a.abstained, a.answer
