"""Concept tagging: label bank, time bins, and tokens -> bins -> labels (numpy only, no model)."""

from __future__ import annotations

import numpy as np
import pytest

from vqa_pipeline.extractors.full import concepts
from vqa_pipeline.extractors.full.concepts import TaggingOptions

P = 16 * 16  # tokens per frame at 288x288 with 18x18 patches


def test_default_bank_has_categories_and_no_duplicates():
    bank = concepts.load_label_bank(extra=())
    cats = {lab.category for lab in bank}
    assert {"objects", "actions", "attributes"} <= cats
    texts = [lab.text.lower() for lab in bank]
    assert len(texts) == len(set(texts)) and len(texts) > 100
    assert "dog" in texts and "running" in texts and "red" in texts


def test_user_bank_extends_or_replaces(tmp_path, monkeypatch):
    f = tmp_path / "mine.txt"
    f.write_text("# my labels\n[objects]\nforklift\nDog\n[actions]\nwelding  sparks\n")
    labs = concepts.load_label_bank(extra=[f])
    texts = [lab.text for lab in labs]
    assert "forklift" in texts and "welding sparks" in texts
    assert texts.count("dog") == 1 and "Dog" not in texts  # de-duplicated, the default wins
    only = concepts.load_label_bank(extra=[f], replace_default=True)
    assert [(lab.text, lab.category) for lab in only] == [("forklift", "objects"), ("Dog", "objects"),
                                                          ("welding sparks", "actions")]
    monkeypatch.setenv("VQA_VP_LABELS", str(f))
    assert "forklift" in [lab.text for lab in concepts.load_label_bank()]
    with pytest.raises(FileNotFoundError):
        concepts.load_label_bank(extra=[tmp_path / "missing.txt"])


def test_time_bins_cover_the_window():
    assert concepts.time_bins(12.0, 14.0, 1.0) == [(12.0, 13.0), (13.0, 14.0)]
    assert concepts.time_bins(0.0, 2.0, 0.5) == [(0.0, 0.5), (0.5, 1.0), (1.0, 1.5), (1.5, 2.0)]
    assert concepts.time_bins(0.0, 2.1, 1.0) == [(0.0, 1.0), (1.0, 2.1)]  # a sliver joins the last bin
    assert concepts.time_bins(4.0, 4.3, 1.0) == [(4.0, 4.3)]


def test_frames_and_token_indices():
    times = [12.1, 12.4, 12.6, 12.9, 13.1, 13.4, 13.6, 13.9]
    bins = [(12.0, 13.0), (13.0, 14.0)]
    assert concepts.frames_per_bin(times, bins) == [[0, 1, 2, 3], [4, 5, 6, 7]]
    idx = concepts.token_indices([4, 5], P)
    assert idx[0] == 4 * P and idx[-1] == 6 * P - 1 and idx.size == 2 * P
    # the last bin is closed on the right: a frame exactly at the window end still counts
    assert concepts.frames_per_bin([13.0, 14.0], bins) == [[], [0, 1]]


def _label_space(n_labels: int = 12, dim: int = 32, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(rng.standard_normal((dim, dim)))
    return q[:n_labels].astype(np.float32)  # orthonormal label embeddings


def test_tokens_equal_to_a_label_embedding_tag_the_right_time_bin():
    labels = [concepts.Label(f"label{i}", "objects") for i in range(12)]
    emb = _label_space()
    dog, frisbee = 3, 7
    times = np.array([12.1, 12.4, 12.6, 12.9, 13.1, 13.4, 13.6, 13.9])  # T = 8 frames over 12-14 s
    rng = np.random.default_rng(1)
    tokens = rng.standard_normal((len(times) * P, emb.shape[1])).astype(np.float32) * 0.01  # no concept
    # frames 4..7 (13-14 s) carry label 3 in every token; frame 2 (12.6 s) carries label 7
    tokens[concepts.token_indices([4, 5, 6, 7], P)] = emb[dog]
    tokens[concepts.token_indices([2], P)] = emb[frisbee] * 4.0  # one strong frame of four in its bin
    bins = concepts.time_bins(12.0, 14.0, 1.0)
    vecs = concepts.pool_bins(tokens, P, times, bins)
    assert all(abs(np.linalg.norm(v) - 1) < 1e-5 for v in vecs)
    tags = concepts.tag_bins(vecs, bins, labels, emb, TaggingOptions(top_k=2, min_prob=0.3))
    by_bin = {(t.start_s, t.end_s): [x.label for x in tags if (x.start_s, x.end_s) == (t.start_s, t.end_s)]
              for t in tags}
    assert by_bin[(13.0, 14.0)] == ["label3"]
    assert by_bin[(12.0, 13.0)] == ["label7"]
    assert all(0 < t.score <= 1 for t in tags)
    assert concepts.tag_lines(tags) == [(12.0, 13.0, "label7"), (13.0, 14.0, "label3")]


def test_no_concept_no_tag_and_mismatched_tokens_raise():
    labels = [concepts.Label(f"l{i}", "misc") for i in range(12)]
    emb = _label_space()
    tokens = np.random.default_rng(2).standard_normal((4 * P, emb.shape[1])).astype(np.float32)
    bins = [(0.0, 1.0), (1.0, 2.0)]
    vecs = concepts.pool_bins(tokens, P, [0.2, 0.4, 0.6, 0.8], bins)
    assert vecs[1] is None  # no frame in the second bin
    assert concepts.tag_bins(vecs, bins, labels, emb, TaggingOptions(min_sim=0.6)) == []  # nothing close enough
    with pytest.raises(ValueError, match="tokens do not match"):
        concepts.pool_bins(tokens[:-1], P, [0.2, 0.4, 0.6, 0.8], bins)


def test_tag_lines_merge_adjacent_bins_with_the_same_labels():
    t = [concepts.ConceptTag(0.0, 1.0, "dog running", "actions", 0.9),
         concepts.ConceptTag(0.0, 1.0, "red frisbee", "objects", 0.5),
         concepts.ConceptTag(1.0, 2.0, "dog running", "actions", 0.8),
         concepts.ConceptTag(1.0, 2.0, "red frisbee", "objects", 0.4),
         concepts.ConceptTag(2.0, 3.0, "cat", "objects", 0.7)]
    assert concepts.tag_lines(t) == [(0.0, 2.0, "dog running; red frisbee"), (2.0, 3.0, "cat")]
