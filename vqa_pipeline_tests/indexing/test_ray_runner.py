"""Extraction on a real local Ray runtime gives the same columns as in-process extraction."""

import pytest

from vqa_pipeline.indexing.pipeline import index_paths
from vqa_pipeline.store import Store
from vqa_pipeline_tests.media_factory import make_clip

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def ray_runner():
    from vqa_pipeline.indexing.ray_runner import RayOptions, RayRunner

    runner = RayRunner(RayOptions(threads_per_actor=1))
    yield runner
    runner.close()
    import ray

    ray.shutdown()


def test_ray_actors_match_inline_extraction(tmp_path, ray_runner):
    clip = make_clip(tmp_path / "c.mp4", duration_s=4.0, scenes=[(0.0, (0, 0, 200)), (2.0, (200, 0, 0))], tone_hz=1000)
    names = ["visual-stats", "yamnet", "nanodet"]
    via_ray = index_paths([clip], Store(tmp_path / "ray"), extractors=names, runner=ray_runner)
    inline = index_paths([clip], Store(tmp_path / "inline"), extractors=names)
    assert via_ray.files[0].extractors == inline.files[0].extractors
    vid = via_ray.files[0].video_id
    cols = ["visual_lines", "audio_lines", "audio_model", "objects_labels", "objects_model"]
    assert Store(tmp_path / "ray").windows_for(vid, cols) == Store(tmp_path / "inline").windows_for(vid, cols)
    # The actors stay up: a second video reuses the loaded models.
    clip2 = make_clip(tmp_path / "d.mp4", duration_s=2.0, tone_hz=500)
    s = index_paths([clip2], Store(tmp_path / "ray"), extractors=names, runner=ray_runner)
    assert s.files[0].extractors == {"visual-stats": "ok", "yamnet": "ok", "nanodet": "ok"}


def test_a_model_that_fails_to_load_is_reported_per_video(tmp_path, ray_runner):
    from vqa_pipeline.indexing.ray_runner import RayOptions, RayRunner

    clip = make_clip(tmp_path / "c.mp4", duration_s=2.0)
    # CTranslate2 refuses an unknown compute type when the model loads.
    runner = RayRunner(RayOptions(extractor_options={"whisper-tiny-en": {"compute_type": "int3"}}))
    try:
        s = index_paths([clip], Store(tmp_path / "db"), extractors=["visual-stats", "whisper-tiny-en"], runner=runner)
    finally:
        runner.close()
    out = s.files[0].extractors
    assert out["visual-stats"].startswith("ok")
    assert out["whisper-tiny-en"].startswith("failed: model failed to load")


def test_a_long_file_goes_to_the_actors_segment_by_segment(tmp_path, ray_runner, monkeypatch):
    import vqa_pipeline.media.decode as decode_module

    # Segments of 8 s of windows (4 s of context): a 30 s clip reaches the actors in three pieces.
    monkeypatch.setattr(decode_module, "SEGMENT_S", 8.0)
    monkeypatch.setattr(decode_module, "HALO_S", 4.0)
    clip = make_clip(tmp_path / "long.mp4", duration_s=30.5, fps=5.0, tone_hz=700,
                     scenes=[(0.0, (0, 0, 200)), (9.0, (200, 0, 0)), (21.0, (0, 200, 0))])
    names = ["visual-stats", "yamnet"]
    via_ray = index_paths([clip], Store(tmp_path / "ray"), extractors=names, runner=ray_runner)
    inline = index_paths([clip], Store(tmp_path / "inline"), extractors=names)
    f = via_ray.files[0]
    assert f.windows == 16 and f.extractors == inline.files[0].extractors == {"visual-stats": "ok", "yamnet": "ok"}
    cols = ["window_id", "start_s", "visual_lines", "visual_cut", "audio_lines", "audio_tags"]
    assert Store(tmp_path / "ray").windows_for(f.video_id, cols) == Store(tmp_path / "inline").windows_for(f.video_id, cols)
    assert ray_runner.pending() == 0 and not ray_runner._media_refs  # every segment's object-store copy released


def test_a_shared_actor_is_named_by_its_model_and_the_package_version(monkeypatch):
    """After an upgrade (another model tag or package version) a run must not reuse an actor holding the
    old model while recording the new tag."""
    import vqa_pipeline
    from vqa_pipeline.indexing.ray_runner import shared_actor_name

    def name(tag: str) -> str:
        return shared_actor_name("nanodet", {"threshold": 0.4}, 1, 0.0, 0.0, 0, model_tag=tag)

    base = name("nanodet-coco80-human-models-3.0.4@1")
    assert base == name("nanodet-coco80-human-models-3.0.4@1") and base.startswith("nanodet-") and base.endswith("-0")
    assert name("nanodet-coco80-human-models-3.0.5@1") != base
    monkeypatch.setattr(vqa_pipeline, "__version__", "99.0.0")
    assert name("nanodet-coco80-human-models-3.0.4@1") != base
