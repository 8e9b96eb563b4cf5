"""`vqa eval` and `vqa tune`: the DESIGN.md JSON contract on stdout, progress on stderr, one-line errors."""

from __future__ import annotations

import json
import math
import shutil

import pytest

from vqa_pipeline.cli import main
from vqa_pipeline_tests.tuning.conftest import DEVSET, write_devset


@pytest.fixture
def db(sample_db, tmp_path, monkeypatch):
    monkeypatch.setenv("VQA_HOME", str(tmp_path / "state"))
    path = tmp_path / "db"
    shutil.copytree(sample_db, path)
    return path


def run(capsys, *argv) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_eval_json_is_the_contract(db, devset_file, capsys):
    code, out, err = run(capsys, "eval", "--devset", devset_file, "--db", db, "--json")
    assert code == 0, err
    data = json.loads(out)
    assert set(data) == {"n", "ndcg@10", "recall@5", "recall@10", "mrr", "per_model"}
    assert isinstance(data["n"], int) and data["n"] == 20
    assert all(isinstance(data[k], float) and math.isfinite(data[k]) for k in ("ndcg@10", "recall@5", "recall@10", "mrr"))
    assert set(data["per_model"]) == {"emb_text", "emb_audio_labels", "bm25"}
    assert all(set(v) == {"ndcg@10", "recall@5"} for v in data["per_model"].values())
    assert "fusion: default" in err  # progress and notes go to stderr only


def test_tune_stores_the_config_that_eval_then_uses(db, devset_file, capsys, tmp_path):
    code, out, err = run(capsys, "tune", "--devset", devset_file, "--db", db, "--trials", "12", "--json", "-q")
    assert code == 0, err
    data = json.loads(out)
    assert data["trials"] == 12 and data["n_dev"] + data["n_heldout"] == 20
    assert data["path"] == str(db / "fusion.json") and (db / "fusion.json").is_file()
    assert (tmp_path / "state" / "optuna.db").is_file()
    code, out, err = run(capsys, "eval", "--devset", devset_file, "--db", db)
    assert code == 0 and "fusion: tuned" in err and "20 questions" in out
    code, out, err = run(capsys, "tune", "--devset", devset_file, "--db", db, "--trials", "12")
    assert code == 0 and "(0 now" in out and "held-out" in out


@pytest.mark.parametrize(
    ("entries", "message"),
    [
        ([], "holds no question"),
        ([("x", "garden.mp4", "q?", ["a"], [[0.0, 1.0]])], "not usable in this index (garden.mp4)"),
        ([e for e in DEVSET if not e[4]], "no question in the dev set has relevant spans"),
    ],
)
def test_bad_dev_sets_fail_with_one_line(db, tmp_path, capsys, entries, message):
    path = write_devset(tmp_path / "bad.jsonl", entries)
    for cmd in ("eval", "tune"):
        code, out, err = run(capsys, cmd, "--devset", path, "--db", db, "--json")
        assert code == 1 and message in json.loads(out)["error"]  # --json: the reason as JSON on stdout too
        assert err.startswith(f"vqa {cmd}: ") and message in err and err.count("\n") == 1


def test_unknown_videos_can_be_skipped(db, tmp_path, capsys):
    path = write_devset(tmp_path / "mixed.jsonl", [DEVSET[0], ("x", "garden.mp4", "q?", ["a"], [[0.0, 1.0]])])
    code, out, err = run(capsys, "eval", "--devset", path, "--db", db, "--json", "--skip-unknown")
    assert code == 0 and json.loads(out)["n"] == 1 and "not indexed" in err


def test_eval_without_an_index(tmp_path, devset_file, capsys):
    code, out, err = run(capsys, "eval", "--devset", devset_file, "--db", tmp_path / "nothing")
    assert code == 1 and "no index database" in err
