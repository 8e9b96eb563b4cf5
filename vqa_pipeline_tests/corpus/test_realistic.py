"""The real-media dev set (data/real): file valid and up to date, split rule, one synthetic clip rebuilt."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

from vqa_pipeline.corpus import realistic
from vqa_pipeline.tuning.devset import load_devset

ROOT = Path(__file__).resolve().parents[2]
REAL = ROOT / "data" / "real"
KINDS = {"ocr", "speech", "sound", "visual", "order", "count", "yes_no", "absent", "number", "name", "command", "url"}


def _rows() -> list[dict]:
    return [json.loads(x) for x in (REAL / "devset.jsonl").read_text().splitlines() if x.strip()]


def test_devset_loads_with_the_contract_loader():
    questions = load_devset(REAL / "devset.jsonl")
    assert len(questions) >= 60
    for q in questions:
        assert (not q.answer_any) == (not q.relevant), q.id  # only absent questions lack spans


def test_devset_keys_kinds_and_split():
    rows = _rows()
    kinds = Counter(r["kind"] for r in rows)
    assert set(kinds) <= KINDS
    assert 0.10 <= kinds["absent"] / len(rows) <= 0.15
    assert all((r["kind"] == "absent") == (not r["answer_any"]) for r in rows)
    split = Counter(r["split"] for r in rows)
    assert set(split) == {"dev", "heldout"}
    assert 0.35 <= split["heldout"] / len(rows) <= 0.40
    assert Counter(r["source"] for r in rows)["real"] > len(rows) / 2
    videos = {r["video"] for r in rows}
    for v in videos:  # unique suffixes: no file name ends with another one
        assert not any(o != v and o.endswith(v) for o in videos), v
    for clip in (REAL / "synthetic").iterdir():  # every committed clip has its truth and questions
        assert (REAL / "truth" / f"{clip.name}.json").exists(), clip.name
        assert clip.name in videos, clip.name


def test_devset_file_is_what_the_builder_writes():
    out = subprocess.run([sys.executable, str(ROOT / "scripts" / "build_real_devset.py"), "--check"],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr


def test_split_is_deterministic_and_stratified():
    rows = [{"id": f"q{i}", "video": f"v{i % 5}", "kind": "ab"[i % 2]} for i in range(40)]
    a = realistic.assign_splits(rows)
    b = realistic.assign_splits(list(reversed(rows)))
    assert {r["id"]: r["split"] for r in a} == {r["id"]: r["split"] for r in b}
    for kind in "ab":
        held = [r for r in a if r["kind"] == kind and r["split"] == "heldout"]
        assert len(held) == 8  # round(20 * 0.375)
        assert len({r["video"] for r in held}) == 5  # spread over every video
    assert realistic.assign_splits([{"id": "x", "video": "v", "kind": "url"}])[0]["split"] == "dev"


def test_a_synthetic_clip_matches_its_committed_truth(espeak_ng, tmp_path):
    name = "northwind_earnings_call.flac"
    clip = realistic.SYNTHETIC[name](tmp_path)
    built = realistic.truth_of(clip)
    committed = json.loads((REAL / "truth" / f"{name}.json").read_text())
    assert realistic._drift(committed, built) == []
