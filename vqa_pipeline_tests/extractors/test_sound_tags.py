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


def test_segments_tag_like_the_whole_file(yamnet, tmp_path):
    """A long file's segments start their audio anywhere (here 20 s and 42 s); the
    patches still lie on the whole file's 0.48 s grid, so every window gets the same tags."""
    from vqa_pipeline.corpus import synth
    from vqa_pipeline.media.decode import decode, decode_segments

    parts = []
    for i in range(14):  # 70 s: beeps, chords, noise and silence in turn, 5 s each
        kind = i % 4
        if kind == 0:
            parts.append(beep(5.0, amp=0.4))
        elif kind == 1:
            parts.append(synth.chord([262.0 + 20 * i, 330.0, 392.0], 5.0).astype(np.float32))
        elif kind == 2:
            parts.append(noise_burst(5.0, seed=i))
        else:
            parts.append(np.zeros(5 * SR, np.float32))
    wav = synth.write_audio(tmp_path / "long.wav", np.concatenate(parts))
    whole = decode(wav, "vid")
    want = yamnet.extract(whole, {})
    segs = list(decode_segments(wav, "vid", segment_s=23.0, halo_s=4.0))
    assert len(segs) >= 3 and all(s.audio_offset % 7680 for s in segs[1:3])  # off the patch grid
    got: dict[str, list] = {k: [] for k in want.columns}
    lines = []
    for s in segs:
        out = yamnet.extract(s, {})
        lo, hi = s.core_range
        for k in got:
            got[k] += out.columns[k][lo:hi]
        lines += out.lines[lo:hi]
    assert got == want.columns
    assert [[ln.text for ln in w] for w in lines] == [[ln.text for ln in w] for w in want.lines]
    assert sum(1 for tags in got["audio_tags"] if tags) > 20
