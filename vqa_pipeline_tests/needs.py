"""What a test needs from the machine: skip where it is missing, but fail under CI.

CI (the ``CI`` environment variable set to a true value, as ``.ci/run`` is run) installs everything
the suite uses: espeak-ng, chromium and the lite, tune, llm, dev and adapters extras (``scripts/setup.sh``), and, unless
``VQA_SETUP_FULL=0``, the full-profile libraries (``scripts/test.sh`` sets ``VQA_SETUP_FULL=1``). There a
missing tool or library means a broken install, so the test fails instead of skipping silently.
On a developer's machine it skips, with the reason printed by ``pytest -rs``.

Not covered on purpose: tests that need a GPU or real pretrained weights skip everywhere, with
their reason (CI has neither).

Example::

    from vqa_pipeline_tests.needs import require_module, require_tool

    torch = require_module("torch", full_profile=True)      # at module level or inside a test
    espeak = require_tool("espeak-ng", "Debian: apt-get install espeak-ng")
"""

from __future__ import annotations

import os
import shutil
from types import ModuleType
from typing import NoReturn

import pytest

_FALSE = {"", "0", "false", "no", "off"}


def in_ci() -> bool:
    """Whether the suite runs under CI (``CI`` set to anything but empty/0/false/no/off)."""
    return os.environ.get("CI", "").strip().lower() not in _FALSE


def full_profile_expected() -> bool:
    """Whether CI installed the full-profile libraries (``VQA_SETUP_FULL`` is not ``0``)."""
    return in_ci() and os.environ.get("VQA_SETUP_FULL", "1").strip().lower() not in _FALSE


def missing(reason: str, *, required: bool | None = None) -> NoReturn:
    """Skip with ``reason``; fail instead when ``required`` (default: under CI)."""
    if in_ci() if required is None else required:
        pytest.fail(f"{reason} (CI=true: a missing test dependency fails the run)", pytrace=False)
    pytest.skip(reason, allow_module_level=True)


def require_tool(name: str, hint: str = "") -> str:
    """The path of command ``name`` on PATH; skip (fail under CI) when it is not there."""
    path = shutil.which(name)
    if path is None:
        missing(f"{name} is not on PATH" + (f" ({hint})" if hint else ""))
    return path


def require_module(name: str, reason: str | None = None, *, full_profile: bool = False,
                   minversion: str | None = None) -> ModuleType:
    """``pytest.importorskip(name)``, failing under CI instead of skipping.

    Args:
        name: the module to import.
        reason: the skip/fail message (default: pytest's "could not import ...").
        full_profile: the module belongs to a full-profile extra, which CI installs unless
            ``VQA_SETUP_FULL=0``.
        minversion: as for ``pytest.importorskip``.
    """
    try:
        return pytest.importorskip(name, minversion=minversion, reason=reason)
    except pytest.skip.Exception as err:
        required = full_profile_expected() if full_profile else in_ci()
        missing(str(err.msg), required=required)
