"""Speech to text on espeak-ng speech placed at a known time."""

from __future__ import annotations

import numpy as np
import pytest

from vqa_pipeline.corpus.synth import mix_in
from vqa_pipeline.extractors.asr import (
    WhisperBase,
    WhisperTinyEn,
    clip_to_regions,
    speech_chunks,
    transcription_chunks,
    windows_containing,
)
from vqa_pipeline_tests.extractors.conftest import (
    SPEECH_AT_S,
    SR,
    espeak,
    make_media,
    needs_espeak,
    window_of,
)


def _words(out, i):
    return [w["word"].strip(".,").lower() for w in out.columns["asr_words"][i]]


@needs_espeak
def test_words_land_in_the_right_windows(lite_outputs, scenario):
    media = scenario.media
    out = lite_outputs["asr"]
    n = len(media.windows)
    assert len(out.lines) == n and len(out.columns["asr_words"]) == n
    first = window_of(media, SPEECH_AT_S)
    assert "oven" in _words(out, first)
    text_near = " ".join(ln.text for i in (first, first + 1) for ln in out.lines[i])
    assert "180" in text_near
    assert "minutes" in " ".join(ln.text.lower() for ln in out.lines[first + 2])
    # nothing before the speech nor during the beep / noise / silence
    for i in range(n):
        if not first <= i <= window_of(media, scenario.speech_end_s):
            assert out.lines[i] == [] and out.columns["asr_words"][i] == []
    # one line per window with words, spanning the window
    for i, win in enumerate(media.windows):
        for ln in out.lines[i]:
            assert (ln.start_s, ln.end_s, ln.kind) == (win.start_s, win.end_s, "asr")
    assert set(out.columns["asr_language"]) == {"en"}


@needs_espeak
def test_word_times_are_clipped_to_speech(lite_outputs, scenario):
    words = [w for ws in lite_outputs["asr"].columns["asr_words"] for w in ws]
    assert words
    assert words[0]["start_s"] >= SPEECH_AT_S - 0.15  # not pulled to the start of the VAD chunk
    assert words[-1]["end_s"] <= scenario.speech_end_s + 0.3
    for w in words:
        assert w["start_s"] <= w["end_s"]
    starts = [w["start_s"] for w in words]
    assert starts == sorted(starts)


def test_clip_helpers():
    regions = [(2.0, 4.0), (8.0, 9.0)]
    assert clip_to_regions(0.0, 2.5, regions) == (2.0, 2.5)
    assert clip_to_regions(3.5, 4.4, regions) == (3.5, 4.0)
    assert clip_to_regions(5.0, 5.2, regions) == (4.0, 4.0)  # outside: onto the nearest edge
    assert clip_to_regions(1.0, 1.5, []) == (1.0, 1.5)
    media = make_media(duration_s=6.0, with_video=False)
    assert windows_containing(media.windows, 2.0) == [1]
    assert windows_containing(media.windows, 6.0) == [2]


def _sentences(gaps_s) -> np.ndarray:
    """A sentence after each gap but the last, which is trailing silence; a faint noise floor."""
    clip = espeak("The next train leaves from platform nine.")
    parts = []
    for gap in gaps_s[:-1]:
        parts += [np.zeros(int(gap * SR), np.float32), clip]
    parts.append(np.zeros(int(gaps_s[-1] * SR), np.float32))
    audio = np.concatenate(parts)
    return audio + (np.random.default_rng(0).standard_normal(audio.size) * 1e-4).astype(np.float32)


@needs_espeak
@pytest.mark.parametrize(
    "gaps_s",
    [
        (0.0, 1.0, 1.9, 2.6, 2.3),  # speech at the very start; silences of 1.0-2.7 s (Silero)
        (0.4, 3.0, 2.12, 0.5, 1.2),  # the file ends 1.1 s after the speech: its chunk runs to the end
        (1.5, 2.2, 0.0),  # speech running to the end of the file
        (0.3, 2.2, 2.23, 2.26, 1.0),  # Silero measures 2.21-2.27 s of silence: just over the 2 s
    ],
)
def test_one_vad_pass_finds_the_chunks_of_faster_whispers_own(gaps_s):
    """Whisper hears the chunks its built-in ``vad_filter=True`` would cut, rebuilt from our single pass."""
    from faster_whisper.vad import VadOptions, get_speech_timestamps

    audio = _sentences(gaps_s)
    expected = get_speech_timestamps(audio, VadOptions())
    assert transcription_chunks(speech_chunks(audio), audio.size) == expected


def test_same_words_as_faster_whispers_own_vad(media):
    ex = WhisperBase()
    audio = np.asarray(media.audio, np.float32)
    ours = ex.transcribe(audio, transcription_chunks(speech_chunks(audio), audio.size))
    assert ours == ex.transcribe(audio, None)  # None: faster-whisper runs its own VAD pass


def test_no_audio_track(no_audio_media):
    out = WhisperBase().extract(no_audio_media, {})
    assert out.notes == ["no audio track"]
    assert all(lines == [] for lines in out.lines)
    assert out.columns == {"asr_language": [None] * 3, "asr_words": [None] * 3}


def test_silent_short_and_blank(tiny_media, blank_media):
    ex = WhisperBase()
    for m in (tiny_media, blank_media):
        out = ex.extract(m, {})
        assert len(out.lines) == len(m.windows)
        assert all(lines == [] for lines in out.lines)
        assert "no speech detected" in out.notes


@needs_espeak
def test_tiny_en_transcribes_a_short_clip():
    audio = np.zeros(int(0.3 * SR), np.float32)
    ex = WhisperTinyEn()
    out = ex.extract(make_media(duration_s=0.3, audio=audio, with_video=False), {})
    assert len(out.lines) == 1
    audio = np.zeros(6 * SR, np.float32)
    mix_in(audio, espeak("Please take the train from platform nine."), 1.0)
    out = ex.extract(make_media(duration_s=6.0, audio=audio, with_video=False), {})
    text = " ".join(ln.text.lower() for lines in out.lines for ln in lines)
    assert "train" in text and "platform" in text
    assert out.columns["asr_language"] == ["en"] * 3
