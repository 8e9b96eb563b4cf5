"""Long recordings are indexed segment by segment: the same windows and columns as in one piece,
sentences crossing a segment edge stay whole, and a run stopped half-way resumes cleanly."""

import numpy as np
import pytest

import vqa_pipeline.media.decode as decode_module
from vqa_pipeline.corpus import synth
from vqa_pipeline.indexing.pipeline import index_paths
from vqa_pipeline.store import Store
from vqa_pipeline_tests.media_factory import make_clip

BLUE, RED, GREEN = (0, 0, 200), (200, 0, 0), (0, 200, 0)
SCENES = [(0.0, BLUE), (7.0, RED), (13.0, GREEN), (25.0, BLUE)]


@pytest.fixture
def short_segments(monkeypatch):
    """Segments of 8 s of windows with 4 s of context, so a 30 s clip has three."""
    monkeypatch.setattr(decode_module, "SEGMENT_S", 8.0)
    monkeypatch.setattr(decode_module, "HALO_S", 4.0)


def rows(store: Store, columns: list[str]) -> list[dict]:
    out = store.windows.to_arrow().select(["window_id", *columns]).to_pylist()
    return sorted(out, key=lambda r: r["window_id"])


def _whole_and_segmented(tmp_path, clip, names, monkeypatch):
    """``clip`` indexed in one piece and in 8 s segments with 4 s of context: ``(whole store,
    segmented store, the segmented run's file outcome)``."""
    whole = Store(tmp_path / "whole")
    index_paths([clip], whole, extractors=names)
    monkeypatch.setattr(decode_module, "SEGMENT_S", 8.0)
    monkeypatch.setattr(decode_module, "HALO_S", 4.0)
    seg = Store(tmp_path / "seg")
    return whole, seg, index_paths([clip], seg, extractors=names).files[0]


def test_segmented_indexing_writes_the_same_rows(tmp_path, monkeypatch):
    clip = make_clip(tmp_path / "c.mp4", duration_s=30.5, fps=5.0, scenes=SCENES, tone_hz=600)
    names = ["visual-stats", "yamnet"]
    whole, seg, f = _whole_and_segmented(tmp_path, clip, names, monkeypatch)
    assert f.status == "indexed" and f.windows == 16 and f.extractors == {"visual-stats": "ok", "yamnet": "ok"}
    base = ["video_id", "window_index", "start_s", "end_s", "keyframe_ts"]
    visual = ["visual_lines", "visual_brightness", "visual_motion", "visual_colors", "visual_cut"]
    assert rows(seg, base + visual) == rows(whole, base + visual)
    assert sum(r["visual_cut"] for r in rows(seg, ["visual_cut"])) == 3  # every scene cut, none at a segment edge
    # Sound tags: every window has them (the patch grid restarts per segment, so scores may differ a little).
    assert all(r["audio_tags"] and r["audio_model"] for r in rows(seg, ["audio_tags", "audio_model"]))
    recs = seg.extraction_records(f.video_id)
    assert {k[1]: r.status for k, r in recs.items()} == {"visual": "ok", "audio": "ok"}
    assert seg.get_video(f.video_id)["n_windows"] == 16
    # A second run finds nothing to do.
    again = index_paths([clip], seg, extractors=names).files[0]
    assert again.status == "unchanged" and set(again.extractors.values()) == {"skipped (up to date)"}


def seen_id(store: Store) -> str:
    (vid,) = set(store.windows.to_arrow().column("video_id").to_pylist())
    return vid


def test_a_run_stopped_half_way_through_a_long_file_resumes_without_duplicates(tmp_path, short_segments):
    clip = make_clip(tmp_path / "c.mp4", duration_s=30.5, fps=5.0, scenes=SCENES, tone_hz=600)
    names = ["visual-stats", "yamnet"]
    store = Store(tmp_path / "db")
    seen = []

    def crash(event, data):
        if event == "extracted":
            seen.append(data["outcome"])
            if len(seen) == 1:  # the first segment is written and one of its jobs has finished
                raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        index_paths([clip], store, extractors=names, progress=crash, max_in_flight=1)
    assert all("segment" in o for o in seen)  # per-segment progress, no record yet
    assert store.extraction_records() == {}  # nothing claims the video is done
    assert 0 < store.count_windows() < 16
    assert (store.get_video(seen_id(store)) or {}).get("status") != "indexed"  # so the next run redoes it
    f = index_paths([clip], store, extractors=names).files[0]
    assert f.status == "indexed" and f.extractors == {"visual-stats": "ok", "yamnet": "ok"}
    ids = store.windows.to_arrow().column("window_id").to_pylist()
    assert len(ids) == len(set(ids)) == 16
    clean = Store(tmp_path / "clean")
    index_paths([clip], clean, extractors=names)
    cols = ["start_s", "end_s", "keyframe_ts", "visual_lines", "visual_colors", "audio_model"]
    assert rows(store, cols) == rows(clean, cols)


def test_extractors_refreshed_on_an_unchanged_long_file_run_per_segment(tmp_path, short_segments):
    clip = make_clip(tmp_path / "c.mp4", duration_s=30.5, fps=5.0, scenes=SCENES, tone_hz=600)
    store = Store(tmp_path / "db")
    index_paths([clip], store, extractors=["visual-stats"])
    f = index_paths([clip], store, extractors=["visual-stats", "yamnet"]).files[0]
    assert f.status == "unchanged" and f.windows == 16
    assert f.extractors == {"visual-stats": "skipped (up to date)", "yamnet": "ok"}
    assert all(r["audio_tags"] for r in rows(store, ["audio_tags"]))
    assert store.count_windows() == 16


def _index_spoken_sentence(tmp_path, text: str, start_s: float, past_s: float):
    """26 s of silence with ``text`` spoken from ``start_s`` (ending after ``past_s``), indexed with
    whisper-base and evidence units: ``(store, file outcome)``."""
    from vqa_pipeline.extractors.registry import get_extractor_class
    from vqa_pipeline_tests.needs import missing

    ok, why = get_extractor_class("whisper-base")().availability()
    if not ok:
        missing(f"whisper-base weights: {why}")
    sr = synth.SR
    sentence = synth.speech(text, voice=None, speed_wpm=150, peak=0.8, fade_ms=0).astype(np.float32)
    audio = np.zeros(int(26.0 * sr), np.float32)
    start = int(start_s * sr)
    audio[start : start + sentence.size] = sentence
    assert start + sentence.size > past_s * sr
    wav = synth.write_audio(tmp_path / "talk.wav", audio)
    store = Store(tmp_path / "db")
    f = index_paths([wav], store, extractors=["whisper-base", "evidence-units"]).files[0]
    assert f.extractors == {"whisper-base": "ok", "evidence-units": "ok"}
    return store, f


@pytest.mark.usefixtures("espeak_ng")
def test_a_sentence_crossing_a_segment_edge_stays_one_unit(tmp_path, short_segments):
    # the sentence runs across the segment edge at 8 s
    store, f = _index_spoken_sentence(tmp_path, "The delivery of forty battery packs arrives next Thursday morning.",
                                      5.5, 8.5)
    per_window = {r["window_index"]: [u for u in (r["units"] or []) if u["kind"] == "asr"]
                  for r in store.windows_for(f.video_id, ["units"])}
    before, after = per_window[3], per_window[4]  # windows 6-8 s (segment 0) and 8-10 s (segment 1)
    assert before and after and before == after
    text = before[0]["text"].lower()
    assert "delivery" in text and "thursday" in text
    assert before[0]["start_s"] < 8.0 < before[0]["end_s"]
    # The words on either side of the edge are written once each, by the segment owning the window.
    words = [w["word"] for r in store.windows_for(f.video_id, ["asr_words"]) for w in (r["asr_words"] or [])]
    assert sum("delivery" in w.lower() for w in words) == 1
    assert sum("thursday" in w.lower() for w in words) == 1


def _slide_frame(t: float):
    # Changes of the picture are large (a new background), so OCR reads the same keyframes however
    # the file is cut (it skips a keyframe that looks like the last one it read).
    im = synth.solid_frame((12, 12, 40) if t < 12.0 else (90, 120, 40), size=(640, 360))
    if t < 26.0:  # on screen across both segment edges (8 s and 16 s)
        synth.draw_text_line(im, "QUARTERLY REVIEW", font_size=40, top_y=100, text_rgb=(245, 245, 245))
    if 12.0 <= t < 26.0:
        synth.draw_text_line(im, "Ana Lima", font_size=30, top_y=260, text_rgb=(245, 245, 245))
    return im


def test_on_screen_text_across_segments_gives_the_same_units_as_one_piece(tmp_path, monkeypatch):
    from fractions import Fraction

    from vqa_pipeline.extractors.registry import get_extractor_class
    from vqa_pipeline_tests.needs import missing

    ok, why = get_extractor_class("rapidocr")().availability()
    if not ok:
        missing(f"rapidocr models: {why}")
    clip = synth.encode_mp4(tmp_path / "slides.mp4", synth.render_frames(_slide_frame, duration_s=30.0, fps=4),
                            fps=4, time_base=Fraction(1, 1000))
    whole, seg, f = _whole_and_segmented(tmp_path, clip, ["rapidocr", "evidence-units"], monkeypatch)
    assert f.status == "indexed" and f.extractors == {"rapidocr": "ok", "evidence-units": "ok"}
    assert rows(seg, ["ocr_boxes"]) == rows(whole, ["ocr_boxes"])  # the same reads per keyframe
    assert rows(seg, ["units"]) == rows(whole, ["units"])
    slide = {(u["start_s"], u["end_s"]) for r in rows(seg, ["units"]) for u in r["units"] or ()
             if "QUARTERLY" in u["text"]}
    assert len(slide) == 1 and next(iter(slide))[0] == 0.0 and next(iter(slide))[1] >= 24.0
    name = {(u["start_s"], u["end_s"]) for r in rows(seg, ["units"]) for u in r["units"] or () if u["text"] == "Ana Lima"}
    assert len(name) == 1 and next(iter(name))[0] == 12.0  # not cut at the segment context edge (12 s)


@pytest.mark.usefixtures("espeak_ng")
def test_a_sentence_longer_than_the_context_after_an_edge_is_one_unit_listed_once(tmp_path, short_segments):
    # from 7 s, past the 4 s of context after the segment edge at 8 s
    store, f = _index_spoken_sentence(
        tmp_path, "The delivery of forty battery packs from the northern warehouse arrives next Thursday "
        "morning before the team meeting.", 7.0, 12.5)
    speech = {(u["start_s"], u["end_s"], u["text"]) for r in store.windows_for(f.video_id, ["units"])
              for u in (r["units"] or []) if u["kind"] == "asr"}
    (one,) = [u for u in speech if "delivery" in u[2].lower()]
    assert "meeting" in one[2].lower() and one[0] < 8.0 and one[1] > 12.0
    assert sum("thursday" in u[2].lower() for u in speech) == 1  # its words are in one unit only
