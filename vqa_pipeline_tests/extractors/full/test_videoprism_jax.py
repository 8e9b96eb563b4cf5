"""VideoPrism's official JAX backend (``backend="jax"``, ``VideoPrismJax``) on a random-weight model.

The model is upstream's own ``FactorizedVideoCLIP`` (``videoprism.models.get_model``) with the LvT-base
configuration cut down to one layer per stack (width 768 and the 16 x 288 x 288 input kept, so the
project's frame sampling and 768-d column are the real ones); its random parameters are saved as an
``.npz`` the way upstream's checkpoints are (``utils.tree_flatten_with_names``) and loaded back through
the project's loader (``vp.load_pretrained_weights``). The text side uses a SentencePiece model
trained here.

The ``videoprism`` package is not on PyPI (users install it from its GitHub repository, with jax,
flax and tensorflow): where it does not import, this whole file skips with that reason, in CI too.
"""

from __future__ import annotations

import numpy as np
import pytest

vp_models = pytest.importorskip(
    "videoprism.models",
    reason="the videoprism JAX package is not installed (pip install from github.com/google-deepmind/videoprism, "
           "with jax and flax); the jax backend of VideoPrism is tested only where it imports",
)
jax = pytest.importorskip("jax", reason="jax is not installed (the videoprism package needs it)")
pytest.importorskip("sentencepiece", reason="sentencepiece is not installed (pip install -e .[videoprism])")

from vqa_pipeline.extractors.full import videoprism as vp_mod  # noqa: E402
from vqa_pipeline.extractors.full import videoprism_model as vp_model  # noqa: E402
from vqa_pipeline.extractors.full.videoprism import VideoPrismLvt, VideoPrismTags  # noqa: E402
from vqa_pipeline_tests.extractors.full.conftest import cos  # noqa: E402

# LvT base, one layer per stack: the same module classes and input geometry as the released model.
TINY_LVT_BASE = dict(
    patch_size=18,
    pos_emb_shape=(16, 16, 16),
    num_spatial_layers=1,
    num_temporal_layers=1,
    mlp_dim=256,
    num_auxiliary_layers=1,
    enable_causal_atten=True,
    num_unimodal_layers=1,
    norm_policy="pre",
    model_dim=768,
    num_heads=4,
    atten_logit_cap=50.0,
    scan=True,
)
MODEL_NAME = "videoprism_lvt_public_v1_base"


@pytest.fixture(scope="module")
def tiny_config():
    """Upstream's model registry builds the cut-down configuration while this module runs."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setitem(vp_models.CONFIGS, "videoprism_lvt_v1_base", dict(TINY_LVT_BASE))
        yield


@pytest.fixture(scope="module")
def jax_ckpt(tiny_config, tmp_path_factory):
    """(``.npz`` of random LvT parameters named like upstream's base checkpoint, SentencePiece model)."""
    from videoprism import utils as vp_utils

    from vqa_pipeline.extractors.full.testing import build_spm_model

    root = tmp_path_factory.mktemp("vp-jax")
    model = vp_models.get_model(MODEL_NAME)
    video = np.zeros((1, 16, 288, 288, 3), np.float32)
    ids = np.zeros((1, vp_model.TEXT_MAX_LENGTH), np.int32)
    pads = np.zeros((1, vp_model.TEXT_MAX_LENGTH), np.float32)
    params = model.init(jax.random.PRNGKey(0), video, ids, pads, train=False)
    npz = root / "flax_lvt_base_tiny_repeated.npz"
    np.savez(npz, **{name: np.asarray(value) for name, value in vp_utils.tree_flatten_with_names(params)})
    return npz, build_spm_model(root / "c4_en-tiny.model")


def _opts(jax_ckpt, **extra):
    npz, spm = jax_ckpt
    return dict(backend="jax", checkpoint=str(npz), tokenizer=str(spm), **extra)


def test_jax_backend_is_available_and_located(jax_ckpt):
    ex = VideoPrismLvt(**_opts(jax_ckpt))
    ok, why = ex.availability()
    assert ok and "jax backend" in why and str(jax_ckpt[0]) in why
    spec = vp_mod.locate_weights(_opts(jax_ckpt))
    assert (spec.backend, spec.size, spec.source.path) == ("jax", "base", jax_ckpt[0])
    ok, why = VideoPrismTags(**_opts(jax_ckpt)).availability()
    assert not ok and "transformers backend" in why


def test_window_embeddings_come_from_the_saved_weights(jax_ckpt, clip_media):
    ex = VideoPrismLvt(**_opts(jax_ckpt))
    out = ex.extract(clip_media, {})
    emb = np.asarray(out.columns["emb_videoprism"], np.float32)
    assert emb.shape == (3, 768) and out.stats["frames_per_window"] == 16 and not out.notes
    assert np.allclose(np.linalg.norm(emb, axis=1), 1.0, atol=1e-4)
    assert cos(emb[0], emb[1]) < 0.9999 and cos(emb[1], emb[2]) < 0.9999  # three different scenes

    # The same clip through upstream's own model and checkpoint reader gives the same vector.
    model = vp_models.get_model(MODEL_NAME)
    state = vp_models.load_pretrained_weights(MODEL_NAME, checkpoint_path=str(jax_ckpt[0]))
    win = clip_media.windows[1]
    frames = [kf for kf in clip_media.keyframes if kf.window_index == win.index]
    clip, _ = vp_mod.window_clip(frames, win, 16, vp_model.IMAGE_SIZE)
    ref = np.asarray(model.apply(state, clip[None].astype(np.float32) / 255.0, None, None, train=False)[0])[0]
    assert cos(ref, emb[1]) > 0.9999

    again = np.asarray(VideoPrismLvt(**_opts(jax_ckpt)).extract(clip_media, {}).columns["emb_videoprism"])
    assert np.allclose(again, emb, atol=1e-5)  # deterministic


def test_text_embeddings_share_the_video_space(jax_ckpt, clip_media):
    ex = VideoPrismLvt(**_opts(jax_ckpt))
    q = ex.embed_text(["a red square", "a blue screen", "a red square"])
    assert q.shape == (3, 768) and np.allclose(np.linalg.norm(q, axis=1), 1.0, atol=1e-4)
    assert np.allclose(q[0], q[2], atol=1e-5) and cos(q[0], q[1]) < 0.9999
    assert np.allclose(VideoPrismLvt(**_opts(jax_ckpt)).embed_query("a red square"), q[0], atol=1e-5)
    emb = np.asarray(ex.extract(clip_media, {}).columns["emb_videoprism"], np.float32)
    assert (emb @ q.T).shape == (3, 3)


def test_concept_tags_need_the_transformers_backend(jax_ckpt):
    model = vp_mod.load_videoprism(vp_mod.locate_weights(_opts(jax_ckpt)))
    with pytest.raises(RuntimeError, match="concept tags need the transformers backend"):
        model.video_tokens(np.zeros((1, 16, 288, 288, 3), np.uint8))
