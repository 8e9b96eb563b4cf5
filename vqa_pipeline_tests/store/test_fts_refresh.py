"""The BM25 index is rebuilt at geometric steps, not after every write (a corpus indexed video by video
stays O(N) in rebuilds), and rows written since the last rebuild are found all the same."""

import pyarrow as pa

from vqa_pipeline.store import Store, search_index
from vqa_pipeline.store.search import fts_search, open_windows_table
from vqa_pipeline.store.search_index import _fts_index, fts_needs_rebuild


def _write_video(store: Store, n: int, windows: int, text: str) -> list[str]:
    vid = f"{n:016x}"
    ids = [f"{vid}-{i:05d}" for i in range(windows)]
    store.replace_windows(vid, pa.table({"window_id": ids, "video_id": [vid] * windows,
                                         "window_index": pa.array(range(windows), pa.int32())}))
    store.write_group(vid, "", {"evidence_text": [f"{text} window {i}" for i in range(windows)]}, ids)
    return ids


def test_the_rule():
    assert not fts_needs_rebuild(100, 0)
    assert fts_needs_rebuild(100, 1)  # a small table is always kept complete
    big = search_index.FTS_SMALL_TABLE_ROWS * 10
    assert not fts_needs_rebuild(big, int(big * search_index.FTS_STALE_FRACTION))
    assert fts_needs_rebuild(big, int(big * search_index.FTS_STALE_FRACTION) + 1)
    huge = 10 * search_index.FTS_MAX_UNINDEXED_ROWS / search_index.FTS_STALE_FRACTION
    assert fts_needs_rebuild(int(huge), search_index.FTS_MAX_UNINDEXED_ROWS + 1)  # a query scans few rows flat


def test_videos_written_one_by_one_rebuild_the_index_at_geometric_steps(tmp_path, monkeypatch):
    monkeypatch.setattr(search_index, "FTS_SMALL_TABLE_ROWS", 50)  # the rule for large tables, on a small one
    store = Store(tmp_path / "db")
    builds = []
    for n in range(30):
        ids = _write_video(store, n, 10, f"clip{n} forklift")
        store.refresh_search_index()  # as a Dagster run does after each video
        idx = _fts_index(store.windows)
        if not builds or builds[-1][1] != idx.index_uuid:
            builds.append((n, idx.index_uuid))
        # the new video's rows are found whether or not they are in the index yet
        hits = fts_search(open_windows_table(tmp_path / "db"), f"clip{n}", 20)
        assert sorted(w for w, _ in hits) == ids
    # 30 videos, one rebuild each before: now a rebuild when the unindexed rows pass 10 % of the indexed ones
    assert 5 <= len(builds) <= 20, builds
    gaps = [b[0] - a[0] for a, b in zip(builds, builds[1:])]
    assert gaps[-1] > 1 and gaps[-1] >= gaps[1], gaps  # steps grow with the table
    last = _fts_index(store.windows)
    assert last.num_unindexed_rows <= 0.1 * last.num_indexed_rows + 10


def test_a_rewritten_row_is_found_by_its_new_text_only(tmp_path, monkeypatch):
    monkeypatch.setattr(search_index, "FTS_SMALL_TABLE_ROWS", 0)
    store = Store(tmp_path / "db")
    ids = _write_video(store, 1, 40, "kettle")
    store.refresh_search_index()
    store.write_group(f"{1:016x}", "", {"evidence_text": ["jasmine tea"]}, ids[:1])
    store.refresh_search_index()
    table = open_windows_table(tmp_path / "db")
    assert _fts_index(table).num_unindexed_rows == 1  # 1 of 40: not worth a rebuild
    assert [w for w, _ in fts_search(table, "jasmine", 5)] == ids[:1]
    assert ids[0] not in [w for w, _ in fts_search(table, "kettle", 50)]


def test_fraction_zero_rebuilds_after_every_write(tmp_path, monkeypatch):
    monkeypatch.setattr(search_index, "FTS_SMALL_TABLE_ROWS", 0)
    monkeypatch.setattr(search_index, "FTS_STALE_FRACTION", 0.0)
    store = Store(tmp_path / "db")
    _write_video(store, 1, 40, "kettle")
    store.refresh_search_index()
    _write_video(store, 2, 1, "teapot")
    store.refresh_search_index()
    assert _fts_index(store.windows).num_unindexed_rows == 0
