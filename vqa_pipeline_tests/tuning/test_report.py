"""The retrieval report: every system on each split, the markdown table, the PNG chart, answer accuracy."""

from __future__ import annotations

import shutil

import pytest
from PIL import Image

from vqa_pipeline.tuning.answers import aggregate, answer_correct, citation_relevant, score_question
from vqa_pipeline.tuning.report import answers_markdown, markdown_table, write_report
from vqa_pipeline.tuning.run import run_report, run_tune
from vqa_pipeline.tuning.study import TuneOptions


@pytest.fixture(scope="module")
def tuned_db(sample_db, devset_file, tmp_path_factory):
    db = tmp_path_factory.mktemp("report") / "db"
    shutil.copytree(sample_db, db)
    opts = TuneOptions(trials=20, storage=f"sqlite:///{db.parent / 'optuna.db'}")
    run_tune(db, [devset_file], opts)
    return db, opts


def test_report_compares_every_system_on_each_split(tuned_db, devset_file, tmp_path):
    db, opts = tuned_db
    report, prep = run_report(db, [devset_file], opts, cv_folds=2)
    names = [s.name for s in report.systems]
    assert names == ["emb_text", "emb_audio_labels", "bm25", "lancedb_hybrid_rrf", "rrf_unweighted",
                     "fused_default", "fused_tuned"]
    assert report.n == {"heldout": 6, "dev": 14, "all": 20}
    for s in report.systems:
        assert set(s.scores) == {"heldout", "dev", "all"}
        for split in s.scores.values():
            assert set(split) == {"ndcg@10", "recall@5", "recall@10", "mrr"}
            assert all(0.0 <= v <= 1.0 for v in split.values())
    assert report.best_single("all").name == "emb_text"
    assert report.tuning["heldout_ids"] and report.tuning["cv"]["n"] == 20
    assert not [n for n in report.notes if "another split" in n]

    md = markdown_table(report)
    assert md.count("\n| `") == len(names) and "ndcg@10 (heldout)" in md
    paths = write_report(report, tmp_path / "reports")
    with Image.open(paths["png"]) as img:
        assert img.format == "PNG" and img.size[0] == 900 and 300 < img.size[1] < 1200
    assert "retrieval_report.png" in paths["md"].read_text()
    assert '"fused_tuned"' in paths["json"].read_text()


def test_the_chart_is_a_real_png_with_one_bar_colour_per_metric(tmp_path):
    import numpy as np

    from vqa_pipeline.tuning.report import RetrievalReport, SystemScores, write_plot

    scores = {"heldout": {"ndcg@10": 0.9, "recall@5": 0.5, "recall@10": 0.7, "mrr": 0.25}}
    systems = [SystemScores(f"system_{i}", "single", "", scores) for i in range(3)]
    png = write_plot(RetrievalReport(systems=systems, n={"heldout": 6}), tmp_path / "sub" / "chart.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 5_000
    with Image.open(png) as img:
        img.load()  # a truncated or broken file fails here
        assert img.format == "PNG" and img.size[0] == 900 and 150 < img.size[1] < 800
        rgb = np.asarray(img.convert("RGB")).reshape(-1, 3)
    colours = {tuple(c) for c in rgb[::7]}
    for hex_colour in ("#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd"):  # the bars of the four metrics
        assert tuple(int(hex_colour[i : i + 2], 16) for i in (1, 3, 5)) in colours, hex_colour


def test_a_report_without_a_tuned_config_leaves_that_row_out(sample_db, devset_file):
    report, _ = run_report(sample_db, [devset_file], TuneOptions())
    assert report.row("fused_tuned") is None and report.row("fused_default") is not None
    assert any("no usable tuned config" in n for n in report.notes)


def test_answer_and_citation_rules():
    accepted, gold = ("180 degrees", "180°"), [(10.2, 11.8)]
    assert answer_correct("Preheat to 180 DEGREES [10.2-11.8s]", accepted)
    assert not answer_correct("about 200 degrees", accepted)
    assert citation_relevant("/m/kitchen.mp4", 10.0, 12.0, "kitchen.mp4", gold)
    assert not citation_relevant("/m/station.mp4", 10.0, 12.0, "kitchen.mp4", gold)
    assert not citation_relevant("/m/kitchen.mp4", 11.5, 14.0, "kitchen.mp4", gold)  # 0.3 s overlap, span not covered
    assert "not computed" in answers_markdown(None)


def test_citation_accuracy_is_per_question():
    gold = [(10.2, 11.8)]
    right, wrong = ("/m/kitchen.mp4", 10.0, 12.0), ("/m/kitchen.mp4", 30.0, 32.0)
    scores = [
        score_question("180 degrees", False, [wrong, right], "kitchen.mp4", ["180"], gold),  # one good citation
        score_question("180 degrees", False, [wrong], "kitchen.mp4", ["180"], gold),  # right words, wrong place
        score_question("I don't know", True, [right], "kitchen.mp4", ["180"], gold),  # abstained: nothing counts
        score_question("I don't know", True, [], "kitchen.mp4", [], []),  # absent, abstained: right
        score_question("200", False, [wrong], "kitchen.mp4", [], []),  # absent, answered: wrong
    ]
    agg = aggregate(scores)
    assert (agg.n_answerable, agg.n_absent) == (3, 2)
    assert agg.answer_accuracy == pytest.approx(2 / 3) and agg.citation_accuracy == pytest.approx(1 / 3)
    assert agg.absent_abstained == pytest.approx(0.5) and agg.abstained_wrongly == pytest.approx(1 / 3)


def test_answer_accuracy_with_the_extractive_backend(tuned_db, devset_file):
    from vqa_pipeline.tuning.answers import answer_accuracy
    from vqa_pipeline.tuning.run import prepare, stored_config

    db, _ = tuned_db
    prep = prepare(db, [devset_file], hybrid=False)
    config, _, _ = stored_config(db)

    from vqa_pipeline.answer.llm import LLMBackend, LLMError

    class NoModel(LLMBackend):
        """A backend that always fails: `ask` falls back to quoting the best evidence lines."""

        name = "no-model"

        def generate(self, prompt):
            raise LLMError("no model in this test")

    out = answer_accuracy(db, prep.questions, config, NoModel())
    assert out["backend"] == "no-model" and out["n_answerable"] == 20 and out["n_absent"] == 1
    assert 0.5 <= out["answer_accuracy"] <= 1.0
    assert out["citation_accuracy"] is not None and 0.5 <= out["citation_accuracy"] <= 1.0
