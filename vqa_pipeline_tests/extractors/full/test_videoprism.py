"""VideoPrism (transformers port): a random ``VideoPrismClipModel`` saved with ``save_pretrained``.

Tiny configuration (4 frames, width 64, one layer per stack) at the real input size (288x288, 16x16
patches per frame), a SentencePiece tokenizer trained here, loaded back through the project's loader.
"""

from __future__ import annotations

import numpy as np
import pytest

from vqa_pipeline_tests.extractors.conftest import make_media
from vqa_pipeline_tests.extractors.full.conftest import cos, hf_cache_entry, scene_frame
from vqa_pipeline_tests.needs import require_module

require_module("torch", full_profile=True)
require_module("transformers", full_profile=True)

from vqa_pipeline.extractors.full import videoprism as vp_mod  # noqa: E402
from vqa_pipeline.extractors.full.videoprism import VideoPrismLvt, VideoPrismTags  # noqa: E402
from vqa_pipeline.extractors.registry import create_extractor  # noqa: E402


def _opts(vp_ckpt, **extra):
    ckpt, spm = vp_ckpt
    return dict(checkpoint=str(ckpt), tokenizer=str(spm), device="cpu", **extra)


def test_canonicalize_text_as_upstream():
    assert vp_mod.canonicalize_text("Hello, World!") == "hello world."
    assert vp_mod.canonicalize_text("  a video of   a DOG.") == "a video of a dog."


def test_availability_and_where_weights_come_from(empty_hf_cache, vp_ckpt, monkeypatch):
    ok, why = VideoPrismLvt().availability()
    assert not ok and why.startswith("weights not found: set VQA_VIDEOPRISM_CHECKPOINT")
    ckpt, spm = vp_ckpt
    ok, why = VideoPrismLvt(checkpoint=str(ckpt)).availability()
    assert not ok and "set VQA_VIDEOPRISM_TOKENIZER to the c4_en SentencePiece model" in why
    monkeypatch.setenv("VQA_VIDEOPRISM_TOKENIZER", str(spm))
    snap = hf_cache_entry(empty_hf_cache, "google/videoprism-lvt-base-f16r288", ckpt)
    ok, why = create_extractor("videoprism-lvt").availability()
    assert ok and why.startswith(f"weights: {snap} (from HF cache google/videoprism-lvt-base-f16r288")
    assert f"tokenizer {spm}" in why
    ok, why = VideoPrismTags(backend="jax").availability()
    assert not ok and "transformers backend" in why


def test_jax_backend_is_optional_and_lazy():
    ok, why = VideoPrismLvt(backend="jax").availability()
    assert not ok and "videoprism package" in why


def test_tokenizer_inside_the_checkpoint_folder(vp_ckpt, tmp_path):
    import shutil

    ckpt, spm = vp_ckpt
    folder = tmp_path / "vp"
    shutil.copytree(ckpt, folder)
    shutil.copyfile(spm, folder / "spiece.model")
    spec = vp_mod.locate_weights({"checkpoint": str(folder)})
    assert spec.tokenizer == folder / "spiece.model" and spec.size == "base"


def test_video_embeddings_shape_norm_determinism_and_text_space(vp_ckpt, clip_media):
    ex = VideoPrismLvt(**_opts(vp_ckpt))
    assert ex.fields()[0].type.list_size == 64
    out = ex.extract(clip_media, {})
    emb = np.asarray(out.columns["emb_videoprism"], np.float32)
    assert emb.shape == (3, 64) and out.stats["frames_per_window"] == 4
    assert np.allclose(np.linalg.norm(emb, axis=1), 1.0, atol=1e-4)
    again = np.asarray(VideoPrismLvt(**_opts(vp_ckpt)).extract(clip_media, {}).columns["emb_videoprism"])
    assert np.allclose(emb, again, atol=1e-5)
    sims = emb @ emb.T
    assert np.allclose(np.diag(sims), 1.0, atol=1e-4) and sims[0, 1] < 0.9999 and sims[1, 2] < 0.9999
    q = ex.embed_text(["a blue screen", "a red screen with a moving square"])
    assert q.shape == (2, 64) and np.allclose(np.linalg.norm(q, axis=1), 1.0, atol=1e-4)
    assert cos(q[0], q[1]) < 0.9999
    same = VideoPrismLvt(**_opts(vp_ckpt)).embed_query("a blue screen")
    assert np.allclose(same, q[0], atol=1e-5)
    raw = ex.embed_text(["a blue screen"], template=None)
    assert cos(raw[0], q[0]) < 0.9999  # the prompt template is applied by default
    assert (emb @ q.T).shape == (3, 2)


def test_tokens_are_t_times_16x16_and_pool_into_the_text_space(vp_ckpt, clip_media):
    ex = VideoPrismLvt(**_opts(vp_ckpt))
    ex.load()
    model = ex._model
    clip, times = vp_mod.window_clip([k for k in clip_media.keyframes if k.window_index == 1],
                                     clip_media.windows[1], model.num_frames, model.image_size)
    assert clip.shape == (4, 288, 288, 3) and clip.dtype == np.uint8
    assert list(times) == [2.5, 2.5, 3.5, 3.5]  # two keyframes padded to four frames
    tokens = model.video_tokens(clip[None])
    assert tokens.shape == (1, 4 * 16 * 16, 64) and model.tokens_per_frame == 256
    pooled = model.pool_tokens(tokens[0])
    assert pooled.shape == (64,) and abs(np.linalg.norm(pooled) - 1) < 1e-4


def test_more_frames_than_trained_interpolate(vp_ckpt, clip_media):
    ex = VideoPrismLvt(**_opts(vp_ckpt, num_frames=8))
    emb = np.asarray(ex.extract(clip_media, {}).columns["emb_videoprism"])
    assert emb.shape == (3, 64) and ex._model.num_frames == 8


def test_concept_tags_lines_and_columns(vp_ckpt, clip_media, tmp_path):
    bank = tmp_path / "bank.txt"
    bank.write_text("[objects]\nred square\nblue sky\nyellow sun\n[actions]\nmoving\n")
    ex = VideoPrismTags(**_opts(vp_ckpt, labels=[str(bank)], replace_default_labels=True, min_prob=0.0,
                                min_sim=-1.0, top_k=2))
    out = ex.extract(clip_media, {})
    assert out.stats["labels"] == 4 and out.stats["windows_tagged"] == 3
    tags = out.columns["vp_tags"]
    assert len(tags) == 3
    for win, win_tags, lines in zip(clip_media.windows, tags, out.lines):
        assert win_tags and {t["label"] for t in win_tags} <= {"red square", "blue sky", "yellow sun", "moving"}
        # keyframes at start+0.5 and start+1.5: one per 1 s bin, top-2 labels each
        assert sorted({(t["start_s"], t["end_s"]) for t in win_tags}) == [
            (win.start_s, win.start_s + 1.0), (win.start_s + 1.0, win.end_s)]
        for ln in lines:
            assert win.start_s <= ln.start_s < ln.end_s <= win.end_s and ln.kind == "visual"
            assert all(part in {"red square", "blue sky", "yellow sun", "moving"} for part in ln.text.split("; "))
    again = VideoPrismTags(**_opts(vp_ckpt, labels=[str(bank)], replace_default_labels=True, min_prob=0.0,
                                   min_sim=-1.0, top_k=2)).extract(clip_media, {})
    assert again.columns["vp_tags"] == tags  # deterministic


def test_a_short_window_with_one_keyframe_is_padded(vp_ckpt):
    media = make_media(video_id="short", duration_s=0.6, keyframe_every_s=1.0, frame=scene_frame)
    out = VideoPrismLvt(**_opts(vp_ckpt)).extract(media, {})
    assert len(out.columns["emb_videoprism"]) == 1 and len(out.columns["emb_videoprism"][0]) == 64


def test_columns_land_in_lancedb_tagged_with_the_model(vp_ckpt, tmp_path, store, monkeypatch):
    from vqa_pipeline.indexing.pipeline import index_paths
    from vqa_pipeline.media.types import WindowingOptions
    from vqa_pipeline_tests.media_factory import make_clip

    ckpt, spm = vp_ckpt
    monkeypatch.setenv("VQA_VIDEOPRISM_CHECKPOINT", str(ckpt))
    monkeypatch.setenv("VQA_VIDEOPRISM_TOKENIZER", str(spm))
    monkeypatch.setenv("VQA_DEVICE", "cpu")
    video = make_clip(tmp_path / "scenes.mp4", duration_s=4.0, scenes=[(0.0, (0, 0, 200)), (2.0, (200, 0, 0))])
    opts = WindowingOptions(length_s=2.0, stride_s=2.0, keyframe_every_s=0.5)
    summary = index_paths([video], store, opts, extractors=["videoprism-lvt", "videoprism-tags"])
    assert not summary.missing_extractors
    vid = summary.files[0].video_id
    rows = store.windows_for(vid, columns=["emb_videoprism", "videoprism_model", "vp_tags", "vp_tags_model",
                                           "vp_tags_lines"])
    assert len(rows) == 2
    assert all(r["videoprism_model"] == "videoprism-vp-tiny@1" == r["vp_tags_model"] for r in rows)
    assert all(len(r["emb_videoprism"]) == 64 for r in rows)
    assert str(store.windows.schema.field("emb_videoprism").type) == "fixed_size_list<item: float>[64]"
    recs = store.extraction_records(vid)
    assert recs[(vid, "videoprism")].status == "ok" and recs[(vid, "vp_tags")].status in ("ok", "empty")
    assert recs[(vid, "vp_tags")].model_tag == "videoprism-vp-tiny@1"


@pytest.mark.gpu
def test_gpu_bf16_matches_cpu(vp_ckpt, clip_media):
    import torch

    if not torch.cuda.is_available():
        pytest.skip("needs a CUDA GPU")
    cpu = np.asarray(VideoPrismLvt(**_opts(vp_ckpt)).extract(clip_media, {}).columns["emb_videoprism"])
    ckpt, spm = vp_ckpt
    gpu = np.asarray(VideoPrismLvt(checkpoint=str(ckpt), tokenizer=str(spm), device="cuda", precision="bf16")
                     .extract(clip_media, {}).columns["emb_videoprism"])
    assert all(cos(a, b) > 0.98 for a, b in zip(cpu, gpu))


@pytest.mark.weights
def test_real_lvt_base_ranks_the_right_colour(clip_media):
    ex = VideoPrismLvt()
    ok, why = ex.availability()
    if not ok:
        pytest.skip(f"real VideoPrism LvT weights are not here: {why}")
    emb = np.asarray(ex.extract(clip_media, {}).columns["emb_videoprism"])
    q = ex.embed_text(["a blue screen", "a red screen with a white square moving", "a yellow screen"])
    assert list((emb @ q.T).argmax(axis=1)) == [0, 1, 2]
