"""The action-tag rules of ``pose_actions`` on keypoint sequences whose truth is known by construction.

A stick figure is drawn in pixels (y down) with a torso of ``scale`` pixels; each test moves one
part and checks the tag that rule is documented to give (and the ones it must not give).
"""

from __future__ import annotations

import numpy as np

from vqa_pipeline.extractors import pose_actions as pa


def figure(x: float = 300.0, s: float = 100.0, *, sitting: bool = False, raise_hand: str | None = None,
           wrist_dx: float = 0.0, hand_on_chest: bool = False, legs: bool = True, score: float = 0.9) -> np.ndarray:
    """A front-facing person: shoulders at y=200, hips ``s`` below, head above; ``x`` is the body centre."""
    p = np.zeros((17, 3), np.float32)
    top, hip_y = 200.0, 200.0 + s
    p[pa.NOSE] = (x, top - 0.5 * s, score)
    p[1] = (x - 0.1 * s, top - 0.6 * s, score)
    p[2] = (x + 0.1 * s, top - 0.6 * s, score)
    p[3] = (x - 0.2 * s, top - 0.55 * s, score)
    p[4] = (x + 0.2 * s, top - 0.55 * s, score)
    # the person's left is the picture's right (a person facing the camera)
    p[pa.L_SHOULDER] = (x + 0.25 * s, top, score)
    p[pa.R_SHOULDER] = (x - 0.25 * s, top, score)
    p[pa.L_ELBOW] = (x + 0.3 * s, top + 0.45 * s, score)
    p[pa.R_ELBOW] = (x - 0.3 * s, top + 0.45 * s, score)
    p[pa.L_WRIST] = (x + 0.3 * s, top + 0.9 * s, score)
    p[pa.R_WRIST] = (x - 0.3 * s, top + 0.9 * s, score)
    if hand_on_chest:
        p[pa.R_WRIST] = (x, top + 0.3 * s, score)
    if raise_hand:
        w, e, sh = (pa.L_WRIST, pa.L_ELBOW, pa.L_SHOULDER) if raise_hand == "left" else (pa.R_WRIST, pa.R_ELBOW, pa.R_SHOULDER)
        p[e] = (p[sh, 0], top - 0.4 * s, score)
        p[w] = (p[sh, 0] + wrist_dx * s, top - 0.8 * s, score)
    p[pa.L_HIP] = (x + 0.15 * s, hip_y, score)
    p[pa.R_HIP] = (x - 0.15 * s, hip_y, score)
    if not legs:
        p[pa.L_HIP:, 2] = 0.05
        return p
    if sitting:  # thighs towards the camera-side, horizontal; shins down
        p[pa.L_KNEE] = (x + 0.6 * s, hip_y + 0.05 * s, score)
        p[pa.R_KNEE] = (x + 0.55 * s, hip_y + 0.05 * s, score)
        p[pa.L_ANKLE] = (x + 0.6 * s, hip_y + 0.6 * s, score)
        p[pa.R_ANKLE] = (x + 0.55 * s, hip_y + 0.6 * s, score)
    else:
        p[pa.L_KNEE] = (x + 0.15 * s, hip_y + 0.6 * s, score)
        p[pa.R_KNEE] = (x - 0.15 * s, hip_y + 0.6 * s, score)
        p[pa.L_ANKLE] = (x + 0.15 * s, hip_y + 1.2 * s, score)
        p[pa.R_ANKLE] = (x - 0.15 * s, hip_y + 1.2 * s, score)
    return p


def test_standing_and_sitting_postures():
    assert pa.posture(figure()) == "standing"
    assert pa.posture(figure(sitting=True)) == "sitting"
    assert pa.window_tags([(0.0, figure())]) == ["standing"]
    assert pa.window_tags([(0.0, figure(sitting=True))]) == ["sitting"]


def test_a_lying_or_half_seen_body_gets_no_posture():
    lying = figure()[:, [1, 0, 2]].copy()  # the same figure turned by 90 degrees
    assert pa.posture(lying) is None
    assert pa.posture(figure(legs=False)) is None
    assert pa.window_tags([(0.0, figure(legs=False))]) == []


def test_unsure_keypoints_are_not_used():
    assert pa.window_tags([(0.0, figure(raise_hand="right", score=0.2))]) == []


def test_raising_a_hand_needs_the_wrist_above_the_shoulder():
    assert pa.raised_hands(figure(raise_hand="right")) == ["right"]
    assert pa.raised_hands(figure(raise_hand="left")) == ["left"]
    assert pa.window_tags([(0.0, figure(raise_hand="right"))]) == ["standing", "raising a hand"]
    assert pa.raised_hands(figure(hand_on_chest=True)) == []
    assert pa.raised_hands(figure()) == []


def test_raising_a_hand_in_a_head_and_shoulders_shot():
    assert pa.window_tags([(0.0, figure(legs=False, raise_hand="left"))]) == ["raising a hand"]


def test_walking_is_sideways_motion_of_a_standing_body():
    walk = [(0.0, figure(x=200)), (1.0, figure(x=260))]  # 0.6 torso lengths in 1 s
    assert pa.window_tags(walk) == ["walking"]
    # across a window edge: the window has one sample, the previous one comes from the window before
    assert pa.window_tags([walk[1]], previous=walk[0]) == ["walking"]
    # the previous sample never adds a posture of its own
    assert pa.window_tags([(1.0, figure(x=200))], previous=(0.0, figure(x=200, sitting=True))) == ["standing"]


def test_no_walking_when_still_too_slow_too_far_apart_or_another_person():
    assert pa.window_tags([(0.0, figure(x=200)), (1.0, figure(x=205))]) == ["standing"]
    assert pa.window_tags([(0.0, figure(x=200)), (4.0, figure(x=400))]) == ["standing"]  # gap > 2.5 s
    # the model jumped to a person twice the size: not a step
    assert pa.window_tags([(0.0, figure(x=200, s=100)), (1.0, figure(x=300, s=200))]) == ["standing"]
    # a sitting body that "moves" is not walking
    assert "walking" not in pa.window_tags([(0.0, figure(x=200, sitting=True)), (1.0, figure(x=300, sitting=True))])


def test_waving_is_a_raised_hand_swinging_back_and_forth():
    wave = [(0.0, figure(raise_hand="right", wrist_dx=-0.3)), (0.5, figure(raise_hand="right", wrist_dx=0.3)),
            (1.0, figure(raise_hand="right", wrist_dx=-0.3))]
    assert pa.window_tags(wave) == ["standing", "waving"]
    still = [(t, figure(raise_hand="right")) for t in (0.0, 0.5, 1.0)]
    assert pa.window_tags(still) == ["standing", "raising a hand"]
    one_way = [(0.0, figure(raise_hand="right", wrist_dx=-0.3)), (0.5, figure(raise_hand="right", wrist_dx=0.0)),
               (1.0, figure(raise_hand="right", wrist_dx=0.3))]
    assert pa.window_tags(one_way) == ["standing", "raising a hand"]
    # one sample per window (the default 2 s keyframes) never claims waving
    assert pa.window_tags(wave[:1]) == ["standing", "raising a hand"]


def test_majority_posture_over_the_window():
    samples = [(0.0, figure(sitting=True)), (0.5, figure(sitting=True)), (1.0, figure())]
    assert pa.window_tags(samples) == ["sitting"]
    assert set(pa.window_tags(samples)) <= set(pa.TAGS)
