"""A missing test dependency skips on a developer's machine and fails the run under CI."""

from __future__ import annotations

import pytest

from vqa_pipeline_tests import needs

NOT_A_TOOL = "vqa-surely-not-a-command-xyz"
NOT_A_MODULE = "vqa_surely_not_a_module_xyz"


@pytest.mark.parametrize("value, expected", [("true", True), ("1", True), ("yes", True), ("", False), ("0", False),
                                             ("false", False), ("False", False)])
def test_ci_is_read_from_the_environment(monkeypatch, value, expected):
    monkeypatch.setenv("CI", value)
    assert needs.in_ci() is expected


def test_present_tool_and_module_are_returned(monkeypatch):
    monkeypatch.setenv("CI", "true")
    assert needs.require_tool("sh").endswith("/sh")
    assert needs.require_module("json").dumps([1]) == "[1]"


def test_missing_tool_skips_locally_and_fails_under_ci(monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match=f"{NOT_A_TOOL} is not on PATH \\(apt-get install it\\)"):
        needs.require_tool(NOT_A_TOOL, "apt-get install it")
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI=true: a missing test dependency fails the run"):
        needs.require_tool(NOT_A_TOOL)


def test_missing_module_skips_locally_and_fails_under_ci(monkeypatch):
    monkeypatch.setenv("CI", "0")
    with pytest.raises(pytest.skip.Exception, match="no such extra"):
        needs.require_module(NOT_A_MODULE, reason="no such extra")
    monkeypatch.setenv("CI", "1")
    with pytest.raises(pytest.fail.Exception, match=f"could not import '{NOT_A_MODULE}'"):
        needs.require_module(NOT_A_MODULE)


def test_full_profile_modules_are_required_unless_ci_left_them_out(monkeypatch):
    monkeypatch.setenv("CI", "true")
    monkeypatch.delenv("VQA_SETUP_FULL", raising=False)  # scripts/test.sh's default installs them
    with pytest.raises(pytest.fail.Exception):
        needs.require_module(NOT_A_MODULE, full_profile=True)
    monkeypatch.setenv("VQA_SETUP_FULL", "0")
    with pytest.raises(pytest.skip.Exception):
        needs.require_module(NOT_A_MODULE, full_profile=True)
