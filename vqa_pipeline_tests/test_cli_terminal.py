"""Jumping to the moment from a terminal: `vqa open`, `--play`, `vqa evidence --format`, file-name
stems as video references, and thumbnails in `vqa search --json`; a real `vqa` subprocess on an
index built by `vqa index`."""

from __future__ import annotations

import base64
import csv
import io
import json
import os
import re
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from vqa_pipeline_tests.deployment_battery import SAYINGS, SCENES, make_fire_drill
from vqa_pipeline_tests.media_factory import make_clip
from vqa_pipeline_tests.test_cli import vqa


def words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+", text.lower())


@pytest.fixture(scope="module")
def indexed(tmp_path_factory, espeak_ng):
    from vqa_pipeline.extractors.registry import get_extractor_class
    from vqa_pipeline_tests.needs import missing

    ok, why = get_extractor_class("whisper-base")().availability()
    if not ok:
        missing(f"whisper-base weights: {why}")
    root = tmp_path_factory.mktemp("term")
    (root / "media" / "a").mkdir(parents=True)
    (root / "media" / "b").mkdir(parents=True)
    make_fire_drill(root / "media" / "fire_drill.mp4")
    make_clip(root / "media" / "a" / "talk.mp4", duration_s=2.0, tone_hz=300)
    make_clip(root / "media" / "b" / "talk.mp4", duration_s=2.0, tone_hz=500)
    db = root / "db"
    out = vqa("index", root / "media", "--db", db, "--no-ray", "-q",
              "--extractors", "whisper-base,visual-stats,thumbnails,evidence-units")
    assert out.returncode == 0, out.stderr
    return root, db


# -- file-name stems ------------------------------------------------------------------------------

def test_a_unique_stem_names_its_video_everywhere(indexed):
    root, db = indexed
    out = vqa("evidence", "fire_drill", "--db", db, "--json")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["source"] == str(root / "media" / "fire_drill.mp4")
    out = vqa("search", "blue", "--video", "fire_drill", "--db", db, "--json")
    assert out.returncode == 0, out.stderr
    hits = json.loads(out.stdout)["hits"]
    assert hits and {h["source"] for h in hits} == {str(root / "media" / "fire_drill.mp4")}


def test_an_ambiguous_stem_is_one_line_listing_the_candidates(indexed):
    root, db = indexed
    for args in (("evidence", "talk"), ("open", "talk@1"), ("search", "blue", "--video", "talk")):
        out = vqa(*args, "--db", db)
        assert out.returncode == 1
        err = out.stderr.strip()
        assert len(err.splitlines()) == 1 and "Traceback" not in err
        assert "'talk' matches 2 videos" in err
        assert str(root / "media" / "a" / "talk.mp4") in err and str(root / "media" / "b" / "talk.mp4") in err


# -- vqa open / --play ------------------------------------------------------------------------------

@pytest.fixture
def fake_mpv(tmp_path):
    """An external ``mpv`` first on PATH that records its argv (the command line we build)."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    record = tmp_path / "argv.txt"
    script = bindir / "mpv"
    script.write_text(f'#!/bin/sh\nprintf "%s\\n" "$@" > "{record}.tmp" && mv "{record}.tmp" "{record}"\n')
    script.chmod(0o755)
    return {"PATH": f"{bindir}{os.pathsep}{os.environ['PATH']}"}, record


def wait_for(path: Path, limit_s: float = 30.0) -> list[str]:
    deadline = time.monotonic() + limit_s  # the player runs detached: wait for what it wrote
    while not path.exists():
        assert time.monotonic() < deadline, "the player was not started"
        time.sleep(0.05)
    return path.read_text().splitlines()


def test_open_stem_at_seconds_runs_the_player_at_that_second(indexed, fake_mpv):
    root, db = indexed
    env, record = fake_mpv
    out = vqa("open", "fire_drill@12.5", "--db", db, env=env)
    assert out.returncode == 0, out.stderr
    source = str(root / "media" / "fire_drill.mp4")
    assert out.stdout.strip() == f"mpv --start=12.5 {source}"
    assert wait_for(record) == ["--start=12.5", source]


def test_open_a_path_with_minutes_prints_only_with_print(indexed, fake_mpv):
    root, db = indexed
    env, record = fake_mpv
    source = root / "media" / "fire_drill.mp4"
    out = vqa("open", f"{source}@0:09", "--db", db, "--print", "--json", env=env)
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["command"] == ["mpv", "--start=9", str(source)] and data["launched"] is False
    assert data["start"] == 9.0 and data["player"] == "mpv"
    time.sleep(0.5)
    assert not record.exists()


def test_open_a_window_id_starts_at_the_window(indexed, fake_mpv):
    from vqa_pipeline.store import Store

    root, db = indexed
    env, record = fake_mpv
    store = Store(db, create=False)
    vid = next(v for v, r in store.video_records().items() if r["source"].endswith("fire_drill.mp4"))
    window = store.windows_for(vid, ["window_id", "start_s"])[3]
    out = vqa("open", window["window_id"], "--db", db, "--json", env=env)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["window_id"] == window["window_id"]
    assert wait_for(record)[0] == f"--start={window['start_s']:g}" == "--start=6"


def test_open_other_players_and_bad_targets(indexed, tmp_path):
    root, db = indexed
    bindir = tmp_path / "only-ffplay"
    bindir.mkdir()
    (bindir / "ffplay").write_text("#!/bin/sh\nexit 0\n")
    (bindir / "ffplay").chmod(0o755)
    out = vqa("open", "fire_drill@1:02:03", "--db", db, "--print", env={"PATH": str(bindir)})
    # the file is 16 s long
    assert out.returncode == 1 and "3723s is past the end" in out.stderr
    out = vqa("open", "fire_drill@7", "--db", db, "--print", env={"PATH": str(bindir)})
    assert out.stdout.split() == ["ffplay", "-ss", "7", str(root / "media" / "fire_drill.mp4")]
    out = vqa("open", "fire_drill@soon", "--db", db)
    assert out.returncode == 1 and "not a time: 'soon'" in out.stderr
    out = vqa("open", "nothing_like_it@3", "--db", db)
    assert out.returncode == 1 and "no indexed video matches 'nothing_like_it'" in out.stderr


def test_search_play_opens_the_top_hit_at_its_start(indexed, fake_mpv):
    root, db = indexed
    env, record = fake_mpv
    out = vqa("search", "blue", "--video", "fire_drill", "--db", db, "--json", "--play", env=env)
    assert out.returncode == 0, out.stderr
    top = json.loads(out.stdout)["hits"][0]  # stdout stays one JSON object; the command goes to stderr
    assert f"mpv --start={top['start']:g} {top['source']}" in out.stderr
    assert wait_for(record) == [f"--start={top['start']:g}", top["source"]]
    assert 6.0 <= top["start"] < 12.0  # the blue scene


def test_ask_play_opens_the_first_citation(indexed, fake_mpv):
    root, db = indexed
    env, record = fake_mpv
    out = vqa("ask", "where do we meet?", "--video", "fire_drill", "--db", db, "--extractive", "--json",
              "--play", env=env)
    assert out.returncode == 0, out.stderr
    first = json.loads(out.stdout)["citations"][0]
    argv = wait_for(record)
    assert argv == [f"--start={first['start']:.3f}".rstrip("0").rstrip("."), first["source"]]
    assert 7.0 <= first["start"] <= 9.0  # "Meet at the car park ..." is said from 8 s


# -- thumbnails in search --json --------------------------------------------------------------------

def test_search_json_hits_carry_their_thumbnail(indexed):
    root, db = indexed
    out = vqa("search", "blue", "--video", "fire_drill", "--db", db, "--json")
    hits = json.loads(out.stdout)["hits"]
    assert hits
    for h in hits:
        head, _, data = h["thumbnail"].partition(",")
        assert head == "data:image/jpeg;base64"
        with Image.open(io.BytesIO(base64.b64decode(data))) as im:
            rgb = np.asarray(im.convert("RGB"), dtype=np.float64)
        assert im.width == 160
        mid = (h["start"] + h["end"]) / 2
        colour = [c for t, c in SCENES if t <= mid][-1]
        assert np.abs(rgb.reshape(-1, 3).mean(axis=0) - colour).max() < 15
    plain = vqa("search", "blue", "--video", "fire_drill", "--db", db)
    assert "base64" not in plain.stdout


# -- vqa evidence --format --------------------------------------------------------------------------

SRT_CUE = re.compile(r"^(\d+)\n(\d\d):(\d\d):(\d\d),(\d{3}) --> (\d\d):(\d\d):(\d\d),(\d{3})\n((?:.+\n?)+)$")


def parse_srt(text: str) -> list[tuple[float, float, str]]:
    """A strict SRT reader: numbered cues from 1, HH:MM:SS,mmm timings, text, one blank line between."""
    assert text.endswith("\n\n") and "\r" not in text
    cues = []
    for i, block in enumerate(text[:-2].split("\n\n"), 1):
        m = SRT_CUE.match(block)
        assert m, f"not an SRT cue: {block!r}"
        g = m.groups()
        assert int(g[0]) == i
        start = int(g[1]) * 3600 + int(g[2]) * 60 + int(g[3]) + int(g[4]) / 1000
        end = int(g[5]) * 3600 + int(g[6]) * 60 + int(g[7]) + int(g[8]) / 1000
        assert 0 <= start < end
        assert all(int(x) < 60 for x in (g[2], g[3], g[6], g[7]))
        cues.append((start, end, " ".join(g[9].split())))
    assert [c[0] for c in cues] == sorted(c[0] for c in cues)
    return cues


def test_srt_has_each_sentence_once_at_the_second_it_is_said(indexed):
    root, db = indexed
    out = vqa("evidence", "fire_drill", "--db", db, "--format", "srt")
    assert out.returncode == 0, out.stderr
    cues = parse_srt(out.stdout)
    for start, sentence in SAYINGS:
        wanted = words(sentence)
        # whisper-base may mishear a word or two of espeak's voice ("red gate" -> "rent gate")
        hits = [c for c in cues if len(set(wanted) & set(words(c[2]))) >= len(set(wanted)) - 2]
        assert len(hits) == 1, (sentence, cues)
        s, e, _ = hits[0]
        assert abs(s - start) < 1.0 and start + 1.5 < e < start + 6.0
    assert not any("dominant" in c[2] for c in cues)  # speech only by default
    both = parse_srt(vqa("evidence", "fire_drill", "--db", db, "--format", "srt", "--kinds", "speech,visual").stdout)
    assert any(c[2].startswith("[picture] ") and "blue" in c[2] for c in both)


def test_vtt_and_csv(indexed):
    root, db = indexed
    vtt = vqa("evidence", "fire_drill", "--db", db, "--format", "vtt").stdout
    assert vtt.startswith("WEBVTT\n\n")
    timings = re.findall(r"^(\d\d:\d\d:\d\d\.\d{3}) --> (\d\d:\d\d:\d\d\.\d{3})$", vtt, re.M)
    assert timings and timings[0][0].startswith("00:00:0")
    assert "north stairs" in " ".join(vtt.lower().split())
    out = vqa("evidence", "fire_drill", "--db", db, "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(out.stdout)))
    assert rows and list(rows[0]) == ["start", "end", "kind", "text"]
    assert {r["kind"] for r in rows} == {"asr", "visual"}
    meet = next(r for r in rows if "car park" in r["text"].lower())
    assert meet["kind"] == "asr" and abs(float(meet["start"]) - 8.0) < 1.0
    only = list(csv.DictReader(io.StringIO(vqa("evidence", "fire_drill", "--db", db, "--format", "csv",
                                               "--kinds", "visual").stdout)))
    assert only and {r["kind"] for r in only} == {"visual"}
    bad = vqa("evidence", "fire_drill", "--db", db, "--kinds", "smell")
    assert bad.returncode == 1 and "unknown evidence kind 'smell'" in bad.stderr


def test_default_and_json_output_are_unchanged_and_carry_no_picture(indexed):
    root, db = indexed
    text = vqa("evidence", "fire_drill", "--db", db).stdout
    assert text.splitlines()[0].startswith(str(root / "media" / "fire_drill.mp4") + "  (video ")
    assert re.search(r"^\[\d+\.\d-\d+\.\d+s\] asr: ", text, re.M)
    data = json.loads(vqa("evidence", "fire_drill", "--db", db, "--json").stdout)
    assert set(data) == {"video_id", "source", "lines"}
    assert {ln["kind"] for ln in data["lines"]} == {"asr", "visual"}  # no "thumb" kind
    assert json.loads(vqa("evidence", "fire_drill", "--db", db, "--format", "json").stdout) == data


def test_open_a_file_deleted_after_indexing_says_so(tmp_path):
    clip = make_clip(tmp_path / "gone.mp4", duration_s=2.0)
    assert vqa("index", clip, "--db", tmp_path / "db", "--windows-only", "-q").returncode == 0
    clip.unlink()
    out = vqa("open", "gone@1", "--db", tmp_path / "db", "--print")
    assert out.returncode == 1 and "Traceback" not in out.stderr
    assert out.stderr.strip() == f"vqa open: {clip} was deleted or moved after indexing (run `vqa index` on its " \
                                 "new place)"
