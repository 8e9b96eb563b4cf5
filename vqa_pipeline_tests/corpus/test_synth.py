"""The synthetic-media primitives: what each one promises, checked on its output."""

from __future__ import annotations

import numpy as np
import pytest

from vqa_pipeline.corpus import synth


def _peak_hz(x: np.ndarray) -> float:
    spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    return float(np.fft.rfftfreq(len(x), 1 / synth.SR)[spectrum.argmax()])


def test_tones_have_their_frequency_length_and_fades():
    x = synth.tone(1000.0, 0.5, amp=0.3, fade_ms=10)
    assert len(x) == 8000 and abs(_peak_hz(x) - 1000.0) < 5
    assert abs(x[0]) < 1e-9 and abs(x[-1]) < 1e-3 and np.abs(x).max() == pytest.approx(0.3, abs=1e-3)
    struck = synth.tone(660.0, 0.6, amp=0.5, decay_per_s=3.0)
    assert np.abs(struck[-800:]).max() < 0.2 * np.abs(struck[:800]).max()
    siren = synth.warble(1000.0, 300.0, 2.0, 3.0)
    assert 650 < _peak_hz(siren[:1600]) < 1350 and len(siren) == 48000


def test_pink_noise_is_seeded_has_no_dc_and_falls_with_frequency():
    a, b = synth.pink_noise(2.0, seed=3), synth.pink_noise(2.0, seed=3)
    assert np.array_equal(a, b) and not np.array_equal(a, synth.pink_noise(2.0, seed=4))
    assert abs(a.mean()) < 1e-3 and np.abs(a).max() == pytest.approx(0.45)
    power = np.abs(np.fft.rfft(a)) ** 2
    f = np.fft.rfftfreq(len(a), 1 / synth.SR)
    low, high = power[(f > 100) & (f < 200)].mean(), power[(f > 3200) & (f < 6400)].mean()
    assert 10 < low / high < 60  # 1/f: about 32x less power per Hz five octaves up


@pytest.mark.parametrize("kind", synth.SOUND_KINDS)
def test_every_sound_event_kind(kind):
    x, freq = synth.sound_event(kind, seed=1)
    assert 0.2 <= len(x) / synth.SR <= 3.0 and 0.3 < np.abs(x).max() <= 0.5
    if freq is not None:
        assert abs(_peak_hz(x) - freq) < 0.05 * freq


def test_unknown_sound_and_shape_are_refused():
    with pytest.raises(ValueError, match="unknown sound kind 'cowbell'; known: beep, tone"):
        synth.sound_event("cowbell")
    with pytest.raises(ValueError, match="unknown shape"):
        synth.draw_shape(synth.solid_frame((0, 0, 0), size=(8, 8)), "star", (4, 4), 2, (255, 0, 0))


def test_mix_in_adds_at_the_time_and_refuses_to_overrun():
    track = np.zeros(synth.SR, np.float32)
    assert synth.mix_in(track, np.ones(1600), 0.25) == (0.25, 0.35)
    assert track[4000:5600].sum() == 1600 and track.sum() == 1600
    with pytest.raises(ValueError, match="does not fit a 1.00 s track"):
        synth.mix_in(track, np.ones(1600), 0.95)


def test_text_box_is_centred_and_shrinks_to_fit():
    size, box, _ = synth.text_box_layout("PLATFORM 9", font_size=40, center_xy=(320, 150), pad_px=10)
    assert size == 40 and abs((box[0] + box[2]) / 2 - 320) <= 1 and abs((box[1] + box[3]) / 2 - 150) <= 1
    long = "Change for Cambridge: Platform 4"
    size, box, _ = synth.text_box_layout(long, font_size=40, center_xy=(320, 150), max_text_width=500)
    assert 20 < size < 40 and box[2] - box[0] <= 500 + 2 * 10
    size, box, _ = synth.text_box_layout(long * 3, font_size=40, center_xy=(320, 150), max_text_width=300)
    assert size == 20 and box[2] - box[0] > 300  # never below min_font_size: the box overflows instead
    img = synth.solid_frame((0, 0, 200), size=(640, 360))
    x0, y0, x1, y1 = synth.draw_text_box(img, "HELLO", font_size=40, center_xy=(320, 150))
    px = np.asarray(img)
    assert tuple(px[y0 + 2, x0 + 2]) == (20, 20, 20) and (px[y0:y1, x0:x1] == 255).any()  # box, white text
    assert tuple(px[5, 5]) == (0, 0, 200)


def test_shapes_and_glide():
    img = synth.solid_frame((0, 0, 0), size=(100, 100))
    synth.draw_shape(img, "ball", (50, 50), 10, (255, 0, 0))
    px = np.asarray(img)
    assert tuple(px[50, 50]) == (255, 0, 0) and tuple(px[41, 41]) == (0, 0, 0)  # a circle, not a square
    assert synth.glide((0, 10), (100, 10), 2.0, 4.0, 3.0) == (50.0, 10.0)
    assert synth.glide((0, 10), (100, 10), 2.0, 4.0, 4.5) is None


def test_encode_mp4_keeps_frame_times_and_audio(tmp_path):
    import av

    frames = [synth.solid_frame((200, 0, 0) if t < 1.0 else (0, 200, 0), size=(64, 48)) for t in (0.0, 0.5, 1.0, 1.5)]
    audio = synth.tone(440.0, 2.0, amp=0.3)
    path = synth.encode_mp4(tmp_path / "c.mp4", frames, fps=2, audio=audio, start_s=3.0,
                            x264_options={"preset": "ultrafast"})
    with av.open(str(path)) as c:
        assert c.streams.video[0].index == 0 and len(c.streams.audio) == 1
        times = [round(float(f.time), 3) for f in c.decode(video=0)]
    assert times == [3.0, 3.5, 4.0, 4.5]
    with pytest.raises(ValueError, match="no frames"):
        synth.encode_mp4(tmp_path / "empty.mp4", [], fps=2)


def test_write_audio_round_trips(tmp_path):
    import soundfile as sf

    x = synth.tone(1000.0, 0.5, amp=0.3)
    data, rate = sf.read(str(synth.write_audio(tmp_path / "a.wav", x)))
    assert rate == synth.SR and np.abs(data - x).max() < 1e-4


def test_speech_is_trimmed_and_normalized(espeak_ng):
    x = synth.speech("Platform nine.", peak=0.6)
    assert np.abs(x).max() == pytest.approx(0.6, abs=1e-6) and 0.4 < len(x) / synth.SR < 2.0
    assert x[0] == 0.0 and x[-1] == 0.0  # 3 ms fades
    assert np.abs(x[:160]).max() > 0.01 * 0.6 and np.abs(x[-160:]).max() > 0.01 * 0.6  # no silence left at the ends


def test_chord_trim_and_normalize():
    x = synth.chord((440.0, 480.0), 1.0, amp=0.35)
    spectrum = np.abs(np.fft.rfft(x))
    f = np.fft.rfftfreq(len(x), 1 / synth.SR)
    assert set(np.round(f[np.argsort(spectrum)[-2:]])) == {440.0, 480.0} and np.abs(x).max() <= 0.35 + 1e-9
    padded = np.concatenate([np.zeros(800), x, np.zeros(1600)])
    trimmed, cut_s = synth.trim_silence(padded, level=0.01)
    assert cut_s == pytest.approx(0.05, abs=0.002) and len(trimmed) <= len(x)
    assert np.abs(synth.normalize_peak(trimmed, 0.6)).max() == pytest.approx(0.6)
    with pytest.raises(ValueError, match="silent"):
        synth.trim_silence(np.zeros(100))


def test_text_anchors_boxes_and_font_families():
    img = synth.solid_frame((0, 0, 0), size=(200, 100))
    synth.draw_box(img, (10, 10, 50, 30), (0, 200, 0))
    synth.draw_text(img, "I", (150, 50), font_size=40, text_rgb=(255, 255, 255), anchor="mm")
    px = np.asarray(img)
    assert tuple(px[20, 30]) == (0, 200, 0) and tuple(px[5, 5]) == (0, 0, 0)
    ys, xs = np.nonzero((px == 255).all(axis=2))
    assert abs(xs.mean() - 150) < 3 and abs(ys.mean() - 50) < 6  # "mm": the middle of the text at (150, 50)
    box = synth.draw_text_line(img, "TITLE", font_size=20, top_y=70)
    assert abs((box[0] + box[2]) / 2 - 100) <= 2 and box[1] >= 70
    mono = synth.font(20, family="mono", bold=False)
    assert mono.getlength("iii") == mono.getlength("WWW")  # fixed width, unlike sans
    sans = synth.font(20)
    assert sans.getlength("iii") < sans.getlength("WWW")
