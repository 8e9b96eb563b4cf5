"""The evaluation assets on a small real index: `devset`, `fusion_weights`, `reranker`, `retrieval_report`."""

import base64
import json
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest

from vqa_pipeline.orchestration.assets.tuning import (
    EVALUATION_GROUP,
    TuningSettings,
    devset,
    fusion_weights,
    reranker,
    retrieval_report,
)
from vqa_pipeline.orchestration.definitions import defs
from vqa_pipeline.orchestration.metadata import rounded
from vqa_pipeline.orchestration.resources import VqaSettings

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "data" / "sample"
CLIPS = ("product_demo.mp4", "parking_camera.mp4", "voicemail.wav")


@pytest.fixture(scope="module")
def index(tmp_path_factory):
    """Three sample clips indexed in-process with the lite extractors, and their dev-set questions."""
    from vqa_pipeline.indexing.pipeline import index_paths
    from vqa_pipeline.store import Store

    root = tmp_path_factory.mktemp("eval")
    summary = index_paths([SAMPLE / c for c in CLIPS], Store(root / "state" / "lance"))
    assert summary.count("failed") == 0
    lines = [ln for ln in (SAMPLE / "devset.jsonl").read_text().splitlines() if json.loads(ln)["video"] in CLIPS]
    (root / "devset.jsonl").write_text("\n".join(lines) + "\n")
    return root


def materializations(result) -> dict:
    return {
        e.asset_key.to_user_string(): e.event_specific_data.materialization.metadata
        for e in result.get_asset_materialization_events()
    }


def test_the_assets_are_in_the_evaluation_group():
    graph = defs.resolve_asset_graph()
    for key in ("devset", "fusion_weights", "reranker", "retrieval_report"):
        assert graph.get(dg.AssetKey(key)).group_name == EVALUATION_GROUP
    assert dg.AssetKey("text_embeddings") in graph.get(dg.AssetKey("fusion_weights")).parent_keys
    assert {dg.AssetKey("fusion_weights"), dg.AssetKey("evidence_units")} <= graph.get(dg.AssetKey("reranker")).parent_keys
    assert dg.AssetKey("reranker") in graph.get(dg.AssetKey("retrieval_report")).parent_keys


def test_fusion_weights_and_report_materialize_with_metrics_and_plot(index, monkeypatch):
    monkeypatch.setenv("VQA_HOME", str(index / "state"))
    db = index / "state" / "lance"
    resources = {
        "settings": VqaSettings(source_dir=str(SAMPLE), db_dir=str(db), profile="lite"),
        "tuning": TuningSettings(devset_path=str(index / "devset.jsonl"), trials=30, cv_folds=2, answers="off"),
    }
    res = dg.materialize([devset, fusion_weights, reranker, retrieval_report], resources=resources,
                         instance=dg.DagsterInstance.ephemeral())
    assert res.success
    mats = materializations(res)
    assert mats["devset"]["questions"].value == 15 and mats["devset"]["absent"].value == 2
    fw = mats["fusion_weights"]
    assert 0.0 < fw["dev_ndcg@10"].value <= 1.0 and 0.0 <= fw["heldout_ndcg@10"].value <= 1.0
    assert fw["trials"].value == 30 and fw["method"].value in ("rrf", "zscore")
    assert (db / "fusion.json").is_file() and (index / "state" / "optuna.db").is_file()
    rr = mats["reranker"]
    assert (db / "reranker.json").is_file() and 0.0 <= rr["abstain_threshold"].value <= 1.0
    assert 0.0 <= rr["dev/reranked/ndcg@10"].value <= 1.0 and rr["examples"].value > 0
    rep = mats["retrieval_report"]
    for system in ("emb_text", "bm25", "lancedb_hybrid_rrf", "rrf_unweighted", "fused_tuned", "reranked"):
        for metric in ("ndcg@10", "recall@5", "recall@10", "mrr"):
            assert 0.0 <= rep[f"{system}/{metric}"].value <= 1.0
    md = rep["report"].value
    assert "| `fused_tuned` |" in md and "data:image/png;base64," not in md  # the chart is stored once, in plot
    # The chart itself in the metadata (an inline image the UI renders), and its file beside it.
    assert isinstance(rep["plot"], dg.MarkdownMetadataValue)
    assert rep["plot"].value.startswith("![retrieval report](data:image/png;base64,iVBORw0KGgo")  # PNG magic
    png = Path(rep["plot_path"].value)
    assert png.is_file() and png.read_bytes()[:4] == b"\x89PNG"
    assert base64.b64decode(rep["plot"].value.split(",", 1)[1].rstrip(")")) == png.read_bytes()
    # Figures rounded to 4 significant digits, on every evaluation asset.
    floats = [(k, n, v.value) for k, m in mats.items() for n, v in m.items() if isinstance(v, dg.FloatMetadataValue)]
    assert len(floats) > 20 and all(v == rounded(v) for _, _, v in floats), floats


def test_a_dev_set_naming_videos_not_indexed_fails_the_devset_asset(index, tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"id": "x", "video": "garden.mp4", "question": "q", "answer_any": [],
                               "relevant": [[0, 1]]}) + "\n")
    resources = {
        "settings": VqaSettings(source_dir=str(SAMPLE), db_dir=str(index / "state" / "lance"), profile="lite"),
        "tuning": TuningSettings(devset_path=str(bad), answers="off"),
    }
    res = dg.materialize([devset], resources=resources, instance=dg.DagsterInstance.ephemeral(),
                         raise_on_error=False)
    assert not res.success
    failure = res.get_step_failure_events()[0].event_specific_data
    assert "not usable in this index (garden.mp4)" in failure.user_failure_data.description


def test_dagster_cli_materializes_the_evaluation_assets(index, tmp_path, dagster_env):
    config = tmp_path / "run.yaml"
    config.write_text("resources:\n  tuning:\n    config:\n      trials: 10\n      cv_folds: 0\n      answers: \"off\"\n")
    env = {
        **dagster_env,
        "VQA_HOME": str(tmp_path / "state"),
        "VQA_DB": str(index / "state" / "lance"),
        "VQA_DEVSET": str(index / "devset.jsonl"),
    }
    dagster = str(Path(sys.executable).parent / "dagster")
    out = subprocess.run(
        [dagster, "asset", "materialize", "-m", "vqa_pipeline.orchestration.definitions",
         "--select", "devset,fusion_weights,reranker,retrieval_report", "-c", str(config)],
        env=env, cwd=REPO, capture_output=True, text=True, timeout=600,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert (tmp_path / "state" / "reports" / "retrieval_report.png").is_file()
    assert (tmp_path / "state" / "optuna.db").is_file()
    assert (index / "state" / "lance" / "reranker.json").is_file()
