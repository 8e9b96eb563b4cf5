"""Per-column centering: fitted and stored with the column's model tag, applied consistently."""

import lancedb
import numpy as np

from vqa_pipeline.retrieval.search import QueryEncoder, search_columns
from vqa_pipeline.store.centering import fit_column_transform, question_transform, stored_transform
from vqa_pipeline.store.search import open_windows_table, vector_search
from vqa_pipeline.vectors import ColumnTransform, l2_normalize
from vqa_pipeline_tests.store.vector_tables import DIM, TAG, add_rows, clustered, window_id


def encoders(tag=TAG):
    return {"emb_text": QueryEncoder("e5-small", tag, lambda text: np.zeros(DIM, np.float32))}


def test_the_transform_is_stored_with_its_model_tag_and_survives_reopening_and_writes(store, db_dir):
    x = clustered(3_000)
    add_rows(store, x)
    t = fit_column_transform(store.windows, "emb_text", "text_model")
    assert t.model_tag == TAG and t.rows == 3_000
    np.testing.assert_allclose(t.mean, x.mean(axis=0), atol=1e-5)

    add_rows(store, clustered(10, seed=3), start=3_000)  # a later write keeps the field's metadata
    reopened = lancedb.connect(str(db_dir)).open_table("windows")
    again = stored_transform(reopened, "emb_text")
    assert again is not None and again.model_tag == TAG
    np.testing.assert_array_equal(again.mean, t.mean)
    # A few more rows than it was fitted on: kept, not refitted.
    assert fit_column_transform(reopened, "emb_text", "text_model").rows == 3_000

    assert question_transform(reopened, "emb_text", TAG) is not None
    # Another checkpoint's encoder never gets a transform fitted on these vectors.
    assert question_transform(reopened, "emb_text", "other-model@1") is None


def test_centered_search_still_finds_a_stored_vector_first_and_demotes_a_hub(store, db_dir, monkeypatch):
    rng = np.random.default_rng(1)
    x = clustered(3_000)
    common = l2_normalize(x.mean(axis=0))
    x[0] = common  # a hub: the column's mean direction is close to every question
    add_rows(store, x)
    fit_column_transform(store.windows, "emb_text", "text_model")
    table = open_windows_table(db_dir)
    t = stored_transform(table, "emb_text")

    monkeypatch.setenv("VQA_CENTERING", "1")
    for i in range(1, 3_000, 211):
        ranked = search_columns(table, "q", k=10, retrievers=encoders(), use_bm25=False,
                                question_vectors={"emb_text": x[i]})
        assert ranked["emb_text"][0][0] == window_id(i)
        assert abs(ranked["emb_text"][0][1] - 1.0) < 1e-4

    # Questions about no topic in particular (the shared direction plus noise): the hub comes first
    # in plain cosine for most of them, after centering for none.
    plain = centered = 0
    for _ in range(200):
        q = l2_normalize(3 * common + l2_normalize(rng.standard_normal(DIM)))
        plain += vector_search(table, "emb_text", q, 10)[0][0] == window_id(0)
        centered += vector_search(table, "emb_text", q, 10, transform=t)[0][0] == window_id(0)
    assert plain > 150 and centered < 10, (plain, centered)

    # Off (the default) or with another checkpoint's encoder: plain cosine, the same as no transform.
    q = l2_normalize(x[5] + 0.5 * common)
    want = vector_search(table, "emb_text", q, 10)
    monkeypatch.setenv("VQA_CENTERING", "0")
    assert search_columns(table, "q", k=10, retrievers=encoders(), use_bm25=False,
                          question_vectors={"emb_text": q})["emb_text"] == want
    monkeypatch.setenv("VQA_CENTERING", "1")
    assert search_columns(table, "q", k=10, retrievers=encoders("other-model@1"), use_bm25=False,
                          question_vectors={"emb_text": q})["emb_text"] == want


def test_the_transform_round_trips_through_json():
    x = clustered(500)
    t = ColumnTransform.fit(x, "m@1", remove=2)
    back = ColumnTransform.from_json(t.to_json())
    assert back.model_tag == "m@1" and back.rows == 500 and back.components.shape == (2, DIM)
    np.testing.assert_array_equal(back.apply(x[:3]), t.apply(x[:3]))
    # The removed directions are gone from every transformed vector.
    assert np.abs(t.apply(x) @ t.components.T).max() < 1e-5
