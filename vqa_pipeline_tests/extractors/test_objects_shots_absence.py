"""Issue 12 follow-ups: shot frames let the detector see a short shot between two keyframes, and a
"nothing seen" line answers "how many people …?" with 0 and "is there a car …?" with no."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from vqa_pipeline.answer.counting import absence_answer, not_seen, parse_objects
from vqa_pipeline.answer.pack import PackedLine
from vqa_pipeline.extractors.objects import Objects
from vqa_pipeline.media.decode import decode
from vqa_pipeline_tests.models.conftest import BIKES_FRAME


def _bikes() -> np.ndarray:
    with Image.open(BIKES_FRAME) as im:
        return np.asarray(im.convert("RGB"))


def _write(path: Path, seconds: float, fps: int, shown: tuple[float, float] | None) -> Path:
    """A black clip, the real street frame (one cyclist) shown during ``shown`` (start, end) s."""
    import av

    bikes = _bikes()
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = 640, 272, "yuv420p"
        stream.time_base = Fraction(1, fps)
        for i in range(int(seconds * fps)):
            on = shown is not None and shown[0] <= i / fps < shown[1]
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(bikes if on else np.zeros_like(bikes)), format="rgb24")
            frame.pts = i
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


# --------------------------------------------------------------------------------------------
# shot frames: a 0.6 s shot between the keyframes at 1 s and 3 s


def test_a_short_shot_between_keyframes_becomes_a_shot_frame_and_the_detector_sees_it(tmp_path, nanodet_objects):
    media = decode(_write(tmp_path / "short.mp4", 8.0, 25, (1.2, 1.8)), "short")
    assert [kf.t_s for kf in media.keyframes] == [1.0, 3.0, 5.0, 7.0]  # all black
    shots = [(kf.t_s, kf.window_index) for kf in media.shot_frames]
    assert any(1.2 <= t < 1.8 and w == 0 for t, w in shots), shots  # the cut into the shot
    assert any(1.8 <= t < 2.5 for t, _ in shots), shots  # and the cut back to black
    assert len(shots) <= 4  # nothing where the picture does not change

    out = nanodet_objects.extract(media, {})
    assert out.columns["objects_labels"][0] == ["person"]
    assert [ln.text for ln in out.lines[0]][0] == "objects: 1 person; appears: person"
    assert out.stats["shot_frames"] >= 1

    # the keyframes alone (the behaviour before shot frames) never see the cyclist
    sparse = Objects(shots_per_window=0)
    sparse._detector = nanodet_objects._detector
    before = sparse.extract(media, {})
    assert all(not labels for labels in before.columns["objects_labels"])
    assert "person" in not_seen(before.lines[0][-1].text)


def test_a_still_clip_gets_no_shot_frames(tmp_path):
    media = decode(_write(tmp_path / "still.mp4", 6.0, 10, (0.0, 6.0)), "still")
    assert media.shot_frames == [] and len(media.keyframes) == 3


# --------------------------------------------------------------------------------------------
# "nothing seen": the line, the answer rules, and end to end through a real LanceDB index


def _line(text: str, start: float, end: float, video: str = "v") -> PackedLine:
    return PackedLine(video_id=video, source=f"/x/{video}.mp4", kind="visual", start_s=start, end_s=end, text=text)


def test_the_absence_rules():
    none = _line("objects: no person, car, dog seen in 0.0-6.0 s (3 frames)", 0.0, 6.0)
    assert not_seen(none.text) == {"person", "car", "dog"} and parse_objects(none.text) == {}
    assert absence_answer("How many people are at the launch pad?", [none]) == ("0 people", none)
    assert absence_answer("Is there a car in the rocket video?", [none]) == ("No", none)
    assert absence_answer("Are there any dogs?", [none]) == ("No", none)
    # a line sitting in one window is cited for the span its text claims
    one = _line("objects: no person seen in 0.0-30.0 s (15 frames)", 0.0, 2.0)
    got = absence_answer("How many people are there?", [one])
    assert got is not None and (got[1].start_s, got[1].end_s) == (0.0, 30.0)
    assert absence_answer("Is there a bus in the video?", [none]) is None  # not named: no claim
    assert absence_answer("Isn't there a car in the video?", [none]) is None  # negated
    assert absence_answer("What colour is the car?", [none]) is None  # not about presence or a count
    # another line of the same video counts the class: no "0" (a long file's other segment saw one)
    seen = _line("objects: 2 people; appears: person", 400.0, 402.0)
    assert absence_answer("How many people are there?", [none, seen]) is None
    assert absence_answer("How many people are there?", [none, _line("objects: 2 people", 1.0, 3.0, "w")]) is not None


@pytest.fixture(scope="module")
def black_db(tmp_path_factory, nanodet_objects):
    from vqa_pipeline.indexing.pipeline import index_paths
    from vqa_pipeline.store import Store

    root = tmp_path_factory.mktemp("black")
    clip = _write(root / "black.mp4", 6.0, 10, None)
    # visual-stats too (as in the lite profile): the absence line is no search text, the picture line is
    index_paths([clip], Store(root / "db"), extractors=["visual-stats", "nanodet", "e5-small", "evidence-units"])
    return root / "db"


def test_a_black_video_gets_a_no_person_seen_line_and_count_questions_answer_0(black_db):
    from vqa_pipeline.query import ask
    from vqa_pipeline.store import Store

    rows = sorted(Store(black_db).windows.to_arrow().to_pylist(), key=lambda r: r["start_s"])
    assert [[ln["text"] for ln in r["objects_lines"] or ()] for r in rows] == [
        ["objects: no person, bicycle, car, motorcycle, bus, truck, dog, cat, bird, horse seen in 0.0-6.0 s (3 frames)"],
        [], []]
    # one evidence unit, in the first window only, and no search text (BM25 or vector) of any window
    assert [sum(u["text"].startswith("objects: no person") for u in r["units"] or ()) for r in rows] == [1, 0, 0]
    assert "objects" not in (rows[0]["evidence_text"] or "") and "dominant colours: black" in rows[0]["evidence_text"]
    assert all("objects" not in (r["evidence_text"] or "") for r in rows)

    a = ask("How many people are in the video?", db=black_db, extractive_only=True)
    assert not a.abstained and a.answer == "0 people [0.0-6.0s]", a.answer
    assert (a.citations[0].start, a.citations[0].end) == (0.0, 6.0)  # the span the line speaks for
    b = ask("Is there a car in the video?", db=black_db, extractive_only=True)
    assert not b.abstained and b.answer == "No [0.0-6.0s]", b.answer
    c = ask("How many boats are in the video?", db=black_db, extractive_only=True)  # not named in the line
    assert c.abstained and "objects: no" not in c.answer, c.answer  # and the line is never quoted as such
