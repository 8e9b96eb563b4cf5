"""`vqa adapt train|eval` and `vqa ask --adapter` as users run them (real subprocesses), on a tiny
indexed set of generated clips and a tiny random-weight decoder of the real architecture."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import lancedb
import pytest

from vqa_pipeline_tests.adapters.tiny_corpus import tiny_corpus

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[2]


def vqa(*args, home: Path):
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(REPO), "VQA_HOME": str(home),
           "RAY_ADDRESS": "local", "VQA_RAY_ADDRESS": "local"}
    return subprocess.run([sys.executable, "-m", "vqa_pipeline.cli", *map(str, args)], capture_output=True,
                          text=True, env=env, timeout=600, cwd=REPO)


def one_line_error(out: subprocess.CompletedProcess, *needles: str) -> str:
    assert out.returncode == 1, out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in out.stderr, out.stderr
    for n in needles:
        assert n in lines[0], lines[0]
    return lines[0]


@pytest.fixture(scope="module")
def trained(tmp_path_factory, tiny_decoder_dir):
    db, truth = tiny_corpus(tmp_path_factory)
    home = tmp_path_factory.mktemp("home")
    out = home / "adapter"
    res = vqa("adapt", "train", "--db", db, "--truth", truth, "--decoder", tiny_decoder_dir, "--steps", 4,
              "--out", out, "--device", "cpu", "--json", home=home)
    assert res.returncode == 0, res.stderr
    return db, truth, home, out, json.loads(res.stdout)


def test_train_then_eval_json(trained, tiny_decoder_dir) -> None:
    db, truth, home, out, result = trained
    assert result["steps"] == 4 and len(json.loads((out / "training.json").read_text())["losses"]) == 4
    assert (out / "adapter.safetensors").is_file() and (out / "loss.png").read_bytes()[:4] == b"\x89PNG"
    assert result["dataset"]["train"] > 0 and result["dataset"]["modalities"]["audio"].startswith("yamnet")
    res = vqa("adapt", "eval", "--db", db, "--truth", truth, "--decoder", tiny_decoder_dir, "--out", out,
              "--device", "cpu", "--json", home=home)
    assert res.returncode == 0, res.stderr
    report = json.loads(res.stdout)
    assert report["n"] == result["dataset"]["heldout"] > 0
    assert set(report["accuracy"]) == {"no_soft", "probe", "adapter"}
    assert all(0.0 <= v <= 1.0 for v in report["accuracy"].values())
    assert set(report["by_kind"]) <= {"sound", "speech", "colour", "scene_change"}
    # the probe reads the same features: colours are in them, so it gets held-out colour questions right
    if "colour" in report["by_kind"]:
        assert report["by_kind"]["colour"]["probe"] >= 0.5
    assert set(report["goals"]) >= {"adapter_minus_no_soft", "probe_minus_adapter"}
    assert json.loads((out / "report.json").read_text())["n"] == report["n"]


def test_ask_with_the_adapter(trained, tiny_decoder_dir) -> None:
    db, _, home, out, _ = trained
    res = vqa("ask", "Which sound is heard?", "--db", db, "--adapter", out, "--decoder", tiny_decoder_dir, "--json",
              home=home)
    assert res.returncode == 0, res.stderr
    answer = json.loads(res.stdout)
    assert set(answer) >= {"question", "answer", "abstained", "citations", "evidence"} and answer["answer"]


def test_bad_inputs_are_one_line_errors(trained, tiny_decoder_dir, tmp_path) -> None:
    db, truth, home, out, _ = trained
    corrupt = tmp_path / "adapter.safetensors"
    corrupt.write_bytes(b"\x00garbage" * 10)
    res = vqa("adapt", "eval", "--db", db, "--truth", truth, "--out", corrupt, "--json", home=home)
    one_line_error(res, str(corrupt), "corrupt")
    assert json.loads(res.stdout) == {"error": res.stderr.strip().split(": ", 1)[1]}
    one_line_error(vqa("ask", "Which sound?", "--db", db, "--adapter", corrupt, home=home), str(corrupt))
    # a dev set / index without feature questions: its clips have no truth files
    empty = tmp_path / "truth"
    empty.mkdir()
    one_line_error(vqa("adapt", "eval", "--db", db, "--truth", empty, "--out", out, "--decoder", tiny_decoder_dir,
                       home=home), "no truth files", str(empty))
    sample_truth = REPO / "data" / "sample" / "truth"
    one_line_error(vqa("adapt", "train", "--db", db, "--truth", sample_truth, "--decoder", tiny_decoder_dir,
                       "--out", tmp_path / "x", home=home), "no indexed window belongs")
    assert not (tmp_path / "x").exists()
    # features of another model version than the adapter was trained on: both tags named
    copy = tmp_path / "db"
    shutil.copytree(db, copy)
    lancedb.connect(str(copy)).open_table("windows").update(values={"audio_model": "yamnet-w8a8@9"})
    line = one_line_error(vqa("adapt", "eval", "--db", copy, "--truth", truth, "--out", out, "--decoder",
                              tiny_decoder_dir, "-q", home=home), "yamnet-w8a8@9", str(copy))
    assert "yamnet-w8a8@2" in line
    before = (out / "adapter.safetensors").read_bytes()
    one_line_error(vqa("adapt", "train", "--db", db, "--truth", truth, "--steps", 0, "--out", out, home=home),
                   "--steps")
    assert (out / "adapter.safetensors").read_bytes() == before  # nothing overwritten


def _devset(path: Path, db: Path) -> Path:
    rows = lancedb.connect(str(db)).open_table("windows").search().select(["source"]).limit(None).to_list()
    video = Path(sorted({r["source"] for r in rows})[0]).name
    questions = ["What are the dominant colours?", "Is there noise or silence?"]
    path.write_text("".join(json.dumps({"id": f"q{i}", "video": video, "question": q, "answer_any": ["orange"],
                                        "relevant": [[0.0, 2.0]]}) + "\n" for i, q in enumerate(questions)))
    return path


def test_devset_masks_windows_missing_a_modality(trained, tiny_decoder_dir, tmp_path) -> None:
    """Like the sample's audio-only voicemail.wav: windows without visual features are masked,
    not refused; only an index where NO window has them is refused, before any answering."""
    from vqa_pipeline.adapters.ask_route import check_index_features, window_features_for
    from vqa_pipeline.adapters.checkpoint import load_adapter
    from vqa_pipeline.adapters.window_features import FeatureError

    db, truth, home, out, _ = trained
    dev = _devset(tmp_path / "dev.jsonl", db)
    specs = load_adapter(out / "adapter.safetensors")[1]
    some = tmp_path / "some"  # one window keeps its colours, all others lose them
    shutil.copytree(db, some)
    table = lancedb.connect(str(some)).open_table("windows")
    keep = table.search().select(["window_id"]).limit(1).to_list()[0]["window_id"]
    table.update(where=f"window_id != '{keep}'", values_sql={"visual_colors": "NULL"})
    check_index_features(some, specs)  # some window has them: fine
    feats = window_features_for("What are the dominant colours?", some, specs, k=20, n_windows=3)
    assert len(feats) == 3
    assert sum(f["visual"] is None for f in feats) >= 2  # masked, not an error
    res = vqa("adapt", "eval", "--db", db, "--truth", truth, "--decoder", tiny_decoder_dir, "--out", out, "--device",
              "cpu", "--limit", 1, "--devset", dev, "--devset-db", some, "--json", "-q", home=home)
    assert res.returncode == 0, res.stderr
    d = json.loads(res.stdout)["devset"]
    assert d["n"] == 2 and set(d) >= {"text_only", "with_soft_tokens", "delta"}

    none = tmp_path / "none"  # no window has colours: one line, before the decoder loads
    shutil.copytree(db, none)
    lancedb.connect(str(none)).open_table("windows").update(where="true", values_sql={"visual_colors": "NULL"})
    with pytest.raises(FeatureError, match="no visual features"):
        check_index_features(none, specs)
    res = vqa("adapt", "eval", "--db", db, "--truth", truth, "--decoder", tiny_decoder_dir, "--out", out, "--device",
              "cpu", "--devset", dev, "--devset-db", none, home=home)
    assert "loading the decoder" not in res.stderr
    one_line_error(res, str(none), "no visual features", "visual_colors")
