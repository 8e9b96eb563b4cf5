"""The adapter assets materialize in-process on a tiny setting: data set, training (loss curve in the
metadata), and the three-way report (markdown table)."""

from __future__ import annotations

import dagster as dg
import pytest

from vqa_pipeline.orchestration.assets.adapters import (
    ADAPTER_GROUP,
    AdapterSettings,
    adapter,
    adapter_dataset,
    adapter_report,
)
from vqa_pipeline.orchestration.definitions import defs
from vqa_pipeline_tests.adapters.tiny_corpus import tiny_corpus

pytestmark = pytest.mark.slow


def test_the_assets_are_registered_in_their_group() -> None:
    graph = defs.resolve_asset_graph()
    for key in ("adapter_dataset", "adapter", "adapter_report"):
        assert graph.get(dg.AssetKey(key)).group_name == ADAPTER_GROUP
    assert dg.AssetKey("adapter") in graph.get(dg.AssetKey("adapter_report")).parent_keys
    assert dg.AssetKey("adapter_dataset") in graph.get(dg.AssetKey("adapter")).parent_keys


def test_materialize_trains_and_reports(tmp_path_factory, tiny_decoder_dir) -> None:
    db, truth = tiny_corpus(tmp_path_factory)
    work = tmp_path_factory.mktemp("adapter-work")
    settings = AdapterSettings(db=str(db), truth_dirs=[str(truth)], work_dir=str(work), steps=3,
                               decoder=str(tiny_decoder_dir), device="cpu", modalities="audio,visual")
    result = dg.materialize([adapter_dataset, adapter, adapter_report], resources={"adapter_settings": settings})
    assert result.success
    meta = {e.asset_key.to_user_string(): e.event_specific_data.materialization.metadata
            for e in result.get_asset_materialization_events()}
    assert meta["adapter_dataset"]["train"].value > 0 and meta["adapter_dataset"]["heldout"].value > 0
    assert meta["adapter"]["steps"].value == 3
    assert meta["adapter"]["loss_curve"].value.startswith("![adapter loss curve](data:image/png;base64,")
    table = meta["adapter_report"]["comparison"].value
    assert "| kind | n | chance | no_soft | probe | adapter |" in table and "| **all** |" in table
    for m in ("no_soft", "probe", "adapter"):
        assert 0.0 <= meta["adapter_report"][f"accuracy/{m}"].value <= 1.0
    assert (work / "adapter_audio_visual" / "adapter.safetensors").is_file()


def test_a_missing_index_fails_the_asset_with_one_line(tmp_path) -> None:
    settings = AdapterSettings(db=str(tmp_path / "none"), work_dir=str(tmp_path))
    result = dg.materialize([adapter_dataset], resources={"adapter_settings": settings}, raise_on_error=False)
    assert not result.success
    (failure,) = result.get_step_failure_events()
    data = failure.event_specific_data.user_failure_data
    assert data is not None and data.description.startswith("no index at ")
    assert "\n" not in data.description
