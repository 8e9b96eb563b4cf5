"""`vqa open` on the served index (real windows, real files): what it says when the player cannot
seek, `--print` for a player not installed here, and a window id past the video's windows."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from vqa_pipeline_tests.serve.conftest import REPO, vqa_cmd


def vqa_open(*args, path: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PATH": str(path), "HF_HUB_OFFLINE": "1"}
    return subprocess.run(vqa_cmd("open", *args), cwd=REPO, env=env, capture_output=True, text=True, timeout=120)


def only_on_path(tmp_path: Path, *names: str) -> Path:
    bindir = tmp_path / "bin"
    bindir.mkdir(exist_ok=True)
    for name in names:
        (bindir / name).write_text("#!/bin/sh\nexit 0\n")
        (bindir / name).chmod(0o755)
    return bindir


def test_xdg_open_says_the_time_is_dropped(served_index, tmp_path):
    bindir = only_on_path(tmp_path, "xdg-open")
    source = str(served_index.media / "kitchen.mp4")
    ref = served_index.ids["kitchen.mp4"] + "@12.5"
    out = vqa_open(ref, "--db", served_index.db, "--print", path=bindir)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["xdg-open", source]
    assert out.stderr.strip() == "note: xdg-open cannot seek: start at 12.5 s by hand"
    out = vqa_open(ref, "--db", served_index.db, "--print", "--json", path=bindir)
    data = json.loads(out.stdout)
    assert data["seeks"] is False and data["command"] == ["xdg-open", source] and data["launched"] is False


def test_print_gives_the_command_of_a_player_not_installed_here(served_index, tmp_path):
    bindir = only_on_path(tmp_path)  # no player at all
    ref = served_index.ids["kitchen.mp4"] + "@7"
    source = str(served_index.media / "kitchen.mp4")
    out = vqa_open(ref, "--db", served_index.db, "--print", "--player", "mpv", path=bindir)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["mpv", "--start=7", source] and out.stderr == ""
    out = vqa_open(ref, "--db", served_index.db, "--print", "--player", "vlc", "--json", path=bindir)
    data = json.loads(out.stdout)
    assert data["command"] == ["vlc", "--start-time=7", source] and data["seeks"] is True and data["player"] is None
    out = vqa_open(ref, "--db", served_index.db, "--player", "mpv", path=bindir)  # to run it, it must be there
    assert out.returncode == 1 and out.stderr.strip() == "vqa open: the player 'mpv' is not installed (not on PATH)"


def test_a_window_index_past_the_end_names_the_video_and_its_windows(served_index, tmp_path):
    vid = served_index.ids["kitchen.mp4"]
    out = vqa_open(f"{vid}-00099", "--db", served_index.db, "--print", path=only_on_path(tmp_path, "mpv"))
    assert out.returncode == 1
    assert out.stderr.strip() == (f"vqa open: no window 99 in {served_index.media / 'kitchen.mp4'} "
                                  "(it has 10 windows)")
    assert "did you mean" not in out.stderr
