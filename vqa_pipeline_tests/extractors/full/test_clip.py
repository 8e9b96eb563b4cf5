"""open_clip keyframe embeddings: a random-weight model saved as users' checkpoints are, loaded back.

The architecture is open_clip's own (a tiny config); the same code loads ViT-B-32 from the Hugging
Face cache. Random weights say nothing about quality: that is checked with real weights
(``weights`` marker) and on a GPU (``gpu`` marker).
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from vqa_pipeline_tests.extractors.full.conftest import cos, hf_cache_entry
from vqa_pipeline_tests.needs import require_module

require_module("torch", full_profile=True)
require_module("open_clip", full_profile=True)

from vqa_pipeline.extractors.full import clip as clip_mod  # noqa: E402
from vqa_pipeline.extractors.full.clip import OpenClip  # noqa: E402
from vqa_pipeline.extractors.registry import create_extractor  # noqa: E402


def test_availability_without_weights_is_cheap_and_says_where(empty_hf_cache):
    code = (
        "import sys\n"
        "from vqa_pipeline.extractors.registry import create_extractor\n"
        "ok, why = create_extractor('clip-vit-b32').availability()\n"
        "print(ok, why)\n"
        "print('torch imported:', 'torch' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.startswith("False weights not found: set VQA_CLIP_CHECKPOINT")
    assert "ViT-B-32 (laion2b_s34b_b79k) in the Hugging Face cache" in out
    assert "torch imported: False" in out


def test_missing_extra_is_reported_without_importing(monkeypatch):
    from vqa_pipeline.extractors.full import common

    monkeypatch.setattr(common, "module_available", lambda m: m != "open_clip")
    ok, why = OpenClip().availability()
    assert not ok and why.startswith("install the clip extra: pip install -e .[clip]")


def test_weights_found_by_option_env_and_hf_cache(clip_ckpt, empty_hf_cache, monkeypatch, tmp_path):
    ok, why = OpenClip(checkpoint=str(clip_ckpt)).availability()
    assert ok and why == f"weights: {clip_ckpt} (from option checkpoint)"
    monkeypatch.setenv("VQA_CLIP_CHECKPOINT", str(clip_ckpt))
    ok, why = create_extractor("clip-vit-b32").availability()
    assert ok and "VQA_CLIP_CHECKPOINT" in why
    monkeypatch.delenv("VQA_CLIP_CHECKPOINT")
    snap = hf_cache_entry(empty_hf_cache, "laion/tiny-clip", clip_ckpt)
    ok, why = OpenClip(hf_repo="laion/tiny-clip").availability()
    assert ok and why == f"weights: {snap} (from HF cache laion/tiny-clip)"
    bad = tmp_path / "half"
    bad.mkdir()
    (bad / "open_clip_config.json").write_text("{}")
    ok, why = OpenClip(checkpoint=str(bad)).availability()
    assert not ok and "needs open_clip_config.json and one of" in why


def test_tag_resolves_to_its_hf_repo(clip_ckpt, empty_hf_cache):
    """The default ViT-B-32 / laion2b tag is looked up under its real repo id in the cache."""
    snap = hf_cache_entry(empty_hf_cache, "laion/CLIP-ViT-B-32-laion2B-s34B-b79K", clip_ckpt)
    spec = clip_mod.locate_weights({})
    assert spec.source.path == snap and spec.source.origin == "HF cache laion/CLIP-ViT-B-32-laion2B-s34B-b79K"


def test_embeddings_shape_norm_determinism_and_text_space(clip_ckpt, clip_media):
    ex = OpenClip(checkpoint=str(clip_ckpt), device="cpu")
    assert ex.fields()[0].type.list_size == 32
    out = ex.extract(clip_media, {})
    col = out.columns["emb_clip"]
    assert len(col) == len(clip_media.windows) == 3 and len(out.lines) == 3
    emb = np.asarray(col, np.float32)
    assert emb.shape == (3, 32)
    assert np.allclose(np.linalg.norm(emb, axis=1), 1.0, atol=1e-5)
    assert out.stats["frames"] == 6
    again = np.asarray(OpenClip(checkpoint=str(clip_ckpt), device="cpu").extract(clip_media, {}).columns["emb_clip"])
    assert np.allclose(emb, again, atol=1e-6)  # deterministic
    # a window is most similar to itself; different pictures give different embeddings
    sims = emb @ emb.T
    assert np.allclose(np.diag(sims), 1.0, atol=1e-5)
    assert sims[0, 1] < 0.9999 and sims[1, 2] < 0.9999
    # text tower: same size, normalized, in the space the video column is searched in
    q = ex.embed_text(["a blue picture", "a red picture with a white square"])
    assert q.shape == (2, 32) and np.allclose(np.linalg.norm(q, axis=1), 1.0, atol=1e-5)
    same = OpenClip(checkpoint=str(clip_ckpt), device="cpu").embed_query("a blue picture")
    assert np.allclose(same, q[0], atol=1e-5)
    scores = emb @ q.T  # the query side ranks windows with this product
    assert scores.shape == (3, 2) and np.all(np.abs(scores) <= 1.0 + 1e-5)
    assert cos(emb[0], emb[0]) == pytest.approx(1.0, abs=1e-5)


def test_windows_without_keyframes_get_no_vector(clip_ckpt, no_audio_media, audio_only_media):
    ex = OpenClip(checkpoint=str(clip_ckpt), device="cpu")
    out = ex.extract(audio_only_media, {})
    assert out.columns["emb_clip"] == [None] * len(audio_only_media.windows) and out.notes == ["no video track"]
    assert all(v is not None for v in ex.extract(no_audio_media, {}).columns["emb_clip"])


def test_columns_land_in_lancedb_tagged_with_the_model(clip_ckpt, tmp_path, store, monkeypatch):
    from vqa_pipeline.indexing.pipeline import index_paths
    from vqa_pipeline_tests.media_factory import make_clip

    monkeypatch.setenv("VQA_CLIP_CHECKPOINT", str(clip_ckpt))
    monkeypatch.setenv("VQA_DEVICE", "cpu")
    video = make_clip(tmp_path / "scenes.mp4", duration_s=4.0, scenes=[(0.0, (0, 0, 200)), (2.0, (200, 0, 0))])
    summary = index_paths([video], store, extractors=["clip-vit-b32"])
    assert summary.count("indexed") == 1 and not summary.missing_extractors
    vid = summary.files[0].video_id
    ex = create_extractor("clip-vit-b32")
    rows = store.windows_for(vid, columns=["emb_clip", "clip_model"])
    assert len(rows) == 2
    assert all(r["clip_model"] == ex.model_tag == "open_clip-clip-tiny@1" for r in rows)
    assert all(len(r["emb_clip"]) == 32 for r in rows)
    assert str(store.windows.schema.field("emb_clip").type) == "fixed_size_list<item: float>[32]"
    rec = store.extraction_records(vid)[(vid, "clip")]
    assert rec.status == "ok" and rec.model_tag == ex.model_tag and rec.extractor == "clip-vit-b32"
    # the stored vectors are what the text tower is searched against
    q = ex.embed_query("a red picture")
    assert (np.asarray([r["emb_clip"] for r in rows]) @ q).shape == (2,)


@pytest.mark.gpu
def test_gpu_fp16_matches_cpu_fp32(clip_ckpt, clip_media):
    import torch

    if not torch.cuda.is_available():
        pytest.skip("needs a CUDA GPU")
    cpu = np.asarray(OpenClip(checkpoint=str(clip_ckpt), device="cpu").extract(clip_media, {}).columns["emb_clip"])
    gpu = OpenClip(checkpoint=str(clip_ckpt), device="cuda", precision="fp16")
    got = np.asarray(gpu.extract(clip_media, {}).columns["emb_clip"])
    assert all(cos(a, b) > 0.99 for a, b in zip(cpu, got))


@pytest.mark.weights
def test_real_vit_b32_tells_colours_apart(clip_media):
    ex = OpenClip()
    ok, why = ex.availability()
    if not ok:
        pytest.skip(f"real ViT-B-32 weights are not here: {why}")
    emb = np.asarray(ex.extract(clip_media, {}).columns["emb_clip"])
    q = ex.embed_text(["a plain blue image", "a red image with a white square", "a yellow image"])
    assert list((emb @ q.T).argmax(axis=1)) == [0, 1, 2]
