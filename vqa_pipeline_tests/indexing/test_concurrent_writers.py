"""Two writers on one database (issue 15, point 1): `vqa index` run by real, concurrent processes.

Before the writer lock, two runs of one folder both failed with a raw commit conflict and left
duplicate window ids, after which every merge was refused ("ambiguous merge"). Now the second
run waits (or, with --no-wait, says who holds the database) and the table is that of one clean run.
"""

import json
import signal
import time

import lancedb
import pyarrow as pa

from vqa_pipeline.store.lock import WriterLock
from vqa_pipeline.store.tables import KEYS_CHECKED
from vqa_pipeline_tests.media_factory import make_clip
from vqa_pipeline_tests.store.lock_holder import COMMAND, held, release, start_holder, vqa, vqa_popen

EXTRACTORS = "visual-stats,yamnet"  # cheap, and they write model columns after the windows


def _clips(folder, n=3, first_hz=300):
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        make_clip(folder / f"c{i}.mp4", duration_s=6.0, tone_hz=first_hz + 100 * i)
    return folder


def _index(db, *paths, extra=()):
    return ["index", *paths, "--db", db, "--extractors", EXTRACTORS, "--no-ray", "-q", *extra]


def _windows(db):
    """(window_id, has visual-stats columns, has yamnet columns) of every row, sorted."""
    t = lancedb.connect(str(db)).open_table("windows").to_arrow().to_pylist()
    return sorted((r["window_id"], r.get("visual_model") is not None, r.get("audio_model") is not None) for r in t)


def _ids(db):
    return [w for w, _, _ in _windows(db)]


def test_two_runs_of_one_folder_at_once_equal_one_clean_run(tmp_path):
    media = _clips(tmp_path / "media")
    clean = vqa(*_index(tmp_path / "clean", media))
    assert clean.returncode == 0, clean.stderr
    db = tmp_path / "db"
    runs = [vqa_popen(*_index(db, media)) for _ in range(2)]
    outs = [p.communicate(timeout=600) for p in runs]
    for p, (_, err) in zip(runs, outs):
        assert p.returncode == 0, err
        assert "Traceback" not in err and "conflict" not in err.lower()
    totals = [next(ln for ln in out.splitlines() if ln.startswith("3 files: ")) for out, _ in outs]
    assert sorted(t.split(": ")[1].split(",")[0] for t in totals) == ["0 indexed", "3 indexed"]
    rows = _windows(db)
    assert rows == _windows(tmp_path / "clean")
    assert len(rows) == 9 and len({w for w, _, _ in rows}) == 9 and all(v and a for _, v, a in rows)
    again = vqa(*_index(db, media))
    assert again.returncode == 0, again.stderr
    assert "3 unchanged" in again.stdout
    assert _windows(db) == rows


def test_two_folders_at_once_both_get_every_model_column(tmp_path):
    a, b = _clips(tmp_path / "a", 2, 300), _clips(tmp_path / "b", 2, 700)
    db = tmp_path / "db"
    runs = [vqa_popen(*_index(db, folder)) for folder in (a, b)]
    for p in runs:
        _, err = p.communicate(timeout=600)
        assert p.returncode == 0, err
    rows = _windows(db)
    assert len(rows) == 12 and len({w for w, _, _ in rows}) == 12 and all(v and a for _, v, a in rows)


def test_no_wait_exits_1_naming_the_holder(tmp_path):
    media = _clips(tmp_path / "media", 1)
    db = tmp_path / "db"
    with held(db) as holder:
        out = vqa(*_index(db, media, extra=["--no-wait"]))
        assert out.returncode == 1
        lines = out.stderr.strip().splitlines()
        assert len(lines) == 1, out.stderr
        assert lines[0].startswith(f"vqa index: database {db} is busy: {COMMAND} by pid {holder.pid} on host ")
        assert "--no-wait" in lines[0]
        as_json = vqa(*_index(db, media, extra=["--no-wait", "--json"]))
        assert as_json.returncode == 1
        data = json.loads(as_json.stdout)
        assert data["busy"] is True and "is busy" in data["error"] and data["holder"]["pid"] == holder.pid
        timed = vqa(*_index(db, media, extra=["--wait-timeout", "0.5"]))
        assert timed.returncode == 1 and "is busy" in timed.stderr and "waited" in timed.stderr
    assert not (db / "windows.lance").exists()  # nothing was written while it was busy
    out = vqa(*_index(db, media, extra=["--no-wait"]))
    assert out.returncode == 0, out.stderr
    assert len(_ids(db)) == 3


def test_a_waiting_run_says_so_once_and_finishes_after_the_holder(tmp_path):
    media = _clips(tmp_path / "media", 1)
    db = tmp_path / "db"
    holder, line = start_holder(db)
    assert line == "held"
    run = vqa_popen(*_index(db, media))
    assert run.stderr is not None
    before = []
    while not (line := run.stderr.readline()).startswith("vqa index: database"):
        assert line, f"the run ended without waiting: {''.join(before)}"
        before.append(line)
    assert "is busy" in line and f"pid {holder.pid}" in line and "waiting" in line, line
    release(holder)
    out, err = run.communicate(timeout=600)
    assert run.returncode == 0, err
    assert "is busy" not in err  # one progress line, not one per poll
    assert "1 indexed" in out and len(_ids(db)) == 3


def test_a_killed_run_leaves_no_lock_behind(tmp_path):
    media = _clips(tmp_path / "media", 2)
    db = tmp_path / "db"
    run = vqa_popen(*_index(db, media))
    # Wait until it holds the lock (the file names it), then kill it mid-run.
    while (holder := WriterLock(db).holder()) is None or holder.pid != run.pid:
        assert run.poll() is None, run.communicate()
        time.sleep(0.02)
    run.send_signal(signal.SIGKILL)
    run.wait(timeout=60)
    out = vqa(*_index(db, media, extra=["--no-wait"]))
    assert out.returncode == 0, out.stderr
    assert f"pid {run.pid}" in out.stderr and "ended without finishing" in out.stderr
    ids = _ids(db)
    assert len(ids) == len(set(ids)) == 6


def test_duplicate_window_ids_from_an_old_concurrent_run_are_repaired_by_one_run(tmp_path):
    media = _clips(tmp_path / "media", 2)
    db = tmp_path / "db"
    assert vqa(*_index(db, media)).returncode == 0
    clean = _windows(db)
    conn = lancedb.connect(str(db))
    windows, files = conn.open_table("windows"), conn.open_table("files")
    # What two racing runs left: windows twice (the copies without model columns), a file twice.
    dup = windows.to_arrow()
    col = dup.schema.get_field_index("visual_model")
    windows.add(dup.set_column(col, dup.schema.field(col), pa.nulls(dup.num_rows, pa.string())))
    files.add(files.to_arrow().slice(0, 1))
    # ... and extractors that did not finish, to run again over the doubled rows.
    conn.open_table("extractions").delete(f"video_id = '{clean[0][0].split('-')[0]}'")
    assert len(_ids(db)) == 12 and len(set(_ids(db))) == 6
    (db / "vqa-index-manifest.json").unlink()  # the failed runs saved no manifest
    (db / KEYS_CHECKED).unlink()  # and an older version wrote the database
    out = vqa(*_index(db, media))
    assert out.returncode == 0, out.stderr
    assert "held 6 duplicate rows" in out.stderr and "'files' table of" in out.stderr
    assert _windows(db) == clean  # one row per window, the complete one
    make_clip(media / "c0.mp4", duration_s=8.0, tone_hz=333)  # a changed file: its windows are merged again
    out = vqa(*_index(db, media))
    assert out.returncode == 0, out.stderr
    ids = _ids(db)
    assert len(ids) == len(set(ids)) == 7 and all(v and a for _, v, a in _windows(db))
    again = vqa(*_index(db, media))
    assert again.returncode == 0 and "2 unchanged" in again.stdout, again.stderr


def test_duplicates_written_after_the_one_time_check_are_found_and_repaired(tmp_path):
    media = _clips(tmp_path / "media", 2)
    db = tmp_path / "db"
    assert vqa(*_index(db, media)).returncode == 0
    clean = _windows(db)
    assert (db / KEYS_CHECKED).exists()
    # Rows doubled behind the lock's back after the check (an older version writing alongside):
    # LanceDB merges into both copies, so no merge ever fails to reveal them.
    conn = lancedb.connect(str(db))
    windows, videos = conn.open_table("windows"), conn.open_table("videos")
    windows.add(windows.to_arrow().slice(0, 1))
    videos.add(videos.to_arrow().slice(0, 1))
    doctor = vqa("doctor", "--db", str(db), "--json")
    problems = json.loads(doctor.stdout)["db"]["problems"]
    assert doctor.returncode == 1 and any("'windows' has 1 duplicate row" in p for p in problems), problems
    assert any("'videos' has 1 duplicate row" in p for p in problems), problems
    (db / "vqa-index-manifest.json").unlink()  # the other writer left no manifest of ours
    out = vqa(*_index(db, media))
    assert out.returncode == 0, out.stderr
    assert "table 'windows' held 1 duplicate row: one row per key kept" in out.stdout + out.stderr
    assert _windows(db) == clean and len(_ids(db)) == len(set(_ids(db)))
    assert len(conn.open_table("videos").to_arrow()) == 2
    assert vqa("doctor", "--db", str(db)).returncode == 0
