"""A full-profile vector column is searched with its own text tower by the query side."""

from vqa_pipeline_tests.needs import require_module

require_module("torch", full_profile=True)
require_module("open_clip", full_profile=True)

from vqa_pipeline.indexing.pipeline import index_paths  # noqa: E402
from vqa_pipeline.retrieval.search import encode_question, open_windows_table, search_columns  # noqa: E402
from vqa_pipeline.store import Store  # noqa: E402
from vqa_pipeline_tests.media_factory import make_clip  # noqa: E402


def test_emb_clip_is_indexed_and_searched(tmp_path, clip_ckpt, monkeypatch):
    monkeypatch.setenv("VQA_CLIP_CHECKPOINT", str(clip_ckpt))
    monkeypatch.setenv("VQA_DEVICE", "cpu")
    clip = make_clip(tmp_path / "c.mp4", duration_s=4.0, scenes=[(0.0, (0, 0, 200)), (2.0, (200, 0, 0))])
    s = index_paths([clip], Store(tmp_path / "db"), extractors=["clip-vit-b32", "visual-stats", "e5-small"])
    assert s.files[0].extractors["clip-vit-b32"].startswith("ok")
    table = open_windows_table(tmp_path / "db")
    vecs = encode_question("a red picture", ["emb_clip"])
    lists = search_columns(table, "a red picture", k=5, question_vectors={**vecs, **encode_question("a red picture", ["emb_text"])})
    assert "emb_clip" in lists and len(lists["emb_clip"]) == 2
    # Cosine scores in [-1, 1] from the same space: the question and window vectors share a dimension.
    assert all(-1.0 <= score <= 1.0 for _, score in lists["emb_clip"])
