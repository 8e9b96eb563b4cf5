"""One battery of user-level checks (index, re-index, search, ask) run against every deployment variant.

The local folder, the S3-compatible server, the two-node Ray cluster and the Postgres-backed Dagster
instance each pass these same checks, so "scale out by configuration" is tested as one contract.
The checks drive the real `vqa` command as a subprocess; ``db`` may be a folder or a URI
(``s3://bucket/prefix``), ``env`` carries the deployment's settings (RAY_ADDRESS, storage options).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from vqa_pipeline_tests.media_factory import ffmpeg, make_clip

VQA = str(Path(sys.executable).parent / "vqa")

# (start second, sentence): each said once, on its own, in the fire drill clip
SAYINGS = [
    (1.0, "Please leave the building by the north stairs."),
    (8.0, "Meet at the car park next to the red gate."),
]
SCENES = [(0.0, (210, 30, 30)), (6.0, (30, 30, 210)), (12.0, (30, 190, 30))]  # red, blue, green
EXTRACTORS = "whisper-base,visual-stats,thumbnails,evidence-units"


def vqa(*args, env: dict | None = None, timeout: float = 900, **kw) -> subprocess.CompletedProcess:
    e = {**os.environ, "HF_HUB_OFFLINE": "1", **(env or {})}
    return subprocess.run([VQA, *map(str, args)], capture_output=True, text=True, env=e, timeout=timeout, **kw)


def make_fire_drill(path: Path) -> Path:
    """A 16 s clip: red/blue/green scenes and two spoken sentences (SAYINGS); needs espeak-ng."""
    from vqa_pipeline.corpus import synth

    with tempfile.TemporaryDirectory() as tmp:  # the parts stay out of the media folder
        return _fire_drill(path, Path(tmp), synth)


def _fire_drill(path: Path, work: Path, synth) -> Path:
    audio = np.zeros(int(16.0 * synth.SR), np.float32)
    for start, text in SAYINGS:
        said = synth.speech(text, voice=None, speed_wpm=160, peak=0.8, fade_ms=0).astype(np.float32)
        assert said.size < 5.5 * synth.SR
        audio[int(start * synth.SR):int(start * synth.SR) + said.size] = said
    synth.write_audio(work / "speech.wav", audio)
    make_clip(work / "silent.mp4", duration_s=16.0, scenes=SCENES, audio=False)
    ffmpeg("-i", str(work / "silent.mp4"), "-i", str(work / "speech.wav"), "-map", "0:v", "-map", "1:a",
           "-c:v", "copy", "-c:a", "aac", str(path))
    return path


def make_media(root: Path) -> Path:
    """The battery's media folder: the fire drill clip and a 2 s tone clip."""
    media = root / "media"
    media.mkdir(parents=True, exist_ok=True)
    make_fire_drill(media / "fire_drill.mp4")
    make_clip(media / "tone.mp4", duration_s=2.0, tone_hz=300)
    return media


def index(media: Path, db: str | Path, env: dict | None = None, *extra: str) -> dict:
    out = vqa("index", media, "--db", db, "--json", "--extractors", EXTRACTORS, *extra, env=env)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout)


def check_first_index(summary: dict) -> None:
    assert summary["counts"]["indexed"] == 2, summary["counts"]
    assert summary["counts"]["failed"] == 0, summary["files"]
    drill = next(f for f in summary["files"] if f["path"].endswith("fire_drill.mp4"))
    assert drill["windows"] >= 3 and all(v == "ok" for v in drill["extractors"].values()), drill


def check_reindex_is_a_no_op(summary: dict) -> None:
    assert summary["counts"]["unchanged"] == 2 and summary["counts"]["indexed"] == 0, summary["counts"]


def check_search(db: str | Path, env: dict | None = None) -> None:
    out = vqa("search", "meet at the car park", "--db", db, "--json", env=env)
    assert out.returncode == 0, out.stderr[-3000:]
    hits = json.loads(out.stdout)["hits"]
    assert hits and hits[0]["source"].endswith("fire_drill.mp4"), hits[:2]
    # the sentence is said from 8 s to about 10 s; its window (or the next, which its line overlaps)
    assert 6.0 <= hits[0]["start"] <= 10.0 and "car park" in " ".join(hits[0]["evidence"]).lower(), hits[0]
    # no window is stored twice (a re-index or a retried task must not duplicate rows)
    keys = [(h["source"], h["start"]) for h in hits]
    assert len(keys) == len(set(keys)), keys


def check_ask(db: str | Path, env: dict | None = None) -> None:
    out = vqa("ask", "where do we meet?", "--db", db, "--extractive", "--json", env=env)
    assert out.returncode == 0, out.stderr[-3000:]
    res = json.loads(out.stdout)
    assert not res["abstained"], res
    assert "car park" in res["answer"].lower() or "red gate" in res["answer"].lower(), res["answer"]
    assert 7.0 <= res["citations"][0]["start"] <= 9.0, res["citations"]


def run_battery(root: Path, db: str | Path, env: dict | None = None, *index_args: str) -> dict:
    """Index, re-index, search and ask against ``db``; returns the first index summary."""
    media = make_media(root)
    first = index(media, db, env, *index_args)
    check_first_index(first)
    check_reindex_is_a_no_op(index(media, db, env, *index_args))
    check_search(db, env)
    check_ask(db, env)
    return first


# -- eval and tune on the battery's index -------------------------------------------------------------
# (question, an accepted answer, the span that answers it): each about one of SAYINGS
QUESTIONS = [
    ("Where do we meet?", "car park", (8.0, 10.5), "dev"),
    ("What colour is the gate at the meeting point?", "red", (8.0, 10.5), "dev"),
    ("How do we leave the building?", "north stairs", (1.0, 4.0), "dev"),
    ("Which stairs do we take out?", "north", (1.0, 4.0), "dev"),
    ("Where is the meeting point next to the gate?", "car park", (8.0, 10.5), "heldout"),
    ("Which way out of the building?", "north stairs", (1.0, 4.0), "heldout"),
]


def write_devset(path: Path) -> Path:
    """A dev set over the fire drill clip (JSON Lines, the format of data/sample/devset.jsonl)."""
    lines = [json.dumps({"id": f"drill_{i}", "video": "fire_drill.mp4", "question": q, "answer_any": [a],
                         "relevant": [list(span)], "split": split})
             for i, (q, a, span, split) in enumerate(QUESTIONS)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def check_eval(db: str | Path, devset: Path, env: dict | None = None) -> dict:
    out = vqa("eval", "--devset", devset, "--db", db, "--json", "-q", env=env)
    assert out.returncode == 0, out.stderr[-3000:]
    res = json.loads(out.stdout)
    assert res["n"] == len(QUESTIONS), res
    # two sentences, six questions each clearly about one of them: the right window is near the top
    assert res["recall@10"] >= 0.8 and res["mrr"] >= 0.5, res
    return res


def check_tune(db: str | Path, devset: Path, env: dict | None = None) -> dict:
    """A short tuning run stores its config with the index, and queries then use it."""
    out = vqa("tune", "--devset", devset, "--db", db, "--json", "-q", "--trials", "8", "--no-reranker", env=env)
    assert out.returncode == 0, out.stderr[-3000:]
    res = json.loads(out.stdout)
    assert res["trials"] >= 8 and res["n_dev"] == 4 and res["n_heldout"] == 2, res
    assert res["path"].startswith(str(db).split("?")[0].replace("s3+ddb://", "s3://")), res["path"]
    again = vqa("eval", "--devset", devset, "--db", db, "--json", "-q", env=env)
    assert again.returncode == 0, again.stderr[-3000:]
    assert "fusion: tuned" in again.stderr, again.stderr[-2000:]
    return res
