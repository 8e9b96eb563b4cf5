"""Scene cuts, colours and motion on drawn frames."""

from __future__ import annotations

import numpy as np

from vqa_pipeline.extractors.visual import PALETTE, VisualStats, color_names, dominant_colors
from vqa_pipeline_tests.extractors.conftest import CUT_AT_S, MOTION_S, window_of


def test_palette():
    cases = {
        "red": (200, 30, 30),
        "orange": (240, 140, 20),
        "yellow": (240, 220, 30),
        "green": (30, 160, 40),
        "blue": (20, 60, 200),
        "purple": (120, 40, 170),
        "pink": (250, 150, 180),
        "brown": (120, 70, 30),
        "black": (10, 10, 10),
        "white": (245, 245, 245),
        "gray": (128, 128, 128),
    }
    px = np.array([list(cases.values())], np.uint8)
    assert [PALETTE[i] for i in color_names(px)] == list(cases)
    frame = np.zeros((18, 32, 3), np.uint8)
    frame[:, :20] = (20, 60, 200)
    frame[:, 20:] = (245, 245, 245)
    assert dominant_colors(frame[None]) == ["blue", "white"]


def test_cut_colours_and_motion(lite_outputs, media):
    out = lite_outputs["visual"]
    n = len(media.windows)
    cut = window_of(media, CUT_AT_S)
    assert out.columns["visual_cut"] == [i == cut for i in range(n)]
    assert out.columns["visual_colors"][0] == ["blue"]
    assert out.columns["visual_colors"][cut] == ["red"]
    assert out.lines[cut][0].text.startswith(f"scene cut at {CUT_AT_S:.1f}s")
    assert "dominant colours: red" in out.lines[cut][0].text
    assert out.lines[0][0].text == "dominant colours: blue"
    moving = window_of(media, MOTION_S[0] + 0.5)
    assert "motion: high" in out.lines[moving][0].text
    motion = out.columns["visual_motion"]
    assert motion[moving] > 5 * max(motion[i] for i in range(n) if i != moving)
    # only notable changes make lines: the static blue/red windows stay quiet
    quiet = [i for i in range(n) if i not in (0, cut, moving)]
    assert all(out.lines[i] == [] for i in quiet)
    assert all(0.0 <= b <= 1.0 for b in out.columns["visual_brightness"])


def test_no_video_and_short(audio_only_media, tiny_media, blank_media):
    ex = VisualStats()
    out = ex.extract(audio_only_media, {})
    assert out.notes == ["no video track"] and all(lines == [] for lines in out.lines)
    out = ex.extract(tiny_media, {})
    assert len(out.lines) == 1 and out.columns["visual_colors"] == [["blue"]]
    out = ex.extract(blank_media, {})
    assert out.columns["visual_colors"][0] == ["black"] and not any(out.columns["visual_cut"])
    assert out.columns["visual_brightness"][0] < 0.05


def test_keyframes_stand_in_for_missing_thumbs(media):
    from dataclasses import replace

    no_thumbs = replace(media, thumbs=np.zeros((0, 18, 32, 3), np.uint8), thumb_times_s=np.zeros(0))
    out = VisualStats().extract(no_thumbs, {})
    assert out.columns["visual_cut"][window_of(media, CUT_AT_S)]


def _corrupt(kf):
    """The same keyframe with its JPEG cut short: a real, undecodable file (PIL: truncated image)."""
    from dataclasses import replace

    return replace(kf, jpeg=kf.jpeg[: len(kf.jpeg) // 3])


def test_undecodable_keyframes_are_counted_and_noted(media):
    from dataclasses import replace

    kfs = list(media.keyframes)
    bad = {1, 5}
    kfs = [_corrupt(kf) if i in bad else kf for i, kf in enumerate(kfs)]
    broken = replace(media, keyframes=kfs, thumbs=np.zeros((0, 18, 32, 3), np.uint8), thumb_times_s=np.zeros(0))
    out = VisualStats().extract(broken, {})
    assert out.stats["frames_undecodable"] == 2 and out.stats["frames"] == len(kfs) - 2
    [note] = out.notes
    assert note.startswith(f"2 keyframe(s) could not be decoded and were skipped; first at {kfs[1].t_s:.2f}s: OSError")
    assert note.endswith("(and 1 more)")
    assert out.columns["visual_cut"][window_of(media, CUT_AT_S)]  # the good frames still give the cut

    nothing = replace(broken, keyframes=[_corrupt(kf) for kf in media.keyframes])
    out = VisualStats().extract(nothing, {})
    assert out.notes[0] == "no frames" and out.notes[1].startswith(f"{len(media.keyframes)} keyframe(s) could not")
    assert out.stats["frames_undecodable"] == len(media.keyframes)


def test_thumbnails_decode_nothing_and_note_nothing(lite_outputs):
    out = lite_outputs["visual"]
    assert out.notes == [] and out.stats["frames_undecodable"] == 0
