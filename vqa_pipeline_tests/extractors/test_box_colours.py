"""Colours inside the detector's boxes (extractors/box_colours.py), on real frames: the lecturer's red
polo shirt in the PsychoPy intro, the cyclist's black top in the bikes street clip."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from vqa_pipeline.extractors.box_colours import box_colours, colours_line, parse_colours, region
from vqa_pipeline_tests.models.conftest import BIKES_FRAME

PSYCHOPY_FRAME = Path(__file__).parent.parent / "data" / "psychopy_frame3s.jpg"
"""psychopy_jwpIntro.mp4 at 3.0 s, 480x360: a talking head in a red polo shirt in front of shelves."""


def _rgb(path: Path) -> np.ndarray:
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"))


def test_a_talking_heads_shirt_and_a_cyclists_top(nanodet_objects):
    rgb = _rgb(PSYCHOPY_FRAME)
    dets = nanodet_objects.detect(rgb, 0.35)
    found = box_colours(rgb, dets, ["person", "car"], 0.5)
    assert set(found) == {"person"}  # books are not asked for, no car
    assert found["person"][1][0] == "red"  # the polo shirt, not the beige wall or the face
    rgb = _rgb(BIKES_FRAME)
    found = box_colours(rgb, nanodet_objects.detect(rgb, 0.35), ["person"], 0.5)
    assert found["person"][1][0] == "black"


def test_whole_frame_colours_would_not_say_red():
    # the reason for the box: the frame's own dominant colours are the wall and shelves
    from vqa_pipeline.extractors.visual import dominant_colors

    assert dominant_colors(_rgb(PSYCHOPY_FRAME), top=1) != ["red"]


def test_person_regions_standing_figure_and_bust():
    rgb = np.zeros((100, 100, 3), np.uint8)
    standing = region(rgb, "person", (0.4, 0.0, 0.6, 1.0))  # 20 x 100 px: torso at 20-50 % of the height
    assert standing.shape[:2] == (30, 10)
    bust = region(rgb, "person", (0.0, 0.0, 1.0, 1.0))  # wide: the lower 40 %, the middle half
    assert bust.shape[:2] == (40, 50)
    assert region(rgb, "car", (0.0, 0.0, 1.0, 1.0)).shape[:2] == (60, 60)
    # a box outside the frame or a sliver gives no colour
    assert box_colours(rgb, [_Det("person", 0.9, (0.5, 0.5, 0.51, 0.51))], ["person"], 0.5) == {}


def test_the_line_round_trips():
    line = colours_line({"car": (0.6, ["white"]), "person": (0.9, ["red", "pink"])})
    assert line == "colours: person (clothes): red, pink; car: white"
    assert parse_colours(line) == {"person": ["red", "pink"], "car": ["white"]}
    assert parse_colours("dominant colours: gray") == {} and colours_line({}) == ""


class _Det:
    def __init__(self, label: str, score: float, box: tuple) -> None:
        self.label, self.score, self.box = label, score, box
