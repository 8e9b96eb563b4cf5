"""The vector index rule on real LanceDB tables: exact search when small, IVF-PQ when large."""


from vqa_pipeline.store.search import open_windows_table, vector_search
from vqa_pipeline.store.search_index import AnnParams, ann_params, ensure_vector_index
from vqa_pipeline_tests.store.vector_tables import add_rows, clustered, window_id


def test_the_rule_keeps_small_tables_exact_and_sizes_the_index_from_the_rows():
    assert ann_params(49_999) is None
    assert ann_params(50_000) == AnnParams("IVF_PQ", 55, 48, 20, 10)
    # 1M windows: 250 partitions of ~4k rows, 48 sub-vectors of 8 dims, 20 probes, refine x10.
    assert ann_params(1_000_000) == AnnParams("IVF_PQ", 250, 48, 20, 10)
    assert ann_params(16_000_000) == AnnParams("IVF_PQ", 1000, 48, 80, 10)
    assert ann_params(20_000, dim=32, min_rows=10_000) == AnnParams("IVF_PQ", 35, 4, 20, 10)


def test_a_large_table_gets_an_ann_index_that_finds_stored_vectors_and_takes_new_rows(store, db_dir):
    x = clustered(20_000)
    add_rows(store, x[:5_000])
    table = store.windows
    assert not ensure_vector_index(table, "emb_text", min_rows=10_000)  # small: exact search, no index
    assert not [i for i in table.list_indices() if list(i.columns) == ["emb_text"]]

    add_rows(store, x[5_000:], start=5_000)
    assert ensure_vector_index(table, "emb_text", min_rows=10_000)
    (idx,) = [i for i in table.list_indices() if list(i.columns) == ["emb_text"]]
    stats = table.index_stats(idx.name)
    assert stats.index_type == "IVF_PQ" and stats.distance_type == "cosine" and stats.num_indexed_rows == 20_000

    # The project's search path (probes and refine from the rule) finds a stored vector first.
    table = open_windows_table(db_dir)
    for i in range(0, 20_000, 997):
        assert vector_search(table, "emb_text", x[i], 10)[0][0] == window_id(i)

    # 1 % new rows stay outside the index (no merge per small run) and are found all the same ...
    new = clustered(800, seed=5)
    add_rows(store, new[:200], start=20_000)
    assert ensure_vector_index(store.windows, "emb_text", min_rows=10_000)
    stats = store.windows.index_stats(idx.name)
    assert stats.num_indexed_rows == 20_000 and stats.num_unindexed_rows == 200
    table = open_windows_table(db_dir)
    for i in range(0, 200, 23):
        assert vector_search(table, "emb_text", new[i], 10)[0][0] == window_id(20_000 + i)

    # ... and past 2 % they are merged into the existing index, not rebuilt.
    add_rows(store, new[200:], start=20_200)
    assert ensure_vector_index(store.windows, "emb_text", min_rows=10_000)
    stats = store.windows.index_stats(idx.name)
    assert stats.num_indexed_rows == 20_800 and stats.num_unindexed_rows == 0
    table = open_windows_table(db_dir)
    for i in range(200, 800, 61):
        assert vector_search(table, "emb_text", new[i], 10)[0][0] == window_id(20_000 + i)
