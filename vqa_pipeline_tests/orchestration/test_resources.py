"""Deployments: the same resource keys everywhere, settings from `dg.EnvVar`s resolved at run time."""

import importlib
from pathlib import Path
from tempfile import gettempdir

import dagster as dg
import pytest

from vqa_pipeline.orchestration import definitions
from vqa_pipeline.orchestration.resources import (
    DEPLOYMENTS,
    RESOURCES_CLUSTER,
    RESOURCES_LOCAL,
    ExtractionRuntime,
    TuningSettings,
    VqaSettings,
    deployment_resources,
)


@dg.asset
def settings_seen(settings: VqaSettings, runtime: ExtractionRuntime, tuning: TuningSettings) -> dg.MaterializeResult:
    """What the resources resolved to, as metadata."""
    return dg.MaterializeResult(metadata={
        "source_dir": settings.source_dir,
        "db_dir": settings.db_dir,
        "profile": settings.profile,
        "window_s": settings.window_s,
        "ray_address": runtime.ray_address or "",
        "cpus": runtime.num_cpus_per_actor,
        "devsets": dg.MetadataValue.json(tuning.devset_files()),
        "trials": tuning.trials,
    })


def _resolved(resources, run_config=None) -> dict:
    result = dg.materialize([settings_seen], resources=resources, run_config=run_config,
                            instance=dg.DagsterInstance.ephemeral())
    (event,) = result.get_asset_materialization_events()
    return {k: v.value for k, v in event.event_specific_data.materialization.metadata.items()}


@pytest.fixture
def env(monkeypatch, tmp_path):
    values = {"VQA_SOURCE_DIR": str(tmp_path / "clips"), "VQA_DB": str(tmp_path / "lance"), "VQA_PROFILE": "full",
              "VQA_DEVSET": f"a.jsonl:{tmp_path / 'b.jsonl'}"}
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("VQA_RAY_ADDRESS", raising=False)
    return values


def test_deployments_have_the_same_resource_keys():
    assert set(DEPLOYMENTS) == {"local", "cluster"}
    assert RESOURCES_LOCAL.keys() == RESOURCES_CLUSTER.keys() == {"settings", "runtime", "tuning", "adapter_settings"}
    assert deployment_resources("cluster") is RESOURCES_CLUSTER
    with pytest.raises(KeyError, match="known: local, cluster"):
        deployment_resources("prod")


def test_local_settings_come_from_the_environment_at_run_time(env, monkeypatch, tmp_path):
    seen = _resolved(RESOURCES_LOCAL)
    assert (seen["source_dir"], seen["db_dir"], seen["profile"]) == (env["VQA_SOURCE_DIR"], env["VQA_DB"], "full")
    assert seen["devsets"] == ["a.jsonl", str(tmp_path / "b.jsonl")]
    assert seen["ray_address"] == "" and seen["cpus"] == 0.0  # a Ray per run
    monkeypatch.setenv("VQA_PROFILE", "lite")  # read per run, not when the module was imported
    assert _resolved(RESOURCES_LOCAL)["profile"] == "lite"


def test_run_config_for_one_field_keeps_the_others_from_the_environment(env):
    seen = _resolved(RESOURCES_LOCAL, {"resources": {"settings": {"config": {"window_s": 4.0}},
                                                     "tuning": {"config": {"trials": 7}}}})
    assert (seen["window_s"], seen["trials"]) == (4.0, 7)
    assert (seen["db_dir"], seen["profile"], seen["devsets"][0]) == (env["VQA_DB"], "full", "a.jsonl")


def test_an_unset_variable_fails_the_run_naming_it(env, monkeypatch):
    monkeypatch.delenv("VQA_DB")
    with pytest.raises(dg.DagsterInvalidConfigError, match='"VQA_DB" which is not set'):
        _resolved(RESOURCES_LOCAL)


def test_the_cluster_runs_on_the_ray_cluster_it_is_given(env, monkeypatch):
    with pytest.raises(dg.DagsterInvalidConfigError, match="VQA_RAY_ADDRESS"):
        _resolved(RESOURCES_CLUSTER)
    monkeypatch.setenv("VQA_RAY_ADDRESS", "ray://head:10001")
    monkeypatch.setenv("VQA_DB", "s3://bucket/lance")
    seen = _resolved(RESOURCES_CLUSTER, {"resources": {"runtime": {"config": {"use_ray": True}}}})
    assert (seen["ray_address"], seen["cpus"], seen["db_dir"]) == ("ray://head:10001", 1.0, "s3://bucket/lance")


def test_decode_cache_beside_a_local_database_and_in_a_temp_folder_for_an_object_store(tmp_path):
    assert VqaSettings(db_dir=str(tmp_path / "state" / "lance")).cache_dir() == tmp_path / "state" / "decoded"
    assert VqaSettings(db_dir="s3://bucket/lance").cache_dir() == Path(gettempdir()) / "vqa-decoded"
    assert VqaSettings(db_dir="s3://b/l", decode_cache_dir=str(tmp_path / "c")).cache_dir() == tmp_path / "c"


def test_the_asset_graph_does_not_depend_on_the_profile(monkeypatch):
    graphs = []
    for profile in ("lite", "full"):
        monkeypatch.setenv("VQA_PROFILE", profile)
        graphs.append({k.to_user_string() for k in importlib.reload(definitions).defs.resolve_asset_graph()
                       .get_all_asset_keys()})
    assert graphs[0] == graphs[1]
