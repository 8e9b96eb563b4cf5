"""The one "reuse the last result when the frame barely changed" helper the detectors share."""

from __future__ import annotations

import numpy as np

from vqa_pipeline.extractors.frame_reuse import ReuseUnchanged, thumbnail


def _grey(level: int) -> np.ndarray:
    return np.full((72, 128, 3), level, np.uint8)


def test_an_unchanged_frame_reuses_the_result_and_a_changed_one_runs_the_model():
    calls: list[int] = []

    def look(rgb: np.ndarray) -> str:
        calls.append(int(rgb[0, 0, 0]))
        return f"seen {int(rgb[0, 0, 0])}"

    reuse = ReuseUnchanged(look, max_mad=2 / 255)
    assert reuse(_grey(10)) == "seen 10"
    assert reuse(_grey(11)) == "seen 10"  # 1/255 apart: the last result stands
    assert reuse(_grey(200)) == "seen 200"  # a cut: the model runs
    assert calls == [10, 200] and (reuse.looked, reuse.reused) == (2, 1)


def test_the_reference_is_the_last_frame_looked_at_so_a_slow_drift_is_caught():
    seen: list[int] = []
    reuse = ReuseUnchanged(lambda rgb: seen.append(int(rgb[0, 0, 0])) or len(seen), max_mad=2.5 / 255)
    for level in range(100, 106):  # each step 1/255, under the threshold; the drift adds up
        reuse(_grey(level))
    assert seen == [100, 103]  # 103 is 3/255 from 100, the last frame looked at
    assert reuse.looked == 2 and reuse.reused == 4


def test_grey_and_colour_thumbnails():
    red = np.zeros((36, 64, 3), np.uint8)
    red[..., 0] = 255
    assert thumbnail(red, (32, 18)).shape == (18, 32, 3)
    grey = thumbnail(red, (32, 32), grey=True)
    assert grey.shape == (32, 32) and 0.29 < float(grey.mean()) < 0.31  # ITU-R 601 luma of pure red
    # a colour change at equal luma is seen in colour, not in grey
    reuse_grey = ReuseUnchanged(lambda rgb: object(), max_mad=0.05, size=(32, 32), grey=True)
    reuse_colour = ReuseUnchanged(lambda rgb: object(), max_mad=0.05)
    a, b = np.zeros((36, 64, 3), np.uint8), np.zeros((36, 64, 3), np.uint8)
    a[..., 0], b[..., 2] = 100, 255  # dark red and blue: luma 30 and 29
    for r in (reuse_grey, reuse_colour):
        r(a)
        r(b)
    assert reuse_colour.looked == 2 and reuse_grey.looked == 1
