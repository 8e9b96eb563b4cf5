"""Which window rows with no ``videos`` record `vqa index` may take for a stopped run's on an
object store (store/health.py ``_abandoned``): only rows all already there ORPHAN_GRACE_S ago,
of a video with no record then. Real LanceDB tables in a folder (the rule reads table versions,
the same on a folder and an object store); the grace is one second here."""

from __future__ import annotations

import time
from datetime import timedelta

import pyarrow as pa
import pytest

from vqa_pipeline.store import Store, health

GRACE_S = 1.0
V, W = "0123456789abcdef", "fedcba9876543210"


def _ghost_rows(video_id: str, n: int) -> pa.Table:
    """Window rows of a video with no ``videos`` record (what a writer at work has written so far)."""
    return pa.Table.from_pylist([{"window_id": f"{video_id}-{i:05d}", "video_id": video_id, "window_index": i}
                                 for i in range(n)])


def _tables(store: Store):
    return store.windows, store.videos


def test_rows_left_alone_past_the_grace_are_abandoned_those_written_again_since_are_not(tmp_path):
    store = Store(tmp_path / "db")
    store.upsert_video({"video_id": "aaaaaaaaaaaaaaaa", "source": "/media/a.mp4", "status": "indexed"})
    store.add_windows(_ghost_rows(V, 2))  # a writer (A's stopped run, or B) wrote V's rows ...
    store.add_windows(_ghost_rows(W, 3))  # ... and a stopped run left W's
    time.sleep(GRACE_S + 0.5)
    store.delete_windows(V)  # B's own repair deleted V's rows, and B indexes V again: rows, no record yet
    store.add_windows(_ghost_rows(V, 2))
    windows, videos = _tables(store)
    assert health._abandoned(windows, [V, W], GRACE_S) == [W]  # V's rows are not those left back then
    assert health._abandoned(windows, [V, W], GRACE_S, videos) == [W]
    assert store.count_windows(V) == 2 and windows.version == store.db.open_table("windows").version  # read only


def test_rows_of_a_video_recorded_back_then_are_not_abandoned(tmp_path):
    store = Store(tmp_path / "db")
    store.add_windows(_ghost_rows(V, 2))
    store.add_windows(_ghost_rows(W, 2))
    store.upsert_video({"video_id": V, "source": "/media/v.mp4", "status": "indexed", "n_windows": 2})
    time.sleep(GRACE_S + 0.5)
    store.videos.delete(f"video_id = '{V}'")  # a writer at work on V dropped its record, its rows still there
    windows, videos = _tables(store)
    assert health._abandoned(windows, [V, W], GRACE_S, videos) == [W]


class _CleanedMeanwhile:
    """A real ``windows`` table under which another writer's cleanup removes the old versions right
    after they were listed (the moment the race needs; everything else is the table's own)."""

    def __init__(self, table):
        self._table = table

    def list_versions(self):
        versions = self._table.list_versions()
        self._table.optimize(cleanup_older_than=timedelta(0), delete_unverified=True)
        return versions

    def __getattr__(self, name):
        return getattr(self._table, name)


@pytest.mark.filterwarnings("ignore:optimize\\(cleanup_older_than=0\\)")
def test_a_version_removed_meanwhile_deletes_nothing_and_logs_one_line(tmp_path, caplog):
    store = Store(tmp_path / "db")
    store.add_windows(_ghost_rows(W, 2))
    time.sleep(GRACE_S + 0.5)
    store.add_windows(_ghost_rows(V, 2))
    windows, videos = _tables(store)
    assert health._abandoned(windows, [W], GRACE_S, videos) == [W]  # without the cleanup: W's are a stopped run's
    caplog.set_level("INFO", logger=health.__name__)
    assert health._abandoned(_CleanedMeanwhile(windows), [W], GRACE_S, videos) == []
    said = [r.getMessage() for r in caplog.records if r.name == health.__name__]
    assert len(said) == 1 and "\n" not in said[0] and ": left" in said[0], said
