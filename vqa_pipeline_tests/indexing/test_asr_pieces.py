"""Long speech heard in pieces cut at pauses: the pieces run on two Ray actors at once and the words
come back the same, in the same order, as when one process runs them one after another."""

from __future__ import annotations

import numpy as np
import pytest

from vqa_pipeline.corpus import synth
from vqa_pipeline.extractors.asr import PIECE_MAX_S, plan_pieces, speech_chunks
from vqa_pipeline.indexing.pipeline import index_paths
from vqa_pipeline.indexing.runners import InlineRunner
from vqa_pipeline.store import Store

SR = synth.SR
# No commas: the only pauses inside a sentence are between words, far under Silero's 300 ms.
SENTENCES = [
    "The next train to the harbour leaves from platform nine at half past four",
    "Please keep your ticket ready for the inspector on the upper deck",
    "Our museum opens at ten in the morning and closes at six in the evening",
    "The blue gallery on the second floor shows paintings of old sailing ships",
    "Dissolve twenty grams of salt in one hundred millilitres of warm water",
    "Stir the solution slowly until every crystal has disappeared completely",
    "Revenue for the third quarter grew by eleven percent compared with last year",
    "The board expects the new factory in Lisbon to open next spring",
    "Turn left after the bakery and walk straight on until you see the lighthouse",
    "The guided tour lasts about forty minutes and costs eight euros per person",
    "Remember to switch off your phone before the concert begins",
    "The final bus back to the city centre departs at eleven fifteen",
    "Thank you for listening and enjoy the rest of your visit",
]
# Pauses before each sentence (and after the last): short ones keep sentences in one heard chunk
# (over 30 s: cut at a pause), the 2.6 s one ends a chunk.
GAPS_S = [0.6, 0.5, 0.8, 0.45, 0.7, 2.6, 0.5, 0.9, 0.6, 0.5, 0.7, 0.6, 0.5, 1.0]


@pytest.fixture(scope="module")
def speech_track(tmp_path_factory, espeak_ng) -> tuple:
    """A WAV of the sentences, and where each sentence is in it (sample ranges)."""
    parts, spans, pos = [], [], 0
    for gap, text in zip(GAPS_S, SENTENCES):
        clip = synth.speech(text + ".", voice=None, speed_wpm=160, peak=0.8, fade_ms=0).astype(np.float32)
        pos += int(gap * SR)
        parts += [np.zeros(int(gap * SR), np.float32), clip]
        spans.append((pos, pos + clip.size))
        pos += clip.size
    parts.append(np.zeros(int(GAPS_S[-1] * SR), np.float32))
    audio = np.concatenate(parts)
    audio += (np.random.default_rng(0).standard_normal(audio.size) * 1e-4).astype(np.float32)
    path = synth.write_audio(tmp_path_factory.mktemp("speech") / "announcements.wav", audio)
    return path, audio, spans


def test_pieces_are_cut_in_pauses_and_cover_the_speech(speech_track):
    _, audio, spans = speech_track
    tight = speech_chunks(audio)
    pieces = plan_pieces(tight, audio.size)
    assert len(pieces) >= 3  # ~60 s of speech, pieces of at most 30 s
    for piece in pieces:
        assert sum(c["end"] - c["start"] for c in piece) <= PIECE_MAX_S * SR
    chunks = [c for p in pieces for c in p]
    assert all(a["end"] <= b["start"] for a, b in zip(chunks, chunks[1:]))  # in time order, no overlap
    seams = [p[-1]["end"] for p in pieces[:-1]] + [p[0]["start"] for p in pieces[1:]]
    for t in seams:  # a seam never falls inside a sentence, so never inside a word
        assert not any(a < t < b for a, b in spans), f"seam at {t / SR:.2f}s cuts a sentence"
    for a, b in spans:  # every sentence is heard, whole, in one piece
        assert sum(1 for p in pieces if p[0]["start"] <= a and b <= p[-1]["end"]) == 1


def _asr_words(db, video_id):
    rows = Store(db).windows_for(video_id, ["asr_words"])
    return [(w["word"], w["start_s"], w["end_s"]) for r in rows for w in (r["asr_words"] or [])]


def _asr_stats(db, video_id) -> dict:
    import json

    rows = Store(db).extractions.search().where(f"video_id = '{video_id}' AND \"group\" = 'asr'").to_list()
    return json.loads(rows[0]["stats_json"])


def _unique(words):
    # a word spanning a window edge is stored in each window holding its midpoint: once per word here
    return list(dict.fromkeys(words))


@pytest.mark.slow
def test_pieces_on_two_actors_give_the_words_of_one_process(tmp_path, speech_track):
    from vqa_pipeline.indexing.ray_runner import RayOptions, RayRunner

    path = speech_track[0]
    inline = index_paths([path], Store(tmp_path / "inline"), extractors=["whisper-base"], runner=InlineRunner())
    runner = RayRunner(RayOptions(threads_per_actor=1, piece_actors=2))
    try:
        ray_run = index_paths([path], Store(tmp_path / "ray"), extractors=["whisper-base"], runner=runner)
    finally:
        runner.close()
    vid = inline.files[0].video_id
    assert inline.files[0].extractors == ray_run.files[0].extractors == {"whisper-base": "ok"}

    one = _asr_words(tmp_path / "inline", vid)
    two = _asr_words(tmp_path / "ray", vid)
    assert one == two  # same words, same times, same order: nothing lost or doubled at the seams
    words = _unique(two)
    assert [w[1] for w in words] == sorted(w[1] for w in words)

    stats = _asr_stats(tmp_path / "ray", vid)
    assert stats["pieces"] >= 3 and stats["workers"] == 2  # the pieces really ran on two actors
    assert _asr_stats(tmp_path / "inline", vid)["workers"] == 1

    # And they are the sentences (whisper may write numbers as digits): most words heard, none twice over.
    heard = [w[0].strip(".,").lower() for w in words]
    truth = [w.lower() for t in SENTENCES for w in t.split()]
    assert sum(1 for w in set(truth) if w in heard) >= 0.8 * len(set(truth))
    assert len(heard) <= len(truth)
