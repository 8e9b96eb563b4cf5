"""The `vqa` entry point as users run it: a real subprocess of .venv/bin/vqa."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from vqa_pipeline_tests.media_factory import make_clip
from vqa_pipeline_tests.needs import require_tool

VQA = str(Path(sys.executable).parent / "vqa")


def vqa(*args, env=None, **kw):
    e = {**os.environ, "HF_HUB_OFFLINE": "1", **(env or {})}
    return subprocess.run([VQA, *map(str, args)], capture_output=True, text=True, env=e, timeout=600, **kw)


def test_help_lists_every_command():
    out = vqa("--help")
    assert out.returncode == 0
    for cmd in ("index", "evidence", "doctor", "search", "ask"):
        assert cmd in out.stdout
    assert "--windows-only" in vqa("index", "--help").stdout


def test_index_json_summary_and_exit_codes(tmp_path):
    make_clip(tmp_path / "a clip.mp4", duration_s=4.0)
    (tmp_path / "bad.mp4").write_text("nope")
    out = vqa("index", tmp_path, "--db", tmp_path / "db", "--windows-only", "--json")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    files = {Path(f["path"]).name: f for f in data["files"]}
    assert files["a clip.mp4"]["status"] == "indexed" and files["a clip.mp4"]["windows"] == 2
    assert files["bad.mp4"]["status"] == "failed" and "not a readable media file" in files["bad.mp4"]["error"]
    assert data["counts"] == {"indexed": 1, "unchanged": 0, "duplicate": 0, "failed": 1, "removed": 0}
    assert "Traceback" not in out.stderr


def test_index_of_nothing_fails_with_one_line(tmp_path):
    out = vqa("index", tmp_path / "missing", "--db", tmp_path / "db", "--windows-only")
    assert out.returncode == 1
    assert out.stderr.strip().splitlines()[-1].startswith("vqa index:")
    assert "Traceback" not in out.stderr


def test_bad_window_length_is_a_clear_error(tmp_path):
    out = vqa("index", tmp_path, "--window", "20", "--db", tmp_path / "db")
    assert out.returncode == 1 and "window length must be within 1-8 s" in out.stderr


def _unprivileged_prefix() -> list[str]:
    """How to run a command that file permissions apply to (root ignores them); skips (fails under CI,
    which runs as root) without setpriv."""
    if os.geteuid() != 0:
        return []
    setpriv = require_tool("setpriv", "util-linux: as root it drops the capabilities that bypass file permissions")
    return [setpriv, "--bounding-set", "-dac_override,-dac_read_search"]


def test_unreadable_file_is_reported_and_others_indexed(tmp_path):
    prefix = _unprivileged_prefix()
    make_clip(tmp_path / "secret.mp4", duration_s=2.0).chmod(0)
    make_clip(tmp_path / "open.mp4", duration_s=2.0, tone_hz=700)
    cmd = [*prefix, VQA, "index", str(tmp_path), "--db", str(tmp_path / "db"), "--windows-only", "--json"]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    files = {Path(f["path"]).name: f for f in json.loads(out.stdout)["files"]}
    assert files["secret.mp4"]["status"] == "failed" and files["secret.mp4"]["error"] == "permission denied"
    assert files["open.mp4"]["status"] == "indexed"


# -- what a hostile but realistic user types ------------------------------------------------------

@pytest.fixture(scope="module")
def small_db(tmp_path_factory):
    """Three clips indexed windows-only: two named talk.mp4 in different folders, one intro.mp4."""
    root = tmp_path_factory.mktemp("cli")
    (root / "a").mkdir()
    (root / "b").mkdir()
    make_clip(root / "a" / "talk.mp4", duration_s=2.0, tone_hz=300)
    make_clip(root / "b" / "talk.mp4", duration_s=2.0, tone_hz=500)
    make_clip(root / "intro.mp4", duration_s=2.0, tone_hz=700)
    out = vqa("index", root, "--db", root / "db", "--windows-only", "-q")
    assert out.returncode == 0, out.stderr
    return root / "db"


def test_db_naming_a_file_is_refused_clearly(tmp_path):
    f = tmp_path / "notes.txt"
    f.write_text("not a database")
    for args in (("index", tmp_path, "--windows-only"), ("search", "oven"), ("evidence", "x")):
        out = vqa(*args, "--db", f)
        assert out.returncode == 1
        assert out.stderr.strip() == f"vqa {args[0]}: --db must be a folder: {f} is a file"
    assert f.read_text() == "not a database"


def test_unknown_or_ambiguous_video_filter_fails_with_near_matches(small_db):
    out = vqa("search", "anything", "--db", small_db, "--video", "intra.mp4")
    assert out.returncode == 1 and "no matching windows" not in out.stdout
    assert "no indexed video matches 'intra.mp4'; did you mean" in out.stderr and "intro.mp4" in out.stderr
    out = vqa("ask", "anything", "--db", small_db, "--video", "talk.mp4", "--extractive")
    assert out.returncode == 1
    assert "'talk.mp4' matches 2 videos" in out.stderr and "a/talk.mp4" in out.stderr
    out = vqa("evidence", "intra.mp4", "--db", small_db)
    assert out.returncode == 1 and "did you mean" in out.stderr and "intro.mp4" in out.stderr
    out = vqa("search", "anything", "--db", small_db, "--video", "a/talk.mp4", "--json")
    assert out.returncode == 0, out.stderr  # a unique suffix still works
    assert {Path(h["source"]).parent.name for h in json.loads(out.stdout)["hits"]} <= {"a"}


def test_evidence_into_a_closed_pipe_exits_cleanly(small_db):
    # `| true` closes the pipe before vqa writes; `| head -1` as users type it.
    for reader in ("true", "head -1"):
        cmd = f"'{VQA}' evidence intro.mp4 --db '{small_db}' | {reader}"
        out = subprocess.run(["bash", "-o", "pipefail", "-c", cmd], capture_output=True, text=True, timeout=600)
        assert out.returncode == 0, out.stderr
        assert "Traceback" not in out.stderr and "BrokenPipe" not in out.stderr and out.stderr.strip() == ""


def test_a_question_of_control_characters_is_empty(small_db):
    for cmd in ("search", "ask"):
        out = vqa(cmd, "\x01\x02\x1b \t\x7f", "--db", small_db, *(["--extractive"] if cmd == "ask" else []))
        assert out.returncode == 1 and out.stdout == ""
        assert out.stderr.strip() == f"vqa {cmd}: the question is empty"


def test_a_failure_with_json_still_prints_json(tmp_path):
    out = vqa("search", "anything", "--db", tmp_path / "nothing-here", "--json")
    assert out.returncode == 1
    assert "no index database" in json.loads(out.stdout)["error"]
    assert len(out.stderr.strip().splitlines()) == 1


def test_a_mistyped_path_creates_no_database(tmp_path):
    db = tmp_path / "db"
    out = vqa("index", tmp_path / "no-such-folder", "--db", db)
    assert out.returncode == 1
    assert out.stderr.strip() == f"vqa index: no such file or folder: {tmp_path / 'no-such-folder'}"
    assert not db.exists()


def test_doctor_on_a_folder_without_an_index_says_so(small_db, tmp_path):
    """`vqa doctor --db $VQA_HOME` (not $VQA_HOME/lance): no index there, and where one is."""
    shutil.copytree(small_db, tmp_path / "lance")
    reason = f"no index in {tmp_path} (did you mean {tmp_path / 'lance'}?)"
    out = vqa("doctor", "--db", tmp_path)
    assert out.returncode == 1 and out.stdout == ""
    assert out.stderr.strip() == f"vqa doctor: {reason}"
    out = vqa("doctor", "--db", tmp_path, "--json")
    assert out.returncode == 1 and json.loads(out.stdout) == {"error": reason}
    (tmp_path / "empty").mkdir()
    out = vqa("doctor", "--db", tmp_path / "empty")
    assert out.returncode == 1 and out.stderr.strip() == f"vqa doctor: no index in {tmp_path / 'empty'}"
    out = vqa("doctor", "--db", tmp_path / "lance")  # the index itself is still checked
    assert "no index" not in out.stderr and "table windows" in out.stdout


def test_list_columns_line_up_and_evidence_notes_a_deleted_file(tmp_path):
    long_name = "a recording with a rather long file name, 2026-11-30 (final).mp4"
    (tmp_path / "media").mkdir()
    make_clip(tmp_path / "media" / "short.mp4", duration_s=2.0, tone_hz=300)
    make_clip(tmp_path / "media" / long_name, duration_s=2.0, tone_hz=600)
    db = tmp_path / "db"
    assert vqa("index", tmp_path / "media", "--db", db, "--windows-only", "-q").returncode == 0
    rows = vqa("list", "--db", db).stdout.splitlines()
    assert len(rows) == 2 and {r.split(" ", 1)[0] for r in rows} == {"short.mp4", "a"}
    # the columns after the name start at the same place on every row: the path, the status
    assert len({r.index(str(tmp_path / "media")) for r in rows}) == 1
    assert len({r.index(" indexed ") for r in rows}) == 1

    (tmp_path / "media" / "short.mp4").unlink()
    gone = tmp_path / "media" / "short.mp4"
    out = vqa("evidence", "short", "--db", db)
    assert out.returncode == 0 and out.stderr.strip() == f"note: {gone} is no longer on disk"
    assert out.stdout.startswith(f"{gone}  (video ")
    out = vqa("evidence", "short", "--db", db, "--json")
    assert out.returncode == 0 and out.stderr.strip() == f"note: {gone} is no longer on disk"
    data = json.loads(out.stdout)
    assert data["source"] == str(gone) and data["file_missing"] is True
    out = vqa("evidence", long_name, "--db", db, "--json")
    assert out.returncode == 0 and out.stderr == "" and "file_missing" not in json.loads(out.stdout)
