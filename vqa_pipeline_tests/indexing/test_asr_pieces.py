"""Long speech heard in pieces cut at pauses: the pieces run on two Ray actors at once and the words
come back the same, in the same order, as when one process runs them one after another."""

from __future__ import annotations

import numpy as np
import pytest

from vqa_pipeline.corpus import synth
from vqa_pipeline.extractors.asr import PIECE_MAX_S, AsrPart, plan_pieces, speech_chunks
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
    # Whisper detected the language once for the file (the probe), not once per piece, in both runs.
    assert stats["language_detections"] == _asr_stats(tmp_path / "inline", vid)["language_detections"] == 1
    assert {r["asr_language"] for r in Store(tmp_path / "ray").windows_for(vid, ["asr_language"])} == {"en"}

    # And they are the sentences (whisper may write numbers as digits): most words heard, none twice over.
    heard = [w[0].strip(".,").lower() for w in words]
    truth = [w.lower() for t in SENTENCES for w in t.split()]
    assert sum(1 for w in set(truth) if w in heard) >= 0.8 * len(set(truth))
    assert len(heard) <= len(truth)


def test_the_language_is_detected_once_unless_it_is_fixed(speech_track):
    """A probe detects the language before the pieces run; a fixed language (an option, an English-only
    model) needs none. The probe hears what the first piece hears."""
    from vqa_pipeline.extractors.registry import create_extractor

    _, audio, _ = speech_track
    tight = speech_chunks(audio)
    parts = [AsrPart(i, p, tuple(tight)) for i, p in enumerate(plan_pieces(tight, audio.size))]
    probe = create_extractor("whisper-base").probe_part(parts)
    assert probe is not None and probe.probe and probe.chunks == parts[0].chunks
    assert create_extractor("whisper-base", language="en").probe_part(parts) is None
    assert create_extractor("whisper-tiny-en").probe_part(parts) is None
    assert create_extractor("whisper-base").probe_part(parts[:1]) is None  # one piece detects as it goes
    heard = create_extractor("whisper-base").after_probe(parts, {"language": "de", "language_probability": 0.9})
    assert [(p.language, p.language_probability, p.chunks) for p in heard] == [("de", 0.9, p.chunks) for p in parts]
    # language=None spelled out is no language fixed: an English-only model still needs no probe
    assert create_extractor("whisper-tiny-en", language=None).probe_part(parts) is None


def test_an_unsure_or_failed_probe_leaves_each_piece_to_detect_its_own(speech_track):
    """Music or noise at the start: a probe under PROBE_MIN_PROBABILITY decides nothing (nor does a failed
    one, ``None``); the file's language is then that of the piece heard longest."""
    from vqa_pipeline.extractors.asr import PROBE_MIN_PROBABILITY
    from vqa_pipeline.extractors.registry import create_extractor

    _, audio, _ = speech_track
    tight = speech_chunks(audio)
    parts = [AsrPart(i, p, tuple(tight)) for i, p in enumerate(plan_pieces(tight, audio.size))]
    ex = create_extractor("whisper-base")
    unsure = {"language": "nn", "language_probability": 0.2}
    assert 0.2 < PROBE_MIN_PROBABILITY <= 0.5
    assert [p.language for p in ex.after_probe(parts, unsure)] == [None] * len(parts)
    assert [p.language for p in ex.after_probe(parts, None)] == [None] * len(parts)
    sure = {"language": "nn", "language_probability": PROBE_MIN_PROBABILITY}
    assert [p.language for p in ex.after_probe(parts, sure)] == ["nn"] * len(parts)


def _whisper_calls(monkeypatch, fail_probe: bool = False) -> dict:
    """What faster-whisper itself is asked in this process: its language detections, and the ``language``
    of each transcription. ``fail_probe``: our probe's detection raises (the pieces' own ones run)."""
    from faster_whisper import WhisperModel

    from vqa_pipeline.extractors.asr import _FasterWhisper

    calls: dict = {"detections": 0, "languages": []}
    detect, transcribe = WhisperModel.detect_language, WhisperModel.transcribe

    def counted_detect(self, *args, **kwargs):
        calls["detections"] += 1
        return detect(self, *args, **kwargs)

    def recorded_transcribe(self, *args, **kwargs):
        calls["languages"].append(kwargs.get("language"))
        return transcribe(self, *args, **kwargs)

    def failing_probe(self, *args, **kwargs):
        raise RuntimeError("language probe out of memory")

    monkeypatch.setattr(WhisperModel, "detect_language", counted_detect)
    monkeypatch.setattr(WhisperModel, "transcribe", recorded_transcribe)
    if fail_probe:
        monkeypatch.setattr(_FasterWhisper, "detect_language", failing_probe)
    return calls


@pytest.mark.slow
def test_whisper_detects_the_language_once_and_every_piece_is_heard_in_it(tmp_path, speech_track, monkeypatch):
    """Observed in faster-whisper, not in our stats: one detection for the file, and each piece's
    transcription is given the probe's language (so it runs none of its own)."""
    calls = _whisper_calls(monkeypatch)
    run = index_paths([speech_track[0]], Store(tmp_path / "db"), extractors=["whisper-base"], runner=InlineRunner())
    vid = run.files[0].video_id
    assert run.files[0].extractors == {"whisper-base": "ok"}
    pieces = _asr_stats(tmp_path / "db", vid)["pieces"]
    assert pieces >= 3
    assert calls["detections"] == 1
    assert calls["languages"] == ["en"] * pieces


@pytest.mark.slow
def test_a_failed_probe_lets_each_piece_detect_its_language(tmp_path, speech_track, monkeypatch):
    """The probe raises: the file is still transcribed, each piece detecting its own language as it
    would without a probe, and the words are those of a run whose probe worked."""
    calls = _whisper_calls(monkeypatch, fail_probe=True)
    run = index_paths([speech_track[0]], Store(tmp_path / "db"), extractors=["whisper-base"], runner=InlineRunner())
    vid = run.files[0].video_id
    assert run.files[0].extractors == {"whisper-base": "ok"}
    pieces = _asr_stats(tmp_path / "db", vid)["pieces"]
    assert pieces >= 3
    assert calls["languages"] == [None] * pieces and calls["detections"] == pieces
    assert {r["asr_language"] for r in Store(tmp_path / "db").windows_for(vid, ["asr_language"])} == {"en"}
    heard = [w[0].strip(".,").lower() for w in _unique(_asr_words(tmp_path / "db", vid))]
    truth = [w.lower() for t in SENTENCES for w in t.split()]
    assert sum(1 for w in set(truth) if w in heard) >= 0.8 * len(set(truth))


@pytest.mark.slow
def test_a_piece_whose_actor_dies_runs_again_and_only_that_actor_is_replaced(tmp_path, speech_track):
    """An actor killed for good (no restarts left) while it holds a piece: the piece runs again, the
    words are those of an undisturbed run, and the pool's other actor is the one it was."""
    import ray

    from vqa_pipeline.indexing.ray_runner import RayOptions, RayRunner

    class KillsOnePiece(RayRunner):
        killed: list = []

        def submit(self, job):
            super().submit(job)
            if job.part is not None and not job.part.probe and not self.killed:
                _, i, actor, _ = list(self._pending.values())[-1]
                self.killed.append((i, actor, list(self._pools[job.extractor])))
                ray.kill(actor, no_restart=True)

    path = speech_track[0]
    inline = index_paths([path], Store(tmp_path / "inline"), extractors=["whisper-base"], runner=InlineRunner())
    runner = KillsOnePiece(RayOptions(threads_per_actor=1, piece_actors=2))
    try:
        run = index_paths([path], Store(tmp_path / "ray"), extractors=["whisper-base"], runner=runner)
        pool = list(runner._pools["whisper-base"])
    finally:
        runner.close()
    vid = run.files[0].video_id
    assert run.files[0].extractors == {"whisper-base": "ok"}
    assert _asr_words(tmp_path / "ray", vid) == _asr_words(tmp_path / "inline", vid)
    (i, dead, before), = KillsOnePiece.killed
    assert runner.replaced == {"whisper-base": 1}
    assert pool[i] is not dead and pool[1 - i] is before[1 - i]  # one new actor; the other kept its model
    assert _asr_stats(tmp_path / "ray", vid)["language_detections"] == 1
    assert inline.files[0].extractors == {"whisper-base": "ok"}


@pytest.mark.slow
def test_a_whisperx_alignment_failure_in_the_pieces_reaches_the_rows(tmp_path, speech_track, monkeypatch):
    """WhisperLarge asked to align (whisperx does not import here): the pieces carry the failure back,
    so the joined rows are not tagged +whisperx and the record says why."""
    from vqa_pipeline.extractors import models
    from vqa_pipeline.extractors.full.asr_large import WhisperLarge

    ok, why = models.whisper_base_available()
    if not ok:
        pytest.skip(f"bundled Whisper base is not installed: {why}")
    # the bundled base weights stand in for large-v3; environment: the scheduler's and the runner's
    # extractors see the same settings
    monkeypatch.setenv("VQA_WHISPER_MODEL_DIR", str(models.whisper_base_dir()))
    monkeypatch.setenv("VQA_WHISPERX_ALIGN", "1")
    monkeypatch.setenv("VQA_DEVICE", "cpu")
    tag = WhisperLarge().model_tag
    assert "+whisperx" in tag
    run = index_paths([speech_track[0]], Store(tmp_path / "db"), extractors=["whisper-large-v3"],
                      runner=InlineRunner())
    vid = run.files[0].video_id
    outcome = run.files[0].extractors["whisper-large-v3"]
    assert outcome.startswith("ok (WhisperX alignment did not run in ") and "faster-whisper word times" in outcome
    stats = _asr_stats(tmp_path / "db", vid)
    assert stats["pieces"] >= 3 and f"in {stats['pieces']} of {stats['pieces']} pieces" in outcome
    rows = Store(tmp_path / "db").windows_for(vid, ["asr_model", "asr_words"])
    assert {r["asr_model"] for r in rows} == {tag.replace("+whisperx", "")}
    assert sum(len(r["asr_words"] or []) for r in rows) > 50
