"""End to end on a committed sample clip: the index holds what the truth file says, where it says."""

import json
import re
from pathlib import Path

import pytest

from vqa_pipeline.indexing.pipeline import index_paths
from vqa_pipeline.store import Store
from vqa_pipeline.store.evidence import lines_for_video

SAMPLE = Path(__file__).resolve().parents[2] / "data" / "sample"


def norm(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", " ", text.lower()).strip()


@pytest.fixture(scope="module")
def indexed(tmp_path_factory):
    store = Store(tmp_path_factory.mktemp("db"))
    summary = index_paths([SAMPLE / "train_station.mp4"], store)
    truth = json.loads((SAMPLE / "truth" / "train_station.json").read_text())
    return store, summary.files[0], truth


def lines_in(store, vid, kind, start, end):
    return [ln for ln in lines_for_video(store, vid) if ln["kind"] == kind and ln["start"] < end and ln["end"] > start]


def test_every_extractor_ran(indexed):
    _, outcome, _ = indexed
    assert outcome.status == "indexed"
    assert {k: v.split(" ")[0] for k, v in outcome.extractors.items()} == {
        "whisper-base": "ok", "rapidocr": "ok", "yamnet": "ok", "visual-stats": "ok", "thumbnails": "ok", "nanodet": "ok",
        "people": "ok",
        "e5-small": "ok", "evidence-units": "ok"}


def test_spoken_words_come_back_in_the_windows_where_they_are_said(indexed):
    store, outcome, truth = indexed
    said = truth["speech"][2]  # "Passengers for Cambridge, please change at platform 4."
    heard = norm(" ".join(ln["text"] for ln in lines_in(store, outcome.video_id, "asr", said["start"], said["end"])))
    assert "passengers" in heard and "cambridge" in heard and "platform 4" in heard
    elsewhere = norm(" ".join(ln["text"] for ln in lines_in(store, outcome.video_id, "asr", 0, said["start"] - 1)))
    assert "cambridge" not in elsewhere and "platform 9" in elsewhere


def test_drawn_text_is_read_where_it_is_shown(indexed):
    store, outcome, truth = indexed
    shown = next(t for t in truth["onscreen_text"] if t["text"].startswith("Change for Cambridge"))
    read = [norm(ln["text"]) for ln in lines_in(store, outcome.video_id, "ocr", shown["start"], shown["end"])]
    assert any("cambridge" in r and "platform 4" in r for r in read)
    before = [norm(ln["text"]) for ln in lines_in(store, outcome.video_id, "ocr", 0, shown["start"] - 2.5)]
    assert not any("cambridge" in r for r in before)


def test_the_beep_is_tagged_in_its_window(indexed):
    store, outcome, truth = indexed
    beep = next(e for e in truth["sound_events"] if e["kind"] == "beep")
    tags = " ".join(ln["text"] for ln in lines_in(store, outcome.video_id, "audio", beep["start"], beep["end"]))
    # YAMNet names a short 1 kHz beep from its beep family: "Beep, bleep", "Sine wave", DTMF, alarm.
    assert any(word in tags.lower() for word in ("beep", "sine", "dtmf", "alarm")), tags
    quiet = " ".join(ln["text"] for ln in lines_in(store, outcome.video_id, "audio", 32.0, 34.0))
    assert not any(word in quiet.lower() for word in ("beep", "sine", "dtmf", "alarm")), quiet


def test_text_embedding_ranks_the_right_window_first(indexed):
    import numpy as np

    from vqa_pipeline.extractors.text_embed import embed_query

    store, outcome, truth = indexed
    rows = [r for r in store.windows_for(outcome.video_id, ["start_s", "end_s", "emb_text"]) if r["emb_text"] is not None]
    q = embed_query("which platform for passengers changing to Cambridge")
    best = max(rows, key=lambda r: float(np.dot(q, np.asarray(r["emb_text"]))))
    said = truth["speech"][2]
    assert best["start_s"] < said["end"] + 2 and best["end_s"] > said["start"] - 2


def overlaps(hit_start, hit_end, span) -> bool:
    return min(hit_end, span["end"]) - max(hit_start, span["start"]) >= 0.5


def test_search_ranks_the_spoken_answer_first(indexed):
    from vqa_pipeline.query import search

    store, _, truth = indexed
    hits = search("where do passengers for Cambridge change trains?", k=3, db=store.uri)
    assert overlaps(hits[0].start, hits[0].end, truth["speech"][2])
    assert hits[0].scores  # per-model scores explain the rank


def test_search_ranks_the_on_screen_answer_first(indexed):
    from vqa_pipeline.query import search

    store, _, truth = indexed
    closed = next(t for t in truth["onscreen_text"] if t["text"].startswith("Platform 7 closed"))
    hits = search("which platform is closed for works?", k=3, db=store.uri)
    assert overlaps(hits[0].start, hits[0].end, closed)


def test_vqa_ask_answers_the_readme_question_with_a_citation(indexed):
    import json
    import subprocess
    import sys

    store, _, truth = indexed
    vqa = str(Path(sys.executable).parent / "vqa")
    out = subprocess.run([vqa, "ask", "which platform for Cambridge?", "--db", store.uri, "--json"],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    answer = json.loads(out.stdout)
    assert set(answer) == {"question", "answer", "abstained", "citations", "evidence", "answer_source"}
    assert answer["answer_source"] in ("model", "evidence")
    assert "4" in answer["answer"] and not answer["abstained"]
    said = truth["speech"][2]
    assert any(c["source"].endswith("train_station.mp4") and c["start"] < said["end"] and c["end"] > said["start"]
               for c in answer["citations"])


def test_a_question_the_video_does_not_answer_abstains(indexed):
    from vqa_pipeline.query import ask

    store, _, _ = indexed
    answer = ask("What time does the train to Manchester leave?", db=store.uri, extractive_only=True)
    assert answer.abstained
