"""Action tags from body keypoints over time: simple rules a reader can check by hand.

A pose is a ``[17, 3]`` array of ``(x, y, score)`` in image pixels (y grows downwards), keypoints
in the COCO order MoveNet uses (nose, eyes, ears, shoulders, elbows, wrists, hips, knees, ankles;
left before right). A keypoint counts only when its score is at least ``MIN_SCORE``.

Lengths are measured in the person's own **scale**: the torso length (shoulder midpoint to hip
midpoint) when shoulders and hips are seen, else the shoulder width (a head-and-shoulders shot).
So the rules do not depend on how large the person is in the frame.

Per sample (one frame):

- **raising a hand**: a wrist is at least ``RAISED_ABOVE`` scales above its own shoulder (above
  the top of the shoulders, in practice above the chin). A hand resting on the chest or a
  gesturing hand below the shoulders does not count.
- **standing**: hips, knees and ankles are seen (at least one side each), the torso is upright
  (the shoulder→hip line within 30° of vertical), the thigh is near vertical (hip→knee within 35°
  of vertical) and the ankles are at least ``LEGS_BELOW`` scales below the hips (legs extended).
- **sitting**: hips and knees seen, torso upright, and the thigh is near horizontal (hip→knee
  within 35° of horizontal) with a thigh at least 0.3 scales long (a thigh pointing at the camera
  is too foreshortened to judge, and is left unjudged).

Over time (the samples of a window, each with its time):

- **walking**: at least two standing samples no more than ``MAX_GAP_S`` apart in which the hip
  midpoint moves sideways at ``WALK_SPEED`` scales per second or more, and the body's scale
  changes by less than 30 % between them (a guard against the model jumping to another person).
- **waving**: at least three samples within ``MAX_GAP_S`` of each other with the same hand raised
  in each, whose wrist moves sideways (relative to its shoulder) by at least ``WAVE_SWING`` scales
  and then back (one reversal of direction). Only possible when frames are sampled at least every
  ~1 s; with the default 2 s keyframes a window has one sample and waving is never claimed.

Window tags: ``walking`` replaces ``standing``; ``standing`` / ``sitting`` are the majority posture
of the window's samples; ``raising a hand`` when any sample has a raised hand; ``waving`` replaces
``raising a hand``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

NOSE, L_SHOULDER, R_SHOULDER, L_ELBOW, R_ELBOW, L_WRIST, R_WRIST = 0, 5, 6, 7, 8, 9, 10
L_HIP, R_HIP, L_KNEE, R_KNEE, L_ANKLE, R_ANKLE = 11, 12, 13, 14, 15, 16

MIN_SCORE = 0.3
RAISED_ABOVE = 0.25
LEGS_BELOW = 1.1
UPRIGHT_DEG = 30.0
THIGH_DEG = 35.0
WALK_SPEED = 0.35
WAVE_SWING = 0.2
MAX_GAP_S = 2.5

TAGS = ("standing", "sitting", "walking", "raising a hand", "waving")


def _seen(pose: np.ndarray, *idx: int) -> list[int]:
    return [i for i in idx if pose[i, 2] >= MIN_SCORE]


def _mid(pose: np.ndarray, idx: list[int]) -> np.ndarray | None:
    return pose[idx, :2].mean(axis=0) if idx else None


def _angle_from_vertical(a: np.ndarray, b: np.ndarray) -> float:
    d = b - a
    return float(np.degrees(np.arctan2(abs(d[0]), abs(d[1]) + 1e-9)))


def scale(pose: np.ndarray) -> float | None:
    """Torso length, else shoulder width, in pixels; ``None`` when neither can be measured."""
    sh = _mid(pose, _seen(pose, L_SHOULDER, R_SHOULDER))
    hp = _mid(pose, _seen(pose, L_HIP, R_HIP))
    if sh is not None and hp is not None:
        torso = float(np.linalg.norm(sh - hp))
        if torso > 1e-6:
            return torso
    if len(_seen(pose, L_SHOULDER, R_SHOULDER)) == 2:
        width = float(np.linalg.norm(pose[L_SHOULDER, :2] - pose[R_SHOULDER, :2]))
        if width > 1e-6:
            return width
    return None


def raised_hands(pose: np.ndarray) -> list[str]:
    """``"left"``/``"right"`` for each wrist ``RAISED_ABOVE`` scales above its shoulder."""
    s = scale(pose)
    if s is None:
        return []
    out = []
    for side, wrist, shoulder in (("left", L_WRIST, L_SHOULDER), ("right", R_WRIST, R_SHOULDER)):
        if _seen(pose, wrist, shoulder) == [wrist, shoulder] and pose[shoulder, 1] - pose[wrist, 1] >= RAISED_ABOVE * s:
            out.append(side)
    return out


def _upright(pose: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    sh = _mid(pose, _seen(pose, L_SHOULDER, R_SHOULDER))
    hp = _mid(pose, _seen(pose, L_HIP, R_HIP))
    if sh is None or hp is None or hp[1] <= sh[1] or _angle_from_vertical(sh, hp) > UPRIGHT_DEG:
        return None
    return sh, hp


def posture(pose: np.ndarray) -> str | None:
    """``"standing"``, ``"sitting"`` or ``None`` (not enough of the body seen to say)."""
    up = _upright(pose)
    s = scale(pose)
    if up is None or s is None:
        return None
    _, hp = up
    knees = _seen(pose, L_KNEE, R_KNEE)
    if not knees:
        return None
    knee = pose[knees, :2].mean(axis=0)
    thigh = float(np.linalg.norm(knee - hp))
    if thigh < 0.3 * s:
        return None
    thigh_vertical = _angle_from_vertical(hp, knee)
    ankles = _seen(pose, L_ANKLE, R_ANKLE)
    if thigh_vertical <= THIGH_DEG and knee[1] > hp[1] and ankles:
        ankle = pose[ankles, :2].mean(axis=0)
        if ankle[1] - hp[1] >= LEGS_BELOW * s and ankle[1] > knee[1]:
            return "standing"
    if thigh_vertical >= 90.0 - THIGH_DEG:
        return "sitting"
    return None


def _walking(samples: Sequence[tuple[float, np.ndarray]]) -> bool:
    standing = [(t, p) for t, p in samples if posture(p) == "standing"]
    for (t0, p0), (t1, p1) in zip(standing, standing[1:], strict=False):
        dt = t1 - t0
        s0, s1 = scale(p0), scale(p1)
        if not (0 < dt <= MAX_GAP_S) or s0 is None or s1 is None or abs(s1 - s0) > 0.3 * max(s0, s1):
            continue
        h0 = _mid(p0, _seen(p0, L_HIP, R_HIP))
        h1 = _mid(p1, _seen(p1, L_HIP, R_HIP))
        if h0 is not None and h1 is not None and abs(h1[0] - h0[0]) / ((s0 + s1) / 2) / dt >= WALK_SPEED:
            return True
    return False


def _waving(samples: Sequence[tuple[float, np.ndarray]]) -> bool:
    for side, wrist, shoulder in (("left", L_WRIST, L_SHOULDER), ("right", R_WRIST, R_SHOULDER)):
        run: list[tuple[float, float]] = []  # (time, wrist x - shoulder x in scales) while raised
        for t, p in samples:
            s = scale(p)
            if side not in raised_hands(p) or s is None:
                run = []
                continue
            if run and t - run[-1][0] > MAX_GAP_S:
                run = []
            run.append((t, float(p[wrist, 0] - p[shoulder, 0]) / s))
            if len(run) >= 3:
                d = np.diff([x for _, x in run])
                big = d[np.abs(d) >= WAVE_SWING]
                if big.size >= 2 and np.any(np.sign(big[1:]) != np.sign(big[:-1])):
                    return True
    return False


def window_tags(samples: Sequence[tuple[float, np.ndarray]],
                previous: tuple[float, np.ndarray] | None = None) -> list[str]:
    """Action tags (from :data:`TAGS`) for one window's ``(time_s, pose)`` samples.

    ``previous``: the last sample before the window (the window's first sample moves relative to
    it: walking across a window edge, or with one sample per window, is still seen). It counts for
    walking only.
    """
    samples = sorted(samples, key=lambda s: s[0])
    tags: list[str] = []
    counted = [x for x in (posture(p) for _, p in samples) if x is not None]
    if _walking(([previous] if previous is not None else []) + list(samples)):
        tags.append("walking")
    elif counted:
        best = max(("standing", "sitting"), key=counted.count)
        if counted.count(best) * 2 >= len(counted):
            tags.append(best)
    if _waving(samples):
        tags.append("waving")
    elif any(raised_hands(p) for _, p in samples):
        tags.append("raising a hand")
    return tags
