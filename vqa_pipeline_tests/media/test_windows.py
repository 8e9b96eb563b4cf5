import pytest

from vqa_pipeline.media.types import Window, WindowingOptions
from vqa_pipeline.media.windows import keyframe_times, make_windows, window_id


def spans(duration, **kw):
    return [(w.start_s, w.end_s) for w in make_windows("v", duration, WindowingOptions(**kw))]


def test_default_windows_cover_the_media_and_cut_the_last():
    assert spans(5.0) == [(0.0, 2.0), (2.0, 4.0), (4.0, 5.0)]
    assert spans(4.0) == [(0.0, 2.0), (2.0, 4.0)]


def test_a_sliver_at_the_end_joins_the_previous_window():
    assert spans(4.1) == [(0.0, 2.0), (2.0, 4.1)]


def test_short_clip_gets_one_window():
    assert spans(0.3) == [(0.0, 0.3)]


def test_overlapping_windows():
    assert spans(7.0, length_s=4.0, stride_s=2.0) == [(0.0, 4.0), (2.0, 6.0), (4.0, 7.0)]


def test_window_ids_are_stable_and_ordered():
    ws = make_windows("abc", 6.0, WindowingOptions())
    assert [w.window_id for w in ws] == ["abc-00000", "abc-00001", "abc-00002"]
    assert window_id("abc", 1) == ws[1].window_id


@pytest.mark.parametrize("length,stride", [(0.5, 0.5), (9.0, 2.0), (2.0, 3.0)])
def test_invalid_windowing_is_refused(length, stride):
    with pytest.raises(ValueError):
        WindowingOptions(length_s=length, stride_s=stride)


def test_long_windows_get_several_keyframes():
    assert keyframe_times(Window("a", "v", 0, 0.0, 8.0), 2.0) == [1.0, 3.0, 5.0, 7.0]
    assert keyframe_times(Window("a", "v", 0, 0.0, 2.0), 2.0) == [1.0]
    assert keyframe_times(Window("a", "v", 0, 4.0, 4.3), 2.0) == [4.15]
