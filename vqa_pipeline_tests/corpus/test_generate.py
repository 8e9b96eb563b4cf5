"""The sample corpus: one clip regenerated and checked against its truth; the dev set validated."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

SAMPLE = Path(__file__).resolve().parents[2] / "data" / "sample"
CLIP = "cooking_tutorial"
DEVSET_KEYS = {"id", "video", "question", "answer_any", "relevant"}
KINDS = {"speech", "ocr", "sound", "order", "visual", "absent"}


def _truth(stem: str) -> dict:
    return json.loads((SAMPLE / "truth" / f"{stem}.json").read_text())


def _assert_close(a, b, path="truth", tol=0.05):
    """Same structure and strings; numbers within ``tol``."""
    if isinstance(a, dict):
        assert isinstance(b, dict) and set(a) == set(b), f"{path}: keys {sorted(a)} != {sorted(b)}"
        for k in a:
            _assert_close(a[k], b[k], f"{path}.{k}", tol)
    elif isinstance(a, list):
        assert isinstance(b, list) and len(a) == len(b), f"{path}: lengths differ"
        for i, (x, y) in enumerate(zip(a, b)):
            _assert_close(x, y, f"{path}[{i}]", tol)
    elif isinstance(a, (int, float)) and not isinstance(a, bool):
        assert isinstance(b, (int, float)) and abs(a - b) <= tol, f"{path}: {a} != {b}"
    else:
        assert a == b, f"{path}: {a!r} != {b!r}"


def _decode(path: Path) -> tuple[float, list[tuple[float, np.ndarray]], np.ndarray]:
    import av

    frames, chunks = [], []
    with av.open(str(path)) as c:
        duration = c.duration / 1e6
        for fr in c.decode(*c.streams):
            if isinstance(fr, av.VideoFrame):
                frames.append((float(fr.time), fr.to_ndarray(format="rgb24")))
            else:
                chunks.append(fr.to_ndarray().reshape(-1).astype(np.float64))
                assert fr.sample_rate == 16000
    return duration, frames, np.concatenate(chunks) if chunks else np.zeros(0)


def _frame_at(frames, t: float) -> np.ndarray:
    return min(frames, key=lambda f: abs(f[0] - t))[1].astype(np.int32)


def _rms(audio: np.ndarray, start: float, end: float, sr: int = 16000) -> float:
    seg = audio[int(start * sr) : int(end * sr)]
    return float(np.sqrt(np.mean(seg**2)))


@pytest.fixture(scope="module")
def regenerated(espeak_ng, tmp_path_factory) -> tuple[Path, dict]:
    from vqa_pipeline.corpus import generate

    out = tmp_path_factory.mktemp("corpus")
    assert generate.main([str(out), "--only", CLIP]) == 0
    return out, json.loads((out / "truth" / f"{CLIP}.json").read_text())


def test_regenerated_truth_equals_committed(regenerated):
    _, truth = regenerated
    _assert_close(truth, _truth(CLIP))


def test_regenerated_clip_matches_truth(regenerated):
    out, truth = regenerated
    duration, frames, audio = _decode(out / truth["clip"])
    assert abs(duration - truth["duration_s"]) <= 0.1
    assert abs(len(frames) - truth["duration_s"] * truth["fps"]) <= 1
    assert frames[0][1].shape == (truth["height"], truth["width"], 3)
    assert abs(len(audio) / 16000 - truth["duration_s"]) <= 0.1

    # Audio is loud inside every speech / sound span and quiet in the gaps between them.
    events = sorted(truth["speech"] + truth["sound_events"], key=lambda e: e["start"])
    assert len(events) >= 4
    for ev in events:
        rms = _rms(audio, ev["start"] + 0.03, ev["end"] - 0.03)
        assert rms > 0.03, f"quiet inside {ev}: rms {rms:.4f}"
    gaps = [(a["end"], b["start"]) for a, b in zip(events, events[1:]) if b["start"] - a["end"] >= 0.8]
    assert gaps
    for g0, g1 in gaps:
        rms = _rms(audio, g0 + 0.2, g1 - 0.2)
        assert rms < 0.01, f"loud in the gap {g0}-{g1}: rms {rms:.4f}"

    # A beep is a 1 kHz tone.
    beep = next(e for e in truth["sound_events"] if e["kind"] == "beep")
    seg = audio[int((beep["start"] + 0.02) * 16000) : int((beep["end"] - 0.02) * 16000)]
    spectrum = np.abs(np.fft.rfft(seg * np.hanning(len(seg))))
    peak_hz = np.fft.rfftfreq(len(seg), 1 / 16000)[spectrum.argmax()]
    assert abs(peak_hz - beep["freq_hz"]) < 25 and beep["freq_hz"] == 1000

    # Scene backgrounds have the truth colour (left margin, clear of captions and the object).
    for sc in truth["scenes"]:
        patch = _frame_at(frames, (sc["start"] + sc["end"]) / 2)[92:108, 4:16].reshape(-1, 3)
        assert np.abs(patch.mean(axis=0) - sc["rgb"]).max() < 12, (sc, patch.mean(axis=0))
    assert len(truth["scenes"]) >= 2 and truth["scenes"][0]["rgb"] != truth["scenes"][1]["rgb"]

    # On-screen text changes the frame compared with a caption-free moment of the same scene.
    caps = truth["onscreen_text"]
    checked = 0
    for sc in truth["scenes"]:
        ts = np.arange(sc["start"] + 0.05, sc["end"] - 0.05, 0.25)
        free = [t for t in ts if not any(c["start"] <= t < c["end"] for c in caps)]
        in_scene = [c for c in caps if sc["start"] <= c["start"] and c["end"] <= sc["end"]]
        if not free or not in_scene:
            continue
        plain = _frame_at(frames, free[0])
        for c in in_scene:
            with_text = _frame_at(frames, (c["start"] + c["end"]) / 2)
            diff = np.abs(with_text - plain).mean()
            assert diff > 3.0, f"caption {c['text']!r} barely changes the frame ({diff:.2f})"
            checked += 1
    assert checked >= 2

    # The moving object is where the truth says, halfway through its path.
    mo = truth["moving_object"]
    t = (mo["start"] + mo["end"]) / 2
    x = round((mo["from_xy"][0] + mo["to_xy"][0]) / 2)
    y = round((mo["from_xy"][1] + mo["to_xy"][1]) / 2)
    centre = _frame_at(frames, round(t * truth["fps"]) / truth["fps"])[y - 3 : y + 4, x - 3 : x + 4].reshape(-1, 3)
    assert np.abs(centre.mean(axis=0) - mo["rgb"]).max() < 30, centre.mean(axis=0)


def _devset() -> list[dict]:
    lines = (SAMPLE / "devset.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def _truth_spans(truth: dict) -> set[tuple[float, float]]:
    items = truth["speech"] + truth["onscreen_text"] + truth["sound_events"] + truth["scenes"]
    if truth["moving_object"]:
        items.append(truth["moving_object"])
    return {(round(i["start"], 3), round(i["end"], 3)) for i in items}


def test_devset_is_valid():
    rows = _devset()
    assert len(rows) >= 40
    ids = [r["id"] for r in rows]
    assert len(set(ids)) == len(ids), "duplicate ids"
    kinds = json.loads((SAMPLE / "devset_kinds.json").read_text())
    assert set(kinds) == set(ids)
    assert set(kinds.values()) <= KINDS
    absent = 0
    for r in rows:
        assert set(r) == DEVSET_KEYS, r
        assert isinstance(r["id"], str) and isinstance(r["question"], str) and r["question"].strip()
        assert all(isinstance(a, str) and a for a in r["answer_any"])
        media = SAMPLE / r["video"]
        assert media.is_file(), f"{r['id']}: {r['video']} is not in data/sample"
        truth = _truth(media.stem)
        assert truth["clip"] == r["video"]
        if kinds[r["id"]] == "absent":
            assert r["answer_any"] == [] and r["relevant"] == [], r
            absent += 1
            continue
        assert r["answer_any"] and r["relevant"], r
        known = _truth_spans(truth)
        for span in r["relevant"]:
            assert len(span) == 2 and 0 <= span[0] < span[1] <= truth["duration_s"], (r["id"], span)
            assert (round(span[0], 3), round(span[1], 3)) in known, f"{r['id']}: span {span} is not a truth span"
    assert absent >= 4
    assert {kinds[i] for i in ids} == KINDS, "every question kind is represented"


def test_committed_media_match_their_truth():
    import av
    import soundfile as sf

    truths = sorted((SAMPLE / "truth").glob("*.json"))
    assert len(truths) >= 10
    suffixes = {}
    for p in truths:
        truth = json.loads(p.read_text())
        media = SAMPLE / truth["clip"]
        assert media.is_file(), media
        suffixes[media.suffix] = suffixes.get(media.suffix, 0) + 1
        if media.suffix == ".wav":
            info = sf.info(str(media))
            assert info.samplerate == 16000 and info.channels == 1
            assert abs(info.duration - truth["duration_s"]) <= 0.1
            continue
        with av.open(str(media)) as c:
            assert abs(c.duration / 1e6 - truth["duration_s"]) <= 0.1
            assert bool(c.streams.audio) == truth["has_audio"], media
            v = c.streams.video[0]
            assert (v.codec_context.width, v.codec_context.height) == (truth["width"], truth["height"])
    assert suffixes.get(".mp4", 0) >= 9 and suffixes.get(".wav", 0) >= 1
    assert any(not json.loads(p.read_text())["has_audio"] for p in truths), "a clip without audio"
    assert sum(f.stat().st_size for f in SAMPLE.rglob("*") if f.is_file()) < 12_000_000
