"""The objects nanodet_objects (NanoDet) on real and edge frames, and counting answers from an indexed clip."""

from __future__ import annotations

import io
from fractions import Fraction
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from PIL import Image

from vqa_pipeline.answer.counting import appearance_answer, asked_label, count_answer, parse_objects
from vqa_pipeline.answer.pack import PackedLine
from vqa_pipeline.extractors.objects import Objects
from vqa_pipeline.extractors.registry import create_extractor
from vqa_pipeline.media.types import DecodedMedia, Keyframe, MediaInfo, Window, WindowingOptions
from vqa_pipeline_tests.models.conftest import BIKES_FRAME


def _jpeg(rgb: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="JPEG", quality=90)
    return buf.getvalue()


def _media(frames: list[np.ndarray | None], has_video: bool = True) -> DecodedMedia:
    """One 2 s window per entry, its keyframe at the middle (``None``: no keyframe there)."""
    windows = [Window(f"w{i}", "v", i, 2.0 * i, 2.0 * i + 2) for i in range(len(frames))]
    kfs = [Keyframe(2.0 * i + 1, i, _jpeg(f), f.shape[1], f.shape[0]) for i, f in enumerate(frames) if f is not None]
    h, w = (frames[0].shape[:2] if frames and frames[0] is not None else (0, 0))
    info = MediaInfo(duration_s=2.0 * len(frames), has_video=has_video, has_audio=False, width=w, height=h)
    return DecodedMedia("v", info, WindowingOptions(), windows, keyframes=kfs)


def _bikes() -> np.ndarray:
    with Image.open(BIKES_FRAME) as im:
        return np.asarray(im.convert("RGB"))


def _check_columns(ex: Objects, out, n: int) -> None:
    for f in ex.fields():
        assert len(out.columns[f.name]) == n
        pa.array(out.columns[f.name], type=f.type)  # storable as declared


def test_counts_lines_appearance_and_skipped_frames(nanodet_objects):
    bikes, black = _bikes(), np.zeros((272, 640, 3), np.uint8)
    media = _media([black, bikes, bikes, black, bikes])
    out = nanodet_objects.extract(media, {})
    _check_columns(nanodet_objects, out, 5)
    texts = [[ln.text for ln in lines] for lines in out.lines]
    # black: no objects line; the file's "nothing seen" line (the classes never seen in 0-10 s) is there
    assert texts[0] == ["objects: no bicycle, car, motorcycle, bus, truck, dog, cat, bird, horse seen in 0.0-10.0 s "
                        "(5 frames)"]
    assert (out.lines[0][0].start_s, out.lines[0][0].end_s) == (0.0, 2.0)  # it sits in one window
    shirt = "colours: person (clothes): black"  # the cyclist's top, inside his box
    assert texts[1] == ["objects: 1 person; appears: person", shirt]
    assert texts[2] == ["objects: 1 person", shirt]  # the same frame again: counted, no new appearance
    assert texts[3] == ["objects: none; disappears: person"]
    assert texts[4] == ["objects: 1 person; appears: person", shirt]
    assert all(ln.kind == "visual" for lines in out.lines for ln in lines)
    [person] = out.columns["objects_counts"][1]
    assert person["label"] == "person" and person["count"] == 1 and person["score"] > 0.7
    assert out.columns["objects_labels"][3] == [] and out.columns["objects_labels"][1] == ["person"]
    boxes = out.columns["objects_boxes"][1]
    assert any(b["label"] == "person" and b["t_s"] == 3.0 and len(b["box"]) == 4 for b in boxes)
    # window 2 repeats window 1's frame: its detections are reused (the detector ran 4 times for 5 frames)
    assert out.stats["frames_detected"] == 4 and out.stats["frames_skipped"] == 1


@pytest.mark.parametrize("shape", [(16, 16, 3), (4320, 7680, 3)], ids=["16x16", "8K"])
def test_tiny_and_huge_frames(nanodet_objects, shape):
    frame = np.zeros(shape, np.uint8)
    if shape[0] > 1000:  # the real frame scaled up to 8K: the person is still found
        frame = np.asarray(Image.fromarray(_bikes()).resize((shape[1], shape[0])))
    out = nanodet_objects.extract(_media([frame]), {})
    _check_columns(nanodet_objects, out, 1)
    labels = out.columns["objects_labels"][0]
    assert labels == (["person"] if shape[0] > 1000 else [])


def test_no_video_track_is_one_note(nanodet_objects):
    out = nanodet_objects.extract(_media([None, None], has_video=False), {})
    assert out.notes == ["no video track"] and out.lines == [[], []]
    _check_columns(nanodet_objects, out, 2)


def test_a_corrupt_keyframe_is_reported_and_the_rest_kept(nanodet_objects):
    media = _media([_bikes(), _bikes()])
    bad = media.keyframes[0]
    media.keyframes[0] = Keyframe(bad.t_s, bad.window_index, b"not a jpeg", bad.width, bad.height)
    out = nanodet_objects.extract(media, {})
    assert out.columns["objects_labels"][1] == ["person"] and out.columns["objects_labels"][0] is None
    assert len(out.notes) == 1 and "could not be decoded" in out.notes[0]


# --------------------------------------------------------------------------------------------
# the answer rules on their own


def _line(text: str, start: float, video: str = "v") -> PackedLine:
    return PackedLine(video_id=video, source=f"/x/{video}.mp4", kind="visual", start_s=start, end_s=start + 2, text=text)


def test_counting_and_appearance_rules():
    assert parse_objects("objects: 3 people, 1 car, 2 trucks; appears: car") == {"person": 3, "car": 1, "truck": 2}
    assert parse_objects("dominant colours: red") == {}
    assert asked_label("How many people are in the street?") == "person"
    assert asked_label("how many cars?") == "car"
    assert asked_label("how many cell phones are there") == "cell phone"
    lines = [_line("objects: 1 car", 0), _line("objects: 3 people, 1 car; appears: person", 2)]
    got = count_answer("How many people walk past?", lines)
    assert got is not None and got[0] == "3 people" and got[1].start_s == 2
    assert count_answer("How many dogs are there?", lines) is None
    timeline = [_line("objects: 1 car; appears: car", 4), _line("objects: none; disappears: car", 8),
                _line("objects: 1 car; appears: car", 12)]
    first = appearance_answer("When does the car appear?", timeline)
    assert first is not None and first[0] == "car appears" and first[1].start_s == 4
    gone = appearance_answer("When does the car disappear?", timeline)
    assert gone is not None and gone[0] == "car disappears" and gone[1].start_s == 8
    assert appearance_answer("When does the dog appear?", timeline) is None


# --------------------------------------------------------------------------------------------
# indexed end to end: a real LanceDB table, BM25 and the text vectors, then `ask`


def _write_clip(path: Path) -> None:
    """8 s at 5 fps: 0-4 s black, 4-8 s the real street frame with the cyclist."""
    import av

    bikes = _bikes()
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=5)
        stream.width, stream.height, stream.pix_fmt = 640, 272, "yuv420p"
        stream.time_base = Fraction(1, 5)
        for i in range(40):
            rgb = bikes if i >= 20 else np.zeros_like(bikes)
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
            frame.pts = i
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)


@pytest.fixture(scope="module")
def street_db(tmp_path_factory, nanodet_objects):
    from vqa_pipeline.indexing.pipeline import index_paths
    from vqa_pipeline.store import Store

    root = tmp_path_factory.mktemp("objects")
    clip = root / "street.mp4"
    _write_clip(clip)
    index_paths([clip], Store(root / "db"), extractors=["nanodet", "e5-small", "evidence-units"])
    return root / "db"


def test_object_lines_are_searchable_by_bm25_and_by_text_vector(street_db):
    from vqa_pipeline.store import Store

    store = Store(street_db)
    rows = sorted(store.windows.to_arrow().to_pylist(), key=lambda r: r["start_s"])
    texts = [r["evidence_text"] for r in rows]
    # the black start's "nothing seen" line is evidence, not search text
    assert rows[0]["objects_lines"][0]["text"].startswith("objects: no bicycle, car,")
    assert texts[:2] == [None, None]
    assert texts[2] == "objects: 1 person; appears: person | colours: person (clothes): black"
    assert rows[2]["objects_model"] == "nanodet-coco80-human-models-3.0.4@3" and rows[2]["emb_text"] is not None
    from vqa_pipeline.store.search import fts_search

    hits = fts_search(store.windows, "person", limit=3)
    assert hits and {h[0] for h in hits} <= {r["window_id"] for r in rows[2:]}


def test_counting_and_when_questions_are_answered_from_the_detector(street_db):
    from vqa_pipeline.query import ask

    a = ask("How many people are in the street?", db=street_db, extractive_only=True)
    assert not a.abstained and a.answer in ("1 person [4.0-6.0s]", "1 person [6.0-8.0s]"), a.answer
    w = ask("When does the person appear?", db=street_db, extractive_only=True)
    assert w.answer == "person appears [4.0-6.0s]", w.answer
    assert w.citations[0].start == 4.0


def test_only_plain_counting_questions_skip_the_ranker_threshold():
    from vqa_pipeline.answer.counting import is_plain_count

    assert is_plain_count("How many people are in the video?")
    assert is_plain_count("how many cars can you see")
    assert not is_plain_count("How many people attended the 1961 inauguration?")
    assert not is_plain_count("How many minutes should it bake?")


def test_questions_about_detected_things_ask_for_visual_evidence():
    from vqa_pipeline.answer.counting import asks_what_is_seen
    from vqa_pipeline.answer.question import analyze

    assert "visual" in analyze("When does the car appear?").kinds
    assert asks_what_is_seen(analyze("How many dogs are there?"))
    assert asks_what_is_seen(analyze("When does the dog leave?"))
    # a thing the detector names is not a visual question by itself
    assert not asks_what_is_seen(analyze("How does the trailer describe the bird?"))
    assert not asks_what_is_seen(analyze("Who wrote the book being read?"))
    assert analyze("How many people attended the 1961 inauguration?").kinds == frozenset()


def test_the_yolo_tag_names_the_weights_content(tmp_path, monkeypatch):
    """New weights saved under the same file name make the stored objects columns stale."""
    monkeypatch.delenv("VQA_DETECTOR_WEIGHTS", raising=False)
    a, b = tmp_path / "a" / "best.pt", tmp_path / "b" / "best.pt"
    for path, data in ((a, b"one checkpoint"), (b, b"another checkpoint")):
        path.parent.mkdir()
        path.write_bytes(data)
    tag_a = create_extractor("yolo", weights=str(a)).model_tag
    assert tag_a.startswith("yolo-best.pt-") and tag_a != create_extractor("yolo", weights=str(b)).model_tag
    assert tag_a == create_extractor("yolo", weights=str(a)).model_tag
