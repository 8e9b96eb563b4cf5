"""LAION-CLAP window audio embeddings: a random-weight CLAP saved like ``630k-audioset-best.pt``.

The model is laion_clap's own ``clap_module`` architecture (HTSAT-tiny audio + a 1-layer RoBERTa of
roberta-base width), its text encoder files come from a local folder, never from the hub.
"""

from __future__ import annotations

import numpy as np
import pytest

from vqa_pipeline_tests.extractors.full.conftest import cos, hf_cache_entry
from vqa_pipeline_tests.needs import require_module

require_module("torch", full_profile=True)
require_module("torchlibrosa", full_profile=True)

from vqa_pipeline.extractors.full import clap as clap_mod  # noqa: E402
from vqa_pipeline.extractors.full.clap import LaionClap, prepare_audio  # noqa: E402
from vqa_pipeline.extractors.registry import create_extractor  # noqa: E402


def test_prepare_audio_is_clap_input():
    x = np.sin(np.linspace(0, 200, 32_000)).astype(np.float32) * 0.5  # 2 s at 16 kHz
    y = prepare_audio(x)
    assert y.shape == (clap_mod.CLIP_SAMPLES,) and y.dtype == np.float32
    assert np.allclose(y[:96_000], y[96_000:192_000])  # repeat-padded 2 s copies at 48 kHz
    assert prepare_audio(np.zeros(0, np.float32)) is None
    assert np.all(np.abs(y) <= 1.0)


def test_availability_names_both_files(empty_hf_cache, clap_ckpt, monkeypatch):
    ok, why = LaionClap().availability()
    assert not ok and why.startswith("weights not found: set VQA_CLAP_CHECKPOINT")
    ckpt, text = clap_ckpt
    ok, why = LaionClap(checkpoint=str(ckpt)).availability()
    assert not ok and "VQA_CLAP_TEXT_ENCODER" in why and "roberta-base" in why
    monkeypatch.setenv("VQA_CLAP_CHECKPOINT", str(ckpt))
    monkeypatch.setenv("VQA_CLAP_TEXT_ENCODER", str(text))
    ok, why = create_extractor("clap-htsat").availability()
    assert ok and str(ckpt) in why and f"text encoder {text} from VQA_CLAP_TEXT_ENCODER" in why


def test_found_in_the_hf_cache(empty_hf_cache, clap_ckpt):
    ckpt, text = clap_ckpt
    hf_cache_entry(empty_hf_cache, "lukewys/laion_clap", ckpt)
    snap = hf_cache_entry(empty_hf_cache, "FacebookAI/roberta-base", text)
    spec = clap_mod.locate_weights({})
    assert spec.checkpoint.origin == "HF cache lukewys/laion_clap" and spec.checkpoint.path.name == ckpt.name
    assert spec.text_encoder.path == snap and spec.amodel == "HTSAT-tiny"


def test_embeddings_shape_norm_determinism_and_text_space(clap_ckpt, clip_media):
    ckpt, text = clap_ckpt
    opts = dict(checkpoint=str(ckpt), text_encoder_dir=str(text), device="cpu")
    ex = LaionClap(**opts)
    out = ex.extract(clip_media, {})
    emb = np.asarray(out.columns["emb_clap"], np.float32)
    assert emb.shape == (3, 512) and len(out.lines) == 3
    assert np.allclose(np.linalg.norm(emb, axis=1), 1.0, atol=1e-5)
    again = np.asarray(LaionClap(**opts).extract(clip_media, {}).columns["emb_clap"], np.float32)
    assert np.allclose(emb, again, atol=1e-5)
    sims = emb @ emb.T
    assert np.allclose(np.diag(sims), 1.0, atol=1e-5) and sims[0, 1] < 0.9999 and sims[1, 2] < 0.9999
    q = ex.embed_text(["a beep", "pink noise", "silence"])
    assert q.shape == (3, 512) and np.allclose(np.linalg.norm(q, axis=1), 1.0, atol=1e-5)
    assert np.allclose(LaionClap(**opts).embed_query("a beep"), q[0], atol=1e-5)
    assert cos(q[0], q[0]) == pytest.approx(1.0, abs=1e-5) and cos(q[0], q[1]) < 0.9999
    assert (emb @ q.T).shape == (3, 3)


def test_checkpoint_that_does_not_fit_is_refused(clap_ckpt, tmp_path):
    import torch

    ckpt, text = clap_ckpt
    state = torch.load(str(ckpt), map_location="cpu", weights_only=True)["state_dict"]
    state.pop(next(k for k in state if "audio_projection" in k))
    bad = tmp_path / "630k-best.pt"
    torch.save({"state_dict": state}, str(bad))
    with pytest.raises(RuntimeError, match="does not fit CLAP HTSAT-tiny/roberta: missing"):
        LaionClap(checkpoint=str(bad), text_encoder_dir=str(text), device="cpu").load()


def test_numpy_scalars_next_to_the_weights_load_without_a_full_unpickle(tmp_path):
    import torch

    path = tmp_path / "630k-best.pt"  # released checkpoints pickle numpy scalars (epoch, best score)
    torch.save({"state_dict": {"module.w": torch.ones(2)}, "epoch": np.int64(45), "best": np.float64(0.5)}, str(path))
    state = clap_mod.load_checkpoint_state(path)
    assert list(state) == ["w"] and torch.equal(state["w"], torch.ones(2))


def test_a_checkpoint_that_needs_a_full_unpickle_loads_only_when_allowed(clap_ckpt, clip_media, tmp_path,
                                                                         monkeypatch):
    import argparse

    import torch

    ckpt, text = clap_ckpt
    state = torch.load(str(ckpt), map_location="cpu", weights_only=True)["state_dict"]
    pickled = tmp_path / "630k-audioset-best.pt"
    torch.save({"state_dict": state, "args": argparse.Namespace(lr=1e-4)}, str(pickled))  # like training scripts do
    monkeypatch.delenv("VQA_CLAP_ALLOW_PICKLE", raising=False)
    with pytest.raises(clap_mod.UnsafeCheckpoint) as err:
        LaionClap(checkpoint=str(pickled), text_encoder_dir=str(text), device="cpu").load()
    msg = str(err.value)
    assert "\n" not in msg and "it pickles argparse.Namespace" in msg and "set VQA_CLAP_ALLOW_PICKLE=1" in msg
    monkeypatch.setenv("VQA_CLAP_ALLOW_PICKLE", "0")
    with pytest.raises(clap_mod.UnsafeCheckpoint):
        LaionClap(checkpoint=str(pickled), text_encoder_dir=str(text), device="cpu").load()

    monkeypatch.setenv("VQA_CLAP_ALLOW_PICKLE", "1")
    from_env = LaionClap(checkpoint=str(pickled), text_encoder_dir=str(text), device="cpu").extract(clip_media, {})
    monkeypatch.delenv("VQA_CLAP_ALLOW_PICKLE")
    from_option = LaionClap(checkpoint=str(pickled), text_encoder_dir=str(text), device="cpu", allow_pickle=True)
    plain = LaionClap(checkpoint=str(ckpt), text_encoder_dir=str(text), device="cpu").extract(clip_media, {})
    for out in (from_env, from_option.extract(clip_media, {})):
        assert np.allclose(np.asarray(out.columns["emb_clap"]), np.asarray(plain.columns["emb_clap"]), atol=1e-5)


def test_no_audio_track(clap_ckpt, no_audio_media):
    ckpt, text = clap_ckpt
    out = LaionClap(checkpoint=str(ckpt), text_encoder_dir=str(text)).extract(no_audio_media, {})
    assert out.columns["emb_clap"] == [None] * len(no_audio_media.windows) and out.notes == ["no audio track"]


def test_columns_land_in_lancedb_tagged_with_the_model(clap_ckpt, tmp_path, store, monkeypatch):
    from vqa_pipeline.indexing.pipeline import index_paths
    from vqa_pipeline_tests.media_factory import make_clip

    ckpt, text = clap_ckpt
    monkeypatch.setenv("VQA_CLAP_CHECKPOINT", str(ckpt))
    monkeypatch.setenv("VQA_CLAP_TEXT_ENCODER", str(text))
    monkeypatch.setenv("VQA_DEVICE", "cpu")
    video = make_clip(tmp_path / "tone.mp4", duration_s=4.0, tone_hz=440.0)
    summary = index_paths([video], store, extractors=["clap-htsat"])
    vid = summary.files[0].video_id
    rows = store.windows_for(vid, columns=["emb_clap", "clap_model"])
    assert len(rows) == 2 and all(r["clap_model"] == "laion-clap-630k-audioset-best@1" for r in rows)
    assert all(len(r["emb_clap"]) == 512 for r in rows)
    rec = store.extraction_records(vid)[(vid, "clap")]
    assert rec.status == "ok" and rec.model_tag == "laion-clap-630k-audioset-best@1"


@pytest.mark.gpu
def test_gpu_matches_cpu(clap_ckpt, clip_media):
    import torch

    if not torch.cuda.is_available():
        pytest.skip("needs a CUDA GPU")
    ckpt, text = clap_ckpt
    cpu = np.asarray(LaionClap(checkpoint=str(ckpt), text_encoder_dir=str(text), device="cpu")
                     .extract(clip_media, {}).columns["emb_clap"])
    gpu = np.asarray(LaionClap(checkpoint=str(ckpt), text_encoder_dir=str(text), device="cuda", precision="fp16")
                     .extract(clip_media, {}).columns["emb_clap"])
    assert all(cos(a, b) > 0.98 for a, b in zip(cpu, gpu))


@pytest.mark.weights
def test_real_clap_hears_a_beep(clip_media):
    ex = LaionClap()
    ok, why = ex.availability()
    if not ok:
        pytest.skip(f"real LAION-CLAP weights are not here: {why}")
    emb = np.asarray(ex.extract(clip_media, {}).columns["emb_clap"])
    q = ex.embed_text(["a high pitched beep", "white noise"])
    assert (emb @ q.T)[0].argmax() == 0 and (emb @ q.T)[1].argmax() == 1
