"""The OpenAI-compatible backend against a real server: llama-cpp-python's own `llama_cpp.server`
on 127.0.0.1, serving the bundled Gemma 3 270M."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from vqa_pipeline.query import ask
from vqa_pipeline_tests.needs import require_module

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def llama_server(tmp_path_factory):
    require_module("llama_cpp", reason="llama-cpp-python is not installed (pip install -e '.[llm]')")
    require_module("fastapi", reason="llama_cpp.server needs fastapi (pip install -e '.[dev]')")
    from vqa_pipeline.answer.llm import gemma_gguf_path

    port = _free_port()
    log = tmp_path_factory.mktemp("llama-server") / "server.log"
    cmd = [sys.executable, "-m", "llama_cpp.server", "--model", str(gemma_gguf_path()), "--model_alias", "gemma-3-270m",
           "--host", "127.0.0.1", "--port", str(port), "--n_ctx", "4096", "--verbose", "False"]
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(url + "/models", timeout=2) as r:
                    models = json.load(r)
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"llama_cpp.server did not start: {log.read_text()[-2000:]}")
                time.sleep(0.5)
        assert models["data"][0]["id"] == "gemma-3-270m"
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_ask_through_a_real_openai_compatible_server(llama_server, sample_db):
    from vqa_pipeline.answer.llm import OpenAIChat

    # A generous timeout: on a busy 2-core machine a full evidence pack takes the 270M model a while.
    backend = OpenAIChat(llama_server, "gemma-3-270m", timeout_s=180)
    answer = ask("Which platform does the Leeds train leave from?", db=sample_db, backend=backend)
    # The server answered (no "unreachable"/"timed out" fallback), and whatever the small model
    # said, the answer that comes back is grounded: it names platform 9 and cites that line.
    assert answer.options.backend.startswith("openai:gemma-3-270m")
    assert "LLM endpoint" not in (answer.notice or "")
    assert "9" in answer.answer and not answer.abstained
    assert any(c.source.endswith("station.mp4") and c.start < 2.0 for c in answer.citations)


def test_llm_rerank_through_a_real_server(llama_server, sample_db):
    from vqa_pipeline.answer.llm import OpenAIChat

    backend = OpenAIChat(llama_server, "gemma-3-270m", timeout_s=180)
    answer = ask("Which platform does the Leeds train leave from?", db=sample_db, backend=backend, llm_rerank=True)
    # The re-rank request went through (an unreachable or failing server would say "skipped"), and
    # whichever unit the small model picked, the answer is a grounded, cited one.
    assert "LLM re-rank skipped" not in (answer.notice or "")
    assert not answer.abstained and answer.citations
