"""The deployment battery (deployment_battery.py) on the default deployment: a local folder, local Ray."""

import pytest

from vqa_pipeline_tests import deployment_battery


@pytest.mark.slow
@pytest.mark.usefixtures("espeak_ng")
def test_battery_on_a_local_folder(tmp_path):
    from vqa_pipeline.extractors.registry import get_extractor_class
    from vqa_pipeline_tests.needs import missing

    ok, why = get_extractor_class("whisper-base")().availability()
    if not ok:
        missing(f"whisper-base weights: {why}")
    env = {"RAY_ADDRESS": "local", "VQA_RAY_ADDRESS": "local", "VQA_HOME": str(tmp_path / "state")}
    deployment_battery.run_battery(tmp_path, tmp_path / "db", env)
    devset = deployment_battery.write_devset(tmp_path / "devset.jsonl")
    deployment_battery.check_eval(tmp_path / "db", devset, env)
    deployment_battery.check_tune(tmp_path / "db", devset, env)
