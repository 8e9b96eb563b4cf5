"""Only stale extractor columns are recomputed; failures are recorded and retried."""

import pytest

from vqa_pipeline.extractors.visual import VisualStats
from vqa_pipeline.indexing.pipeline import index_paths
from vqa_pipeline_tests.media_factory import make_clip

FAST = ["visual-stats", "yamnet"]


def ran(summary) -> dict[str, str]:
    return {k: v.split(" ")[0] for k, v in summary.files[0].extractors.items()}


@pytest.fixture
def clip(tmp_path):
    return make_clip(tmp_path / "c.mp4", duration_s=4.0, scenes=[(0.0, (0, 0, 200)), (2.0, (200, 0, 0))])


def test_rerun_recomputes_nothing_and_a_version_bump_only_its_column(store, clip, monkeypatch):
    first = index_paths([clip], store, extractors=FAST)
    assert ran(first) == {"visual-stats": "ok", "yamnet": "ok"}
    vid = first.files[0].video_id
    before = {r["window_id"]: r["audio_model"] for r in store.windows_for(vid)}

    second = index_paths([clip], store, extractors=FAST)
    assert second.files[0].status == "unchanged"
    assert set(second.files[0].extractors.values()) == {"skipped (up to date)"}

    monkeypatch.setattr(VisualStats, "version", "99")
    third = index_paths([clip], store, extractors=FAST)
    assert ran(third) == {"visual-stats": "ok", "yamnet": "skipped"}
    rows = store.windows_for(vid)
    assert {r["visual_model"] for r in rows} == {"visual-stats@99"}
    assert {r["window_id"]: r["audio_model"] for r in rows} == before
    # The blue-to-red cut is evidence in the second window.
    assert any("cut" in ln["text"] for ln in rows[1]["visual_lines"] or [])


def test_a_crashing_extractor_is_recorded_and_retried_next_run(store, clip, monkeypatch):
    def boom(self, media, upstream):
        raise RuntimeError("synthetic failure\nwith two lines")

    monkeypatch.setattr(VisualStats, "extract", boom)
    s = index_paths([clip], store, extractors=FAST)
    out = s.files[0].extractors
    assert out["yamnet"] == "ok" and out["visual-stats"].startswith("failed: RuntimeError: synthetic failure")
    assert "\n" not in out["visual-stats"]
    vid = s.files[0].video_id
    rec = store.extraction_records(vid)[(vid, "visual")]
    assert rec.status == "failed" and "synthetic failure" in rec.error

    monkeypatch.undo()
    again = index_paths([clip], store, extractors=FAST)
    assert ran(again) == {"visual-stats": "ok", "yamnet": "skipped"}


def test_no_audio_track_gives_a_note_not_an_error(store, tmp_path):
    clip = make_clip(tmp_path / "mute.mp4", duration_s=2.0, audio=False)
    s = index_paths([clip], store, extractors=["yamnet"])
    assert s.files[0].extractors["yamnet"].startswith("ok") and "no audio" in s.files[0].extractors["yamnet"]
    vid = s.files[0].video_id
    assert store.extraction_records(vid)[(vid, "audio")].status == "empty"
