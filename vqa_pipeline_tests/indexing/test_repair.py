"""A damaged index is noticed and repaired by one `vqa index` run (real CLI, real LanceDB folders).

Each test damages a copy of one cleanly indexed database the way a user or a disk would (the
``windows`` table gone, one of its data files gone, the full-text index gone, a table that no
longer opens), then checks that one ``vqa index`` brings ``vqa search`` back to the clean result
and says what it repaired.
"""

import json
import shutil
from pathlib import Path

import pytest

from vqa_pipeline_tests.media_factory import make_clip
from vqa_pipeline_tests.test_cli import vqa

# Sound tags and colours are enough for BM25 hits and take a second on a CPU.
EXTRACTORS = ("--extractors", "yamnet,visual-stats", "--no-ray", "-q")
QUESTION = "sine wave tone"


def index(media: Path, db: Path, *extra: str) -> dict:
    out = vqa("index", media, "--db", db, *EXTRACTORS, "--json", *extra)
    assert out.returncode == 0, out.stderr
    assert "Traceback" not in out.stderr
    return json.loads(out.stdout)


def search(db: Path):
    out = vqa("search", QUESTION, "--db", db, "--k", "6", "--json")
    return out, (json.loads(out.stdout)["hits"] if out.returncode == 0 else None)


def comparable(hits: list[dict]) -> list[tuple]:
    return [(h["video_id"], h["start"], h["end"], round(h["score"], 6), tuple(h["evidence"])) for h in hits]


@pytest.fixture(scope="module")
def clean(tmp_path_factory):
    """Three clips indexed once: ``(media folder, database, search hits)``."""
    root = tmp_path_factory.mktemp("repair")
    media = root / "media"
    media.mkdir()
    for i in range(3):
        make_clip(media / f"c{i}.mp4", duration_s=4.0, tone_hz=300 + 200 * i,
                  scenes=[(0.0, (200 * (i % 2), 0, 200))])
    db = root / "clean-db"
    index(media, db)
    out, hits = search(db)
    assert out.returncode == 0 and len(hits) == 6, out.stderr
    return media, db, hits


@pytest.fixture
def copy(clean, tmp_path):
    """A copy of the clean database (file times kept, so the no-change fast path applies to it)."""
    media, db, hits = clean
    target = tmp_path / "db"
    shutil.copytree(db, target)
    return media, target, hits


def referenced_data_file(db: Path) -> Path:
    """The data file the current ``windows`` version reads (the compaction output, the newest one)."""
    files = sorted((db / "windows.lance" / "data").glob("*.lance"), key=lambda p: p.stat().st_mtime_ns)
    return files[-1]


def assert_repaired(media: Path, db: Path, clean_hits: list[dict], want_repair: str) -> dict:
    summary = index(media, db)
    assert any(want_repair in line for line in summary["repairs"]), summary["repairs"]
    out, hits = search(db)
    assert out.returncode == 0, out.stderr
    assert comparable(hits) == comparable(clean_hits)
    again = index(media, db)  # and the repaired index is trusted again
    assert again["repairs"] == [] and again["counts"]["unchanged"] == 3
    return summary


def test_an_undamaged_copy_is_unchanged(copy):
    media, db, _ = copy
    summary = index(media, db)
    assert summary["counts"]["unchanged"] == 3 and summary["repairs"] == []


def test_lost_windows_table_is_rebuilt_by_one_run(copy):
    media, db, hits = copy
    shutil.rmtree(db / "windows.lance")
    out, _ = search(db)
    assert out.returncode == 1 and "run `vqa index" in out.stderr
    summary = assert_repaired(media, db, hits, "lost window rows: indexed again")
    assert summary["counts"]["indexed"] == 3


def test_lost_data_file_is_rebuilt_by_one_run(copy):
    media, db, hits = copy
    lost = referenced_data_file(db)
    lost.unlink()
    out, _ = search(db)
    # The read side names the table and the file, in one line, without Lance's build paths.
    assert out.returncode == 1, out.stdout
    assert "'windows' table" in out.stderr and lost.name in out.stderr and ".rs:" not in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1
    summary = assert_repaired(media, db, hits, "moved aside to windows.lance.damaged-")
    assert summary["counts"]["indexed"] == 3
    kept = list(db.glob("windows.lance.damaged-*"))
    assert len(kept) == 1 and (kept[0] / "_versions").is_dir()  # the user's data is never deleted


def test_lost_full_text_index_is_rebuilt(copy):
    media, db, hits = copy
    indices = db / "windows.lance" / "_indices"
    for folder in indices.iterdir():
        shutil.rmtree(folder)
    summary = assert_repaired(media, db, hits, "had lost its files: rebuilt")
    assert summary["counts"]["unchanged"] == 3  # nothing else was redone
    assert any(indices.iterdir())


def test_a_table_that_cannot_be_opened_is_moved_aside(copy):
    media, db, hits = copy
    versions = db / "windows.lance" / "_versions"
    for manifest in versions.glob("*.manifest"):
        manifest.write_bytes(b"")  # a disk that lost the table's manifests
    assert_repaired(media, db, hits, "cannot be opened")
    assert len(list(db.glob("windows.lance.damaged-*"))) == 1


def test_lost_files_table_is_recreated_without_redoing_the_videos(copy):
    media, db, hits = copy
    shutil.rmtree(db / "files.lance")
    summary = assert_repaired(media, db, hits, "table 'files' was missing: recreated")
    assert summary["counts"]["unchanged"] == 3 and summary["counts"]["duplicate"] == 0


def test_repair_flag_finds_a_lost_file_with_no_record_of_it(copy):
    media, db, hits = copy
    (db / "vqa-store-files.json").unlink()  # as after a Dagster run: no listing of the files
    referenced_data_file(db).unlink()
    summary = index(media, db, "--repair")
    assert any("cannot be read" in line for line in summary["repairs"]), summary["repairs"]
    out, got = search(db)
    assert out.returncode == 0 and comparable(got) == comparable(hits)


def test_doctor_reports_table_health(copy):
    media, db, _ = copy
    out = vqa("doctor", "--db", db)
    assert out.returncode == 0, out.stderr
    assert "table windows      ok" in out.stdout and "no problem found" in out.stdout
    referenced_data_file(db).unlink()
    out = vqa("doctor", "--db", db, "--json")
    assert out.returncode == 1 and "vqa doctor:" in out.stderr
    report = json.loads(out.stdout)
    assert report["extractors"]  # the extractor list is still there
    tables = {t["name"]: t for t in report["db"]["tables"]}
    assert report["db"]["ok"] is False
    assert tables["windows"]["exists"] and not tables["windows"]["readable"]
    assert tables["videos"]["readable"] and tables["videos"]["rows"] == 3
    assert len(report["db"]["stale_videos"]) == 3
    out = vqa("doctor", "--db", db)
    assert "table windows      DAMAGED" in out.stdout and "problem:" in out.stdout


def _garble(path: Path) -> None:
    """Random bytes in place of a file's content, same size (a bad disk, a bad copy)."""
    import os

    path.write_bytes(os.urandom(path.stat().st_size))


def test_garbled_data_file_is_reported_and_rebuilt_by_one_run(copy):
    media, db, hits = copy
    _garble(referenced_data_file(db))
    out, _ = search(db)
    # not "no matching windows": a damaged table, in one line, with what to run
    assert out.returncode == 1, out.stdout
    assert "'windows' table" in out.stderr and "vqa index --repair" in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1 and ".rs:" not in out.stderr
    doctor = vqa("doctor", "--db", db)
    assert doctor.returncode == 1 and "Traceback" not in doctor.stderr
    assert_repaired(media, db, hits, "moved aside to windows.lance.damaged-")


def test_garbled_full_text_index_is_noticed_and_rebuilt(copy):
    media, db, hits = copy
    for f in (db / "windows.lance" / "_indices").rglob("*.lance"):
        _garble(f)
    doctor = vqa("doctor", "--db", db, "--json")
    assert doctor.returncode == 1 and any("full-text index" in p for p in json.loads(doctor.stdout)["db"]["problems"])
    assert_repaired(media, db, hits, "rebuilt")


def test_window_rows_of_a_video_with_no_record_are_removed(copy):
    # What a long file stopped half-way leaves once it is deleted: rows of its first segments, and
    # no `videos` record (that is written after the last segment).
    import lancedb
    import pyarrow as pa

    media, db, hits = copy
    windows = lancedb.connect(str(db)).open_table("windows")
    rows = windows.to_arrow().slice(0, 2)
    ghost = "0123456789abcdef"
    rows = rows.set_column(rows.schema.get_field_index("video_id"), "video_id", pa.array([ghost] * 2))
    rows = rows.set_column(rows.schema.get_field_index("window_id"), "window_id",
                           pa.array([f"{ghost}-00000", f"{ghost}-00001"]))
    windows.add(rows)
    doctor = vqa("doctor", "--db", db, "--json")
    assert doctor.returncode == 1
    assert "2 window rows belong to no recorded video" in json.loads(doctor.stdout)["db"]["problems"]
    assert_repaired(media, db, hits, "with no record (a run stopped half-way): removed")
    left = lancedb.connect(str(db)).open_table("windows").count_rows(f"video_id = '{ghost}'")
    assert left == 0
