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
    from vqa_pipeline.indexing import ray_runner

    monkeypatch.setattr(vqa_pipeline, "__version__", "0.1.0")
    before = name("nanodet-coco80-human-models-3.0.4@1")
    monkeypatch.setattr(ray_runner, "ACTOR_PROTOCOL", ray_runner.ACTOR_PROTOCOL + 1)  # what the actors exchange changed
    assert name("nanodet-coco80-human-models-3.0.4@1") != before


def test_a_dead_shared_actor_is_replaced_under_its_name_once_free(tmp_path, ray_runner, monkeypatch):
    """A shared actor killed for good: its replacement is a live actor, not the dead one handed back by
    ``get_if_exists`` while Ray still holds the name; a name that stays taken gives way to a new one."""
    import ray

    from vqa_pipeline.indexing import ray_runner as rr
    from vqa_pipeline.indexing.ray_runner import SHARED_NAMESPACE, RayOptions, RayRunner

    runner = RayRunner(RayOptions(threads_per_actor=1, shared_actors=True))
    dead = runner._pick("visual-stats")[0]
    ray.get(dead.__ray_ready__.remote())
    name = runner._shared_name("visual-stats", 0)
    monkeypatch.setattr(rr, "NAME_FREE_S", 0.5)
    held = runner._free_name(name, dead)  # not killed yet: Ray still gives its name to the "dead" actor
    assert held != name and held.startswith(name + "-")
    monkeypatch.undo()
    try:
        ray.kill(dead, no_restart=True)
        runner._replace("visual-stats", 0, dead)
        fresh = runner._pools["visual-stats"][0]
        assert fresh._actor_id != dead._actor_id and runner.replaced == {"visual-stats": 1}
        ray.get(fresh.__ray_ready__.remote(), timeout=120)  # alive
        assert ray.get_actor(name, namespace=SHARED_NAMESPACE)._actor_id == fresh._actor_id
    finally:
        runner.close()
        for actor in (dead, fresh):
            ray.kill(actor)


def test_a_job_ray_did_not_return_fails_but_keeps_the_actor(tmp_path, ray_runner):
    """Only an actor's death replaces it: a job whose result Ray does not hand back for another reason
    (cancelled here, queued behind a long one on the pool's one actor) is that job's error, and the
    actor, its model loaded, takes the next job."""
    import ray

    from vqa_pipeline.indexing.runners import ExtractionJob
    from vqa_pipeline.media.decode import decode

    long = ExtractionJob("visual-stats", decode(make_clip(tmp_path / "l.mp4", duration_s=30.0, fps=5.0), "long"))
    short = ExtractionJob("visual-stats", decode(make_clip(tmp_path / "s.mp4", duration_s=2.0), "short"))
    ray_runner.submit(long)
    ray_runner.submit(short)
    assert len(ray_runner._pools["visual-stats"]) == 1
    actor = ray_runner._pools["visual-stats"][0]
    (ref,) = [r for r, (j, *_) in ray_runner._pending.items() if j is short]
    ray.cancel(ref)
    results = {r.video_id: r for r in (ray_runner.wait_one(), ray_runner.wait_one())}
    assert results["long"].error == "" and results["long"].output is not None
    cancelled = results["short"]
    assert cancelled.output is None and "cancel" in cancelled.error.lower()
    assert not cancelled.error.startswith("worker crashed")
    assert "visual-stats" not in ray_runner.replaced and ray_runner._pools["visual-stats"][0] is actor
    ray_runner.submit(short)
    again = ray_runner.wait_one()
    assert again.error == "" and again.output is not None  # the same actor, still alive
