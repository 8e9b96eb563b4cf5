import numpy as np
import pytest

from vqa_pipeline.media.decode import decode, probe
from vqa_pipeline.media.types import AUDIO_SAMPLE_RATE, MediaError, WindowingOptions
from vqa_pipeline_tests.media_factory import ffmpeg, make_clip, make_wav

BLUE, RED = (0, 0, 200), (200, 0, 0)


def dominant(kf) -> str:
    r, g, b = kf.rgb().reshape(-1, 3).mean(axis=0)
    return "red" if r > b else "blue"


def test_decode_windows_keyframes_and_audio(tmp_path):
    clip = make_clip(tmp_path / "a.mp4", duration_s=5.0, scenes=[(0.0, BLUE), (2.5, RED)])
    m = decode(clip, "vid")
    assert m.info.duration_s == pytest.approx(5.0, abs=0.1)
    assert [(w.start_s, w.end_s) for w in m.windows][:2] == [(0.0, 2.0), (2.0, 4.0)]
    # One keyframe per 2 s window, at the window centre, showing what is on screen then.
    assert [k.window_index for k in m.keyframes] == [w.index for w in m.windows]
    assert m.keyframes[0].t_s == pytest.approx(1.0, abs=0.1)
    assert dominant(m.keyframes[0]) == "blue" and dominant(m.keyframes[1]) == "red"
    # 16 kHz mono float audio with the 440 Hz tone.
    assert m.audio.dtype == np.float32 and m.audio.ndim == 1
    assert m.audio.size == pytest.approx(5.0 * AUDIO_SAMPLE_RATE, rel=0.03)
    seg = m.audio[AUDIO_SAMPLE_RATE : 2 * AUDIO_SAMPLE_RATE]
    peak = np.argmax(np.abs(np.fft.rfft(seg))) * AUDIO_SAMPLE_RATE / seg.size
    assert peak == pytest.approx(440, abs=5)
    # Thumbs at ~4 fps for cuts and motion.
    assert m.thumbs.shape[1:] == (18, 32, 3) and 15 <= len(m.thumbs) <= 22


def test_long_windows_get_more_keyframes(tmp_path):
    clip = make_clip(tmp_path / "a.mp4", duration_s=8.0, audio=False)
    m = decode(clip, "vid", WindowingOptions(length_s=8.0, stride_s=8.0))
    assert len(m.windows) == 1
    assert [round(k.t_s) for k in m.keyframes] == [1, 3, 5, 7]


def test_non_zero_start_time_is_subtracted(tmp_path):
    clip = make_clip(tmp_path / "late.mp4", duration_s=4.0, start_s=10.0, scenes=[(0.0, BLUE), (2.0, RED)])
    m = decode(clip, "vid")
    assert m.info.start_time_s == pytest.approx(10.0, abs=0.1)
    assert m.info.duration_s == pytest.approx(4.0, abs=0.15)
    assert dominant(m.keyframes[0]) == "blue" and dominant(m.keyframes[1]) == "red"


def test_variable_frame_rate_uses_frame_timestamps(tmp_path):
    # Frames last 0.1 s and 0.3 s alternately: counting frames at a nominal rate would drift.
    clip = make_clip(tmp_path / "vfr.mp4", duration_s=8.0, vfr=True, audio=False, scenes=[(0.0, BLUE), (6.0, RED)])
    m = decode(clip, "vid")
    assert m.info.duration_s == pytest.approx(8.0, abs=0.35)
    colors = [dominant(k) for k in m.keyframes]
    assert colors == ["blue", "blue", "blue", "red"]


def test_rotated_phone_video_is_turned_upright(tmp_path):
    src = make_clip(tmp_path / "src.mp4", duration_s=2.0, size=(320, 180), audio=False, marker=True)
    rot = tmp_path / "rot.mp4"
    ffmpeg("-display_rotation", "90", "-i", str(src), "-c", "copy", str(rot))
    m = decode(rot, "vid")
    assert m.info.rotation_deg == 90
    img = m.keyframes[0].rgb()
    assert img.shape[:2] == (320, 180)  # portrait now
    # Rotated 90 degrees counterclockwise: the top-left marker ends up bottom-left.
    h, w = img.shape[:2]
    assert img[h - 5, 5].mean() > 200 and img[5, 5].mean() < 150


def test_huge_frames_are_downscaled(tmp_path):
    clip = make_clip(tmp_path / "4k.mp4", duration_s=0.5, size=(3840, 2160), audio=False, fps=4)
    m = decode(clip, "vid")
    assert max(m.keyframes[0].width, m.keyframes[0].height) == 1280


def test_audio_only_file_becomes_windows(tmp_path):
    wav = make_wav(tmp_path / "a.wav", duration_s=3.0)
    m = decode(wav, "vid")
    assert not m.info.has_video and m.info.has_audio
    assert len(m.windows) == 2 and m.keyframes == []
    assert m.audio.size == pytest.approx(3 * AUDIO_SAMPLE_RATE, rel=0.01)


def test_short_clip_without_audio(tmp_path):
    clip = make_clip(tmp_path / "short.mp4", duration_s=0.3, audio=False)
    m = decode(clip, "vid")
    assert len(m.windows) == 1 and m.windows[0].end_s == pytest.approx(0.3, abs=0.11)
    assert len(m.keyframes) == 1 and m.audio.size == 0


@pytest.mark.parametrize(
    "content,reason",
    [
        (b"", "empty file"),
        (b"hello, this is a text file\n" * 20, "not a readable media file"),
        (bytes(range(256)) * 64, "not a readable media file"),
    ],
)
def test_bad_files_raise_media_error_with_one_line(tmp_path, content, reason):
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(content)
    with pytest.raises(MediaError) as err:
        decode(bad, "vid")
    assert reason in str(err.value) and "\n" not in str(err.value)


def test_truncated_mp4_is_an_error_or_shorter_never_a_crash(tmp_path):
    clip = make_clip(tmp_path / "full.mp4", duration_s=4.0)
    data = clip.read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(MediaError):
        decode(cut, "vid")  # moov atom at the end is gone: nothing can be decoded
    fast = tmp_path / "fast.mp4"
    ffmpeg("-i", str(clip), "-c", "copy", "-movflags", "+faststart", str(fast))
    data = fast.read_bytes()
    cut.write_bytes(data[: int(len(data) * 0.6)])
    m = decode(cut, "vid")  # index at the front: the first part still decodes
    assert 0.5 < m.info.duration_s <= 4.1


def test_probe_reports_streams(tmp_path):
    info = probe(make_clip(tmp_path / "a.mp4", duration_s=2.0))
    assert info.has_video and info.has_audio and info.width == 320 and info.video_codec == "h264"
