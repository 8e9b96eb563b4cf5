"""Dev-set loading: the DESIGN.md format, line-by-line validation, matching against the index."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from vqa_pipeline.tuning.devset import DevSetError, load_devset, resolve_devset

SAMPLE_DEVSET = Path(__file__).resolve().parents[2] / "data" / "sample" / "devset.jsonl"
GOOD = {"id": "q1", "video": "kitchen.mp4", "question": "how hot?", "answer_any": ["180"], "relevant": [[10.0, 12.0]]}


def write(tmp_path: Path, *lines, name="dev.jsonl") -> Path:
    p = tmp_path / name
    p.write_text("\n".join(x if isinstance(x, str) else json.dumps(x) for x in lines) + "\n", encoding="utf-8")
    return p


def test_the_sample_devset_loads():
    qs = load_devset(SAMPLE_DEVSET)
    assert len(qs) == 64
    assert sum(not q.answerable for q in qs) == 7
    assert qs[0].origin == "devset.jsonl:1" and qs[0].relevant == ((6.0, 9.438),)


def test_several_files_and_blank_lines(tmp_path):
    a = write(tmp_path, GOOD, "", name="a.jsonl")
    b = write(tmp_path, {**GOOD, "id": "q2", "relevant": []}, name="b.jsonl")
    qs = load_devset([a, b])
    assert [q.id for q in qs] == ["q1", "q2"] and not qs[1].answerable


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("{not json", "dev.jsonl:1: not valid JSON"),
        ([1, 2], "expected a JSON object"),
        ({k: v for k, v in GOOD.items() if k != "relevant"}, "missing key(s) relevant"),
        ({**GOOD, "video": ""}, "'video' must be a non-empty string"),
        ({**GOOD, "answer_any": "180"}, "'answer_any' must be a list of strings"),
        ({**GOOD, "relevant": [10.0, 12.0]}, "a relevant span must be [start, end]"),
        ({**GOOD, "relevant": [[10.0, 12.0, 14.0]]}, "a relevant span must be [start, end]"),
        ({**GOOD, "relevant": [["10", 12.0]]}, "must hold two numbers"),
        ({**GOOD, "relevant": [[12.0, 10.0]]}, "needs 0 <= start <= end"),
        ({**GOOD, "relevant": [[-1.0, 10.0]]}, "needs 0 <= start <= end"),
        ('{"id": "q", "video": "a.mp4", "question": "q", "answer_any": [], "relevant": [[NaN, 1]]}', "not finite"),
    ],
)
def test_malformed_lines_are_clear_errors(tmp_path, line, message):
    with pytest.raises(DevSetError) as err:
        load_devset(write(tmp_path, line))
    assert message in str(err.value)
    assert "\n" not in str(err.value)


def test_every_bad_line_is_counted_and_duplicates_are_errors(tmp_path):
    lines = [GOOD, GOOD, "{", *["[]"] * 6]
    with pytest.raises(DevSetError, match=r"dev.jsonl:2: duplicate id 'q1' \(first at dev.jsonl:1\).*and 3 more"):
        load_devset(write(tmp_path, *lines))


def test_empty_or_missing_devset(tmp_path):
    with pytest.raises(DevSetError, match="holds no question"):
        load_devset(write(tmp_path, ""))
    with pytest.raises(DevSetError, match="not found"):
        load_devset(tmp_path / "nope.jsonl")
    with pytest.raises(DevSetError, match="no dev-set file"):
        load_devset([])


def test_unknown_videos_are_an_error_or_skipped(tmp_path):
    qs = load_devset(write(tmp_path, GOOD, {**GOOD, "id": "q2", "video": "garden.mp4"}))
    catalog = {"v1": "/data/media/kitchen.mp4", "v2": "/data/media/station.mp4"}
    with pytest.raises(DevSetError, match=r"1 question\(s\) name videos not usable.*garden.mp4.*dev.jsonl:2"):
        resolve_devset(qs, catalog)
    resolved, skipped = resolve_devset(qs, catalog, on_unknown="skip")
    assert [(r.question.id, r.video_id) for r in resolved] == [("q1", "v1")]
    assert [q.id for q in skipped] == ["q2"]
    with pytest.raises(DevSetError, match="no dev-set question names an indexed video"):
        resolve_devset(qs[1:], catalog, on_unknown="skip")


def test_a_suffix_matching_two_indexed_files_is_ambiguous(tmp_path):
    qs = load_devset(write(tmp_path, GOOD))
    catalog = {"v1": "/a/kitchen.mp4", "v2": "/b/kitchen.mp4"}
    with pytest.raises(DevSetError, match="matches 2 indexed files"):
        resolve_devset(qs, catalog)
    resolved, _ = resolve_devset(load_devset(write(tmp_path, {**GOOD, "video": "b/kitchen.mp4"})), catalog)
    assert resolved[0].video_id == "v2"


def test_extra_keys_are_ignored_unless_they_mean_a_split_or_kind(tmp_path):
    base = {"video": "a.mp4", "question": "q?", "answer_any": ["x"], "relevant": [[0, 1]]}
    lines = [{"id": "a", "split": "heldout", "kind": "ocr", **base},
             {"id": "b", "split": "test", "kind": None, **base},  # another tool's split name, a null kind
             {"id": "c", "split": 3, "notes": {"by": "someone"}, **base}]
    path = tmp_path / "dev.jsonl"
    path.write_text("\n".join(json.dumps(line) for line in lines))
    qs = {q.id: q for q in load_devset(path)}
    assert (qs["a"].split, qs["a"].kind) == ("heldout", "ocr")
    assert (qs["b"].split, qs["b"].kind) == ("", "")
    assert qs["c"].split == ""
