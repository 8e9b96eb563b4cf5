"""Shared helpers of the full extractors: the Hugging Face cache, options, frame sampling."""

from __future__ import annotations

import numpy as np
import pytest

from vqa_pipeline.extractors.full import common
from vqa_pipeline.media.types import Keyframe, Window
from vqa_pipeline_tests.extractors.full.conftest import hf_cache_entry


def test_hf_cache_lookup_follows_refs_and_symlinks(tmp_path, monkeypatch):
    src = tmp_path / "src"
    src.mkdir()
    (src / "config.json").write_text("{}")
    (src / "model.safetensors").write_bytes(b"x")
    cache = tmp_path / "hub"
    snap = hf_cache_entry(cache, "org/model", src)
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    assert common.hf_snapshot("org/model") == snap
    assert common.hf_cached_file("org/model", ["missing.bin", "model.safetensors"]) == snap / "model.safetensors"
    assert common.hf_snapshot("org/other") is None
    (snap / "model.safetensors").unlink()
    (snap / "model.safetensors").symlink_to(tmp_path / "gone")  # a partial download: dangling link
    assert common.hf_cached_file("org/model", ["model.safetensors"]) is None
    monkeypatch.delenv("HF_HUB_CACHE")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "home"))
    assert common.hf_hub_cache_dir() == tmp_path / "home" / "hub"


def test_hf_cache_lookup_without_a_main_ref_takes_the_newest_snapshot(tmp_path):
    import os

    src = tmp_path / "src"
    src.mkdir()
    (src / "config.json").write_text("{}")
    cache = tmp_path / "hub"
    old = hf_cache_entry(cache, "org/model", src, revision="1111")
    new = hf_cache_entry(cache, "org/model", src, revision="2222")
    os.utime(old, (1_000_000, 1_000_000))
    os.utime(new, (2_000_000, 2_000_000))
    refs = cache / "models--org--model" / "refs" / "main"
    refs.write_text("1111")
    assert common.hf_snapshot("org/model", cache) == old  # main wins over the newer one
    refs.write_text("9999")  # main points at a snapshot that is not here
    assert common.hf_snapshot("org/model", cache) == new
    refs.unlink()  # fetched by commit hash only
    assert common.hf_snapshot("org/model", cache) == new
    assert common.hf_cached_file("org/model", ["config.json"], cache) == new / "config.json"


def test_explicit_path_from_option_or_env(tmp_path, monkeypatch):
    f = tmp_path / "w.bin"
    f.write_bytes(b"x")
    monkeypatch.delenv("VQA_X_CHECKPOINT", raising=False)
    assert common.explicit_path({}, "checkpoint", "VQA_X_CHECKPOINT") is None
    src = common.explicit_path({"checkpoint": str(f)}, "checkpoint", "VQA_X_CHECKPOINT")
    assert src.path == f and src.origin == "option checkpoint"
    monkeypatch.setenv("VQA_X_CHECKPOINT", str(f))
    assert common.explicit_path({}, "checkpoint", "VQA_X_CHECKPOINT").origin == "VQA_X_CHECKPOINT"
    with pytest.raises(common.WeightsNotFound, match="does not exist"):
        common.explicit_path({"checkpoint": str(tmp_path / "nope")}, "checkpoint", "VQA_X_CHECKPOINT")


def test_require_modules_names_the_extra():
    ok, why = common.require_modules("clip", ("json", "surely_not_a_module_xyz"))
    assert not ok and why.startswith("install the clip extra: pip install -e .[clip]")
    assert "surely_not_a_module_xyz" in why
    assert common.require_modules("clip", ("json",)) == (True, "ok")


def _kf(t: float, w: int) -> Keyframe:
    return Keyframe(t_s=t, window_index=w, jpeg=b"", width=1, height=1)


def test_frame_sampling_pads_short_windows_with_the_nearest_keyframe():
    win = Window("v-w0", "v", 0, 10.0, 12.0)
    times = common.sample_times(win, 8)
    assert np.allclose(times, 10.0 + (np.arange(8) + 0.5) * 0.25)
    assert common.nearest_frames([_kf(11.0, 0)], times) == [0] * 8  # one keyframe fills all 8 slots
    two = [_kf(10.5, 0), _kf(11.5, 0)]
    assert common.nearest_frames(two, times) == [0, 0, 0, 0, 1, 1, 1, 1]


def test_option_prefers_the_extractor_option(monkeypatch):
    monkeypatch.setenv("VQA_X_MODEL", "from-env")
    assert common.option({"model": "mine"}, "model", "VQA_X_MODEL", "default") == "mine"
    assert common.option({}, "model", "VQA_X_MODEL", "default") == "from-env"
    monkeypatch.delenv("VQA_X_MODEL")
    assert common.option({}, "model", "VQA_X_MODEL", "default") == "default"


def test_a_segments_keyframes_go_to_its_windows_by_window_index():
    from vqa_pipeline.media.types import DecodedMedia, MediaInfo, WindowingOptions

    # a later segment of a long file: its windows are numbered from 150, not 0
    ws = [Window(f"v-w{i}", "v", i, 2.0 * i, 2.0 * i + 2.0) for i in range(150, 154)]
    kfs = [_kf(301.0, 150), _kf(305.0, 152), _kf(307.0, 153)]
    media = DecodedMedia(video_id="v", info=MediaInfo(duration_s=400.0, has_video=True, has_audio=False),
                         options=WindowingOptions(), windows=ws, keyframes=kfs, segment=1, last_segment=False,
                         core=(0, 4), context_s=30.0)
    assert [[k.t_s for k in per] for per in common.window_keyframes(media)] == [[301.0], [], [305.0], [307.0]]
