"""The database writer lock: one writer at a time across processes, never blocked by a dead one."""

import json
import os
import signal
import socket
import subprocess
import sys
import time

import pyarrow as pa
import pytest

from vqa_pipeline.store import Store
from vqa_pipeline.store.commits import retry_conflicts, unique_by
from vqa_pipeline.store.lock import LOCK_NAME, DatabaseBusy, WriterLock
from vqa_pipeline_tests.store.lock_holder import COMMAND, held, release, start_holder


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_a_held_lock_refuses_another_process_and_names_its_holder(tmp_path):
    db = tmp_path / "db"
    with held(db) as holder:
        with pytest.raises(DatabaseBusy) as err:
            WriterLock(db).acquire(wait=False)
        assert err.value.holder is not None and err.value.holder.pid == holder.pid
        assert err.value.holder.host == socket.gethostname()
        message = str(err.value)
        assert message.startswith(f"database {db} is busy: {COMMAND} by pid {holder.pid} on host ")
        assert "\n" not in message
        with pytest.raises(DatabaseBusy) as err:
            WriterLock(db).acquire(wait=True, timeout=0.5)
        assert "(waited" in str(err.value)
    lock = WriterLock(db, command="me")
    with lock.hold(wait=False):
        assert lock.holder() is not None and lock.holder().pid == os.getpid()
        assert lock.holder().command == "me"
    assert lock.holder() is None  # released: the file stays, emptied


def test_a_waiting_writer_gets_the_lock_when_the_holder_lets_go(tmp_path):
    db = tmp_path / "db"
    holder, line = start_holder(db)
    assert line == "held"
    seen = []

    def on_wait(who):
        seen.append(who.pid)
        release(holder)  # the other writer finishes while we wait

    lock = WriterLock(db)
    lock.acquire(wait=True, on_wait=on_wait)
    try:
        assert seen == [holder.pid]
        assert lock.held and lock.holder().pid == os.getpid()
    finally:
        lock.release()


def test_kill_9_of_the_holder_releases_the_lock(tmp_path):
    db = tmp_path / "db"
    holder, line = start_holder(db)
    assert line == "held"
    holder.kill()
    holder.wait(timeout=60)
    notices = []
    with WriterLock(db).hold(wait=False, notice=notices.append):
        pass
    assert len(notices) == 1 and f"pid {holder.pid}" in notices[0] and "ended without finishing" in notices[0]


def test_a_lock_file_naming_a_dead_pid_does_not_block(tmp_path):
    db = tmp_path / "db"
    db.mkdir()
    pid = _dead_pid()
    (db / LOCK_NAME).write_text(json.dumps({"pid": pid, "host": socket.gethostname(), "started": time.time(),
                                            "command": "vqa index"}))
    notices = []
    with WriterLock(db).hold(wait=False, notice=notices.append):
        pass
    assert len(notices) == 1 and f"pid {pid}" in notices[0]


def test_a_lock_still_held_by_the_child_of_a_dead_holder_is_taken_over(tmp_path):
    db = tmp_path / "db"
    parent, line = start_holder(db, "orphan")
    orphan = int(line)
    try:
        parent.wait(timeout=60)
        notices = []
        lock = WriterLock(db)
        with lock.hold(wait=False, notice=notices.append):
            assert lock.holder().pid == os.getpid()
            # The lock is ours now: a third process is refused, whatever the orphan still holds.
            out = subprocess.run([sys.executable, "-c", "import sys; from vqa_pipeline.store.lock import "
                                  "WriterLock, DatabaseBusy\ntry:\n WriterLock(sys.argv[1]).acquire(wait=False)\n"
                                  "except DatabaseBusy as e:\n print(e)", str(db)],
                                 capture_output=True, text=True, timeout=120)
            assert f"pid {os.getpid()}" in out.stdout and "busy" in out.stdout, out.stderr
        assert len(notices) == 1 and f"pid {parent.pid}" in notices[0] and "that process is gone" in notices[0]
    finally:
        os.kill(orphan, signal.SIGKILL)


def test_a_live_holder_on_another_host_is_trusted_unless_broken(tmp_path):
    db = tmp_path / "db"
    db.mkdir()
    other = {"pid": 1, "host": "some-other-host", "started": time.time(), "command": "vqa index"}
    with held(db):
        (db / LOCK_NAME).write_text(json.dumps(other))  # as if the holder ran elsewhere
        with pytest.raises(DatabaseBusy) as err:
            WriterLock(db).acquire(wait=False)
        assert "on host some-other-host" in str(err.value)
        notices = []
        with WriterLock(db).hold(wait=False, break_lock=True, notice=notices.append):
            pass
        assert "breaking it as asked" in notices[0]


def test_store_writes_reenter_the_lock_held_for_a_run(tmp_path):
    db = tmp_path / "db"
    store = Store(db, writer="a run")
    with store.writing(wait=False):
        store.upsert_files([{"path": "/x/a.mp4", "size_bytes": 1, "mtime_ns": 1, "video_id": "v1", "status": "ok"}])
        assert WriterLock(db).holder().command == "a run"
    assert store.lock is not None and not store.lock.held
    with held(db):
        # A reader is never blocked by a writer.
        assert set(Store(db, create=False).file_records()) == {"/x/a.mp4"}


def test_merge_batches_are_made_unique_by_key_last_row_wins():
    rows = pa.table({"k": ["a", "b", "a", "c", "b"], "v": [1, 2, 3, 4, 5]})
    out = unique_by(rows, "k")
    assert sorted(zip(out.column("k").to_pylist(), out.column("v").to_pylist())) == [("a", 3), ("b", 5), ("c", 4)]
    assert unique_by(rows.slice(0, 2), "k").num_rows == 2


def test_commit_conflicts_are_retried_a_bounded_number_of_times():
    calls = []

    def flaky():
        calls.append(1)
        if len(calls) < 3:
            raise OSError("lance error: Retryable commit conflict for version 7: This merge_insert conflicts")
        return "done"

    assert retry_conflicts(flaky, backoff_s=0.001) == "done" and len(calls) == 3

    def always():
        calls.append(1)
        raise OSError("Retryable commit conflict for version 8")

    calls.clear()
    with pytest.raises(OSError):
        retry_conflicts(always, attempts=4, backoff_s=0.001)
    assert len(calls) == 4

    def other():
        calls.append(1)
        raise ValueError("not a conflict")

    calls.clear()
    with pytest.raises(ValueError):
        retry_conflicts(other, backoff_s=0.001)
    assert len(calls) == 1


def test_a_search_during_a_write_neither_waits_nor_refreshes_the_text_index(tmp_path):
    from vqa_pipeline.store.search import fts_search, open_windows_table
    from vqa_pipeline.store.search_index import _fts_index

    db = tmp_path / "db"
    store = Store(db)
    vid = "00000000000000aa"
    ids = [f"{vid}-{i:05d}" for i in range(3)]
    store.replace_windows(vid, pa.table({"window_id": ids, "video_id": [vid] * 3, "window_index": [0, 1, 2]}))
    store.write_group(vid, "", {"evidence_text": ["a red kettle", "a blue door", "green tea"]}, ids)
    store.refresh_search_index()
    store.write_group(vid, "", {"evidence_text": ["a red kettle", "a blue door", "jasmine tea"]}, ids)
    table = open_windows_table(db)
    assert _fts_index(table).num_unindexed_rows > 0  # the last write is not in the BM25 index yet
    with held(db):
        hits = fts_search(table, "jasmine", 5)
        assert [w for w, _ in hits] == [ids[2]]  # unindexed rows are searched too
        assert _fts_index(open_windows_table(db)).num_unindexed_rows > 0  # the writer refreshes it, not us
    fts_search(open_windows_table(db), "jasmine", 5)
    assert _fts_index(open_windows_table(db)).num_unindexed_rows == 0


def test_taking_the_lock_shows_a_store_what_others_wrote_meanwhile(tmp_path):
    db = tmp_path / "db"
    row = {"size_bytes": 1, "mtime_ns": 1, "video_id": "v1", "status": "ok"}
    mine = Store(db)
    mine.upsert_files([{"path": "/x/a.mp4", **row}])
    assert set(mine.file_records()) == {"/x/a.mp4"}  # the table is open, at this version
    vqa_like = subprocess.run(
        [sys.executable, "-c", "import sys; from vqa_pipeline.store import Store\n"
         "Store(sys.argv[1]).upsert_files([{'path': '/x/b.mp4', 'size_bytes': 2, 'mtime_ns': 2, "
         "'video_id': 'v2', 'status': 'ok'}])", str(db)], capture_output=True, text=True, timeout=120)
    assert vqa_like.returncode == 0, vqa_like.stderr
    with mine.writing():  # a read-modify-write under the lock reads the latest rows
        assert set(mine.file_records()) == {"/x/a.mp4", "/x/b.mp4"}


def test_a_holder_in_another_pid_namespace_of_this_host_is_trusted(tmp_path):
    # A container on the host network has this host's name but its own pids: a pid we cannot see
    # there says nothing about whether that writer is alive.
    db = tmp_path / "db"
    db.mkdir()
    other = {"pid": _dead_pid(), "host": socket.gethostname(), "started": time.time(), "command": "dagster",
             "space": "another-boot|pid:[4026531836]"}
    with held(db):
        (db / LOCK_NAME).write_text(json.dumps(other))
        with pytest.raises(DatabaseBusy) as err:
            WriterLock(db).acquire(wait=False)
        assert "dagster by pid" in str(err.value)


def test_batched_video_rows_wait_for_the_lock(tmp_path):
    import threading

    db = tmp_path / "db"
    store = Store(db)
    store.upsert_videos([{"video_id": "00000000000000aa", "status": "failed", "error": "x"}])
    done = threading.Event()
    with held(db) as holder:
        t = threading.Thread(target=lambda: (store.upsert_videos([{"video_id": "00000000000000bb", "status": "failed",
                                                                   "error": "y"}]), done.set()))
        t.start()
        time.sleep(1.5)
        assert not done.is_set()  # it waits for the other writer
        assert sorted(Store(db).video_records()) == ["00000000000000aa"]
        release(holder)
        t.join(60)
    assert done.is_set() and sorted(Store(db).video_records()) == ["00000000000000aa", "00000000000000bb"]


def test_break_lock_never_takes_the_lock_from_a_live_writer_on_this_host(tmp_path):
    db = tmp_path / "db"
    with held(db) as holder:
        with pytest.raises(DatabaseBusy) as err:
            WriterLock(db).acquire(wait=False, break_lock=True)
        assert f"pid {holder.pid}" in str(err.value)
