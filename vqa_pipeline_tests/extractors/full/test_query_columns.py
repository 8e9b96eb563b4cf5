"""A full-profile vector column is searched with the text tower of the checkpoint that wrote it."""

import numpy as np

from vqa_pipeline_tests.needs import require_module

require_module("torch", full_profile=True)
require_module("open_clip", full_profile=True)

from vqa_pipeline.extractors.full.clip import OpenClip  # noqa: E402
from vqa_pipeline.extractors.full.testing import build_clip_checkpoint  # noqa: E402
from vqa_pipeline.indexing.pipeline import index_paths  # noqa: E402
from vqa_pipeline.retrieval.fuse import FusionConfig, index_fusion  # noqa: E402
from vqa_pipeline.retrieval.retrievers import index_retrievers  # noqa: E402
from vqa_pipeline.retrieval.search import open_index, search_columns  # noqa: E402
from vqa_pipeline.store import Store  # noqa: E402
from vqa_pipeline_tests.media_factory import make_clip  # noqa: E402


def test_emb_clip_is_searched_only_with_the_checkpoint_that_wrote_it(tmp_path, clip_ckpt, monkeypatch):
    monkeypatch.setenv("VQA_CLIP_CHECKPOINT", str(clip_ckpt))
    monkeypatch.setenv("VQA_DEVICE", "cpu")
    clip = make_clip(tmp_path / "c.mp4", duration_s=4.0, scenes=[(0.0, (0, 0, 200)), (2.0, (200, 0, 0))])
    s = index_paths([clip], Store(tmp_path / "db"), extractors=["clip-vit-b32", "visual-stats", "e5-small"])
    assert s.files[0].extractors["clip-vit-b32"].startswith("ok")
    table = open_index(tmp_path / "db")

    # The registry pairs emb_clip with the configured CLIP, whose tag is the one stored in the column.
    built = index_retrievers(table)
    enc = built.encoders["emb_clip"]
    assert enc.name == "clip-vit-b32" and enc.model_tag == OpenClip().model_tag == f"open_clip-{clip_ckpt.name}@1"
    assert not built.notices
    tower = OpenClip(checkpoint=str(clip_ckpt), device="cpu").embed_text(["a red picture"])[0]
    assert np.allclose(enc.encode("a red picture"), tower, atol=1e-5)
    lists = search_columns(table, "a red picture", k=5)
    assert len(lists["emb_clip"]) == 2 and {"emb_text", "bm25"} <= set(lists)
    assert all(-1.0 <= score <= 1.0 for _, score in lists["emb_clip"])

    # A fusion config tuned on this index is used as is ...
    FusionConfig(model_tags=built.tags()).save(tmp_path / "db" / "fusion.json")
    assert index_fusion(tmp_path / "db", built.tags())[2] is True

    # ... until another checkpoint is configured: the column is not searched with the wrong tower,
    # and the stored fusion config is stale.
    other = build_clip_checkpoint(tmp_path / "clip-other", tiny=True, seed=1)
    monkeypatch.setenv("VQA_CLIP_CHECKPOINT", str(other))
    now = index_retrievers(table)
    assert "emb_clip" not in now.encoders and "emb_text" in now.encoders
    assert any("emb_clip was built by open_clip-clip-tiny@1" in n and "open_clip-clip-other@1" in n for n in now.notices)
    assert "emb_clip" not in search_columns(table, "a red picture", k=5)
    config, warning, tuned = index_fusion(tmp_path / "db", now.tags())
    assert not tuned and "emb_clip" in warning
