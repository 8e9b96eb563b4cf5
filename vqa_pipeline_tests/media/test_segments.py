"""Long files are decoded in segments: what the segments own adds up to exactly the whole-file decode."""

import numpy as np
import pytest

from vqa_pipeline.media.decode import decode, decode_segments
from vqa_pipeline.media.types import AUDIO_SAMPLE_RATE, WindowingOptions
from vqa_pipeline.store.rows import window_rows
from vqa_pipeline_tests.media_factory import make_clip, make_wav

BLUE, RED, GREEN = (0, 0, 200), (200, 0, 0), (0, 200, 0)


def owned(media):
    lo, hi = media.core_range
    return media.windows[lo:hi]


@pytest.mark.parametrize("options", [WindowingOptions(), WindowingOptions(length_s=3.0, stride_s=1.5)])
def test_segments_add_up_to_the_whole_file(tmp_path, options):
    clip = make_clip(tmp_path / "a.mp4", duration_s=31.3, fps=5.0, tone_hz=700,
                     scenes=[(0.0, BLUE), (9.5, RED), (21.0, GREEN)])
    whole = decode(clip, "vid", options)
    segs = list(decode_segments(clip, "vid", options, segment_s=6.0, halo_s=3.0))
    assert len(segs) >= 3 and [s.segment for s in segs] == list(range(len(segs)))
    assert [s.last_segment for s in segs] == [False] * (len(segs) - 1) + [True]
    # Every window is owned by exactly one segment, with the whole file's id and times.
    assert [w for s in segs for w in owned(s)] == whole.windows
    assert segs[-1].info == whole.info
    # A segment's context (halo) reaches into its neighbours.
    assert segs[1].windows[0].start_s < owned(segs[1])[0].start_s
    assert segs[1].windows[-1].start_s > owned(segs[1])[-1].start_s
    for s in segs:
        # The audio is the whole file's, from the segment's first window on.
        assert s.audio_offset == int(s.windows[0].start_s * AUDIO_SAMPLE_RATE)
        assert s.audio.size > 0
        np.testing.assert_array_equal(s.audio, whole.audio[s.audio_offset : s.audio_offset + s.audio.size])
        for w in s.windows:
            np.testing.assert_array_equal(s.window_audio(w), whole.window_audio(w))
        # The keyframes and thumbs of its windows are the whole file's.
        mine = {w.index for w in s.windows}
        assert [(k.t_s, k.window_index, k.jpeg) for k in s.keyframes] == [
            (k.t_s, k.window_index, k.jpeg) for k in whole.keyframes if k.window_index in mine]
        hit = np.isin(whole.thumb_times_s, s.thumb_times_s)
        assert s.thumbs.shape[0] == hit.sum() > 0
        np.testing.assert_array_equal(s.thumbs, whole.thumbs[hit])
        assert s.thumb_times_s.min() <= s.windows[0].start_s and s.thumb_times_s.max() >= s.windows[-1].start_s
    # The rows written per segment are the whole file's rows.
    rows = [r for s in segs for r in window_rows(s, "a.mp4", "h").to_pylist()]
    assert rows == window_rows(whole, "a.mp4", "h").to_pylist()


def test_a_short_file_is_one_segment_equal_to_decode(tmp_path):
    clip = make_clip(tmp_path / "a.mp4", duration_s=7.0, scenes=[(0.0, BLUE), (3.0, RED)])
    (seg,) = decode_segments(clip, "vid", segment_s=600.0)
    whole = decode(clip, "vid")
    assert seg.core is None and seg.audio_offset == 0 and seg.last_segment
    assert seg.windows == whole.windows and seg.info == whole.info
    np.testing.assert_array_equal(seg.audio, whole.audio)
    assert [k.jpeg for k in seg.keyframes] == [k.jpeg for k in whole.keyframes]


def test_an_audio_file_in_segments_keeps_every_sample(tmp_path):
    wav = make_wav(tmp_path / "a.wav", duration_s=25.1, tone_hz=500)
    whole = decode(wav, "vid")
    segs = list(decode_segments(wav, "vid", segment_s=8.0, halo_s=2.0))
    assert len(segs) == 3
    assert [w for s in segs for w in owned(s)] == whole.windows
    # What the segments own covers the track once: sample ranges of owned windows tile it.
    covered = np.concatenate([s.audio[s.sample_index(owned(s)[0].start_s):] [: s.sample_index(owned(s)[-1].end_s)
                                                                           - s.sample_index(owned(s)[0].start_s)]
                              for s in segs])
    np.testing.assert_array_equal(covered, whole.audio[: covered.size])
    assert covered.size == pytest.approx(whole.audio.size, abs=2)


def _cover_art_mkv(path, audio_s: float):
    """One MJPEG picture at 0 s (like a music file's cover art) and ``audio_s`` of AAC audio."""
    import av

    from vqa_pipeline.corpus import synth

    track = np.concatenate([synth.tone(440.0 + 40 * i, 1.0, amp=0.3) for i in range(int(audio_s))]).astype(np.float32)
    with av.open(str(path), "w", format="matroska") as out:
        vs = out.add_stream("mjpeg", rate=1)
        vs.width, vs.height, vs.pix_fmt = 64, 48, "yuvj420p"
        as_ = out.add_stream("aac", rate=AUDIO_SAMPLE_RATE, layout="mono")
        img = np.zeros((48, 64, 3), np.uint8)
        img[:, :32] = RED
        img[:, 32:] = BLUE
        vf = av.VideoFrame.from_ndarray(img, format="rgb24")
        vf.pts = 0
        out.mux(vs.encode(vf))
        out.mux(vs.encode(None))
        for pos in range(0, track.size, 1024):
            af = av.AudioFrame.from_ndarray(track[None, pos : pos + 1024], format="fltp", layout="mono")
            af.sample_rate, af.pts = AUDIO_SAMPLE_RATE, pos
            out.mux(as_.encode(af))
        out.mux(as_.encode(None))
    return path


def test_a_picture_that_stops_early_still_shows_in_every_segment(tmp_path, monkeypatch):
    """Cover art (one frame at 0 s) over a long audio track: the single pass gives every window
    that picture; so must every segment, though the audio runs far ahead of the video."""
    from vqa_pipeline.extractors.visual import VisualStats
    from vqa_pipeline.media import decode as decode_module

    # The real lag allowance (120 s) needs a file of several minutes; the behaviour is the same.
    monkeypatch.setattr(decode_module, "STREAM_LAG_S", 10.0)
    mkv = _cover_art_mkv(tmp_path / "cover.mkv", audio_s=60)
    whole = decode(mkv, "vid")
    assert len(whole.windows) == 30 and {k.window_index for k in whole.keyframes} == set(range(30))
    segs = list(decode_segments(mkv, "vid", segment_s=20.0, halo_s=4.0))
    assert len(segs) == 3
    assert [w for s in segs for w in owned(s)] == whole.windows
    assert segs[-1].info == whole.info
    visual = VisualStats()
    whole_visual = visual.extract(whole, {}).columns
    for s in segs:
        mine = {w.index for w in s.windows}
        assert [(k.t_s, k.window_index, k.jpeg) for k in s.keyframes] == [
            (k.t_s, k.window_index, k.jpeg) for k in whole.keyframes if k.window_index in mine]
        np.testing.assert_array_equal(s.thumbs, whole.thumbs)
        cols = visual.extract(s, {}).columns
        lo, hi = s.core_range
        for i, w in enumerate(s.windows[lo:hi], start=lo):
            assert cols["visual_brightness"][i] == whole_visual["visual_brightness"][w.index] is not None
            assert cols["visual_colors"][i] == whole_visual["visual_colors"][w.index]
