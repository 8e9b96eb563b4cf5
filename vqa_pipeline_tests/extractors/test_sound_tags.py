"""YAMNet tags on known sounds: speech, a 1 kHz sine, pink noise, silence."""

from __future__ import annotations

import numpy as np
import pytest

from vqa_pipeline.extractors.sound_tags import Yamnet, log_mel, mel_matrix, patches
from vqa_pipeline_tests.extractors.conftest import (
    BEEP_S,
    NOISE_S,
    SENTENCE,
    SR,
    beep,
    espeak,
    needs_espeak,
    noise_burst,
    window_of,
)

NOISE_LABELS = {"Pink noise", "White noise", "Noise", "Static", "Hiss", "Waterfall", "Water", "Stream", "Rain"}


@pytest.fixture(scope="module")
def yamnet() -> Yamnet:
    y = Yamnet()
    y.load()
    return y


def _top(y: Yamnet, wave: np.ndarray, k: int = 3) -> list[str]:
    sc, _ = y.scores(wave)
    return [lab for lab, _ in y.top_labels(sc.max(axis=0), k)]


def test_frontend_shapes():
    w = mel_matrix()
    assert w.shape == (257, 64) and np.all(w[0] == 0) and np.all(w.sum(axis=0) > 0)
    assert log_mel(np.zeros(SR, np.float32)).shape == (98, 64)
    pats, starts = patches(np.zeros(SR, np.float32))
    assert pats.shape == (2, 96, 64) and np.allclose(starts, [0.0, 0.48])
    assert np.allclose(pats, np.log(0.001))
    pats, _ = patches(np.zeros(100, np.float32))  # shorter than one STFT window: padded
    assert pats.shape == (1, 96, 64)


@needs_espeak
def test_speech_is_speech(yamnet):
    assert _top(yamnet, espeak(SENTENCE), 1) == ["Speech"]


def test_sine_is_a_beep(yamnet):
    assert {"Beep, bleep", "Sine wave"} & set(_top(yamnet, beep(2.0), 2))


def test_pink_noise_is_noise(yamnet):
    assert set(_top(yamnet, noise_burst(2.0), 3)) & NOISE_LABELS


def test_silence_is_silence(yamnet):
    assert _top(yamnet, np.zeros(2 * SR, np.float32), 1) == ["Silence"]


def test_windows(lite_outputs, media):
    out = lite_outputs["audio"]
    n = len(media.windows)
    assert all(len(v) == n for v in out.columns.values()) and len(out.lines) == n
    beep = window_of(media, sum(BEEP_S) / 2)
    labels = [t["label"] for t in out.columns["audio_tags"][beep]]
    assert {"Beep, bleep", "Sine wave"} & set(labels[:2])
    assert "beep" in out.lines[beep][0].text or "sine" in out.lines[beep][0].text
    # the silent window right after the beep is not tagged as a beep, and flags silence
    after = beep + 1
    assert not {"Beep, bleep", "Sine wave"} & {t["label"] for t in out.columns["audio_tags"][after]}
    assert out.columns["audio_silence"][after] and not out.columns["audio_silence"][beep]
    assert "beep" not in " ".join(ln.text for ln in out.lines[after])
    noise = window_of(media, sum(NOISE_S) / 2)
    assert {t["label"] for t in out.columns["audio_tags"][noise][:3]} & NOISE_LABELS
    # no window gets a silence line twice in a row, and leading silence gets none
    sil_lines = [i for i in range(n) if any(ln.text == "silence" for ln in out.lines[i])]
    assert 0 not in sil_lines and all(b - a > 1 for a, b in zip(sil_lines, sil_lines[1:]))
    assert not any(out.columns["audio_music"])


@needs_espeak
def test_speech_flag(lite_outputs, media):
    out = lite_outputs["audio"]
    assert out.columns["audio_speech"][1] and out.columns["audio_speech"][2]
    assert not out.columns["audio_speech"][window_of(media, sum(BEEP_S) / 2)]
    assert out.lines[1] == []  # speech alone is not a notable sound line


def test_no_audio_and_short(yamnet, no_audio_media, tiny_media, blank_media):
    out = yamnet.extract(no_audio_media, {})
    assert out.notes == ["no audio track"] and all(lines == [] for lines in out.lines)
    for m in (tiny_media, blank_media):
        out = yamnet.extract(m, {})
        assert len(out.lines) == len(m.windows)
        assert all(out.columns["audio_silence"]) and all(lines == [] for lines in out.lines)
