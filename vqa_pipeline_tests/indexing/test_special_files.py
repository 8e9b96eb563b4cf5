"""Files that never end (issue 15, point 4): a FIFO, a symlink to /dev/zero or to a FIFO are refused
by their kind before any read, named directly or found in a folder, and the other files are indexed.

Each run is a real ``vqa index`` subprocess with a timeout, so a hang fails the test instead of
hanging the suite.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import vqa_pipeline
from vqa_pipeline_tests.media_factory import make_clip

ROOT = Path(vqa_pipeline.__file__).resolve().parents[1]
HANG_S = 120  # far above a normal run; only a blocked read gets near it

pytestmark = pytest.mark.skipif(not Path("/dev/zero").exists() or not hasattr(os, "mkfifo"),
                                reason="needs /dev/zero and FIFOs (POSIX)")


def vqa_index(*args) -> subprocess.CompletedProcess:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(ROOT)}
    try:
        return subprocess.run([sys.executable, "-m", "vqa_pipeline.cli", "index", *map(str, args)],
                              capture_output=True, text=True, env=env, timeout=HANG_S)
    except subprocess.TimeoutExpired:
        pytest.fail(f"vqa index {' '.join(map(str, args))} hung for {HANG_S} s")


def _specials(folder: Path, elsewhere: Path) -> dict[str, str]:
    """Make a FIFO, a symlink to /dev/zero, a symlink to a FIFO and a broken symlink in ``folder``;
    returns name -> the reason expected."""
    elsewhere.mkdir(exist_ok=True)
    os.mkfifo(folder / "pipe.mp4")
    (folder / "zero.mp4").symlink_to("/dev/zero")
    os.mkfifo(elsewhere / "other-pipe")
    (folder / "to-pipe.mp4").symlink_to(elsewhere / "other-pipe")
    (folder / "gone.mp4").symlink_to(elsewhere / "missing.mp4")
    return {
        "pipe.mp4": "not a regular file: FIFO",
        "zero.mp4": "not a regular file: character device",
        "to-pipe.mp4": "not a regular file: FIFO",
        "gone.mp4": "broken symlink",
    }


def test_specials_inside_a_folder_are_refused_with_their_kind(tmp_path):
    folder = tmp_path / "media"
    folder.mkdir()
    make_clip(folder / "good.mp4", duration_s=2.0)
    expected = _specials(folder, tmp_path / "elsewhere")
    out = vqa_index(folder, "--db", tmp_path / "db", "--windows-only", "--json")
    assert out.returncode == 0, out.stderr
    files = {Path(f["path"]).name: f for f in json.loads(out.stdout)["files"]}
    assert files["good.mp4"]["status"] == "indexed" and files["good.mp4"]["windows"] == 1
    assert {n: f["error"] for n, f in files.items() if f["status"] == "failed"} == expected
    # Again: the failures are settled without reading anything either.
    again = vqa_index(folder, "--db", tmp_path / "db", "--windows-only", "--json")
    assert again.returncode == 0, again.stderr
    files = {Path(f["path"]).name: f for f in json.loads(again.stdout)["files"]}
    assert files["good.mp4"]["status"] == "unchanged"
    assert {n: f["error"] for n, f in files.items() if f["status"] == "failed"} == expected


def test_specials_named_directly_are_refused_with_their_kind(tmp_path):
    folder = tmp_path / "media"
    folder.mkdir()
    good = make_clip(folder / "good.mp4", duration_s=2.0)
    expected = _specials(folder, tmp_path / "elsewhere")
    out = vqa_index(good, *(folder / n for n in expected), "--db", tmp_path / "db", "--windows-only")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    for name, reason in expected.items():
        assert f"failed    {folder / name}: {reason}" in lines
    assert any(line.startswith(f"indexed   {good}") for line in lines)
    assert "Traceback" not in out.stderr


def test_a_run_of_only_a_device_ends_with_the_one_line_reason(tmp_path):
    (tmp_path / "zero.mp4").symlink_to("/dev/zero")
    out = vqa_index(tmp_path / "zero.mp4", "--db", tmp_path / "db", "--windows-only")
    assert out.returncode == 1
    assert f"failed    {tmp_path / 'zero.mp4'}: not a regular file: character device" in out.stdout.splitlines()
    assert out.stderr.strip().splitlines()[-1] == "vqa index: no file could be indexed"
    assert "Traceback" not in out.stderr
