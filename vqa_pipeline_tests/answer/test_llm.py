"""LLM backends: the OpenAI-compatible client over a real socket, and the bundled local model."""

from __future__ import annotations

import socket
import time

import pytest

from vqa_pipeline.answer.llm import LLMError, LocalGemma, OpenAIChat, make_backend
from vqa_pipeline.answer.pack import PackedLine
from vqa_pipeline.answer.prompt import build_prompt

OVEN = PackedLine("k", "/m/kitchen.mp4", 10.2, 11.8, "asr", "preheat the oven to 180 degrees")


def _closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"


def test_chat_request_shape(chat_server, monkeypatch):
    monkeypatch.setenv("VQA_LLM_API_KEY", "k-123")
    chat_server.reply = " 180 degrees [10.2-11.8s] "
    backend = OpenAIChat(chat_server.url, "some-model")
    assert backend.generate(build_prompt("How hot?", [OVEN])) == "180 degrees [10.2-11.8s]"
    [req] = chat_server.requests
    assert req["path"] == "/v1/chat/completions"
    assert req["auth"] == "Bearer k-123"
    assert req["body"]["model"] == "some-model" and req["body"]["temperature"] == 0.0
    assert [m["role"] for m in req["body"]["messages"]] == ["system", "user"]


def test_full_endpoint_url_is_kept(chat_server):
    assert OpenAIChat(chat_server.url + "/chat/completions", "m").endpoint == chat_server.url + "/chat/completions"


def test_endpoint_down_raises_a_one_line_error():
    with pytest.raises(LLMError, match="unreachable") as err:
        OpenAIChat(_closed_port_url(), "m", timeout_s=2).generate(build_prompt("q", [OVEN]))
    assert "\n" not in str(err.value)


def test_slow_endpoint_times_out(chat_server):
    chat_server.delay_s = 2.0
    t0 = time.perf_counter()
    with pytest.raises(LLMError, match="too slow|unreachable"):
        OpenAIChat(chat_server.url, "m", timeout_s=0.3).generate(build_prompt("q", [OVEN]))
    assert time.perf_counter() - t0 < 1.5


def test_a_trickling_endpoint_is_cut_off_at_the_total_deadline(trickling_server):
    # Every read gets a byte within 0.2 s, so only a deadline on the whole reply can stop it.
    t0 = time.perf_counter()
    with pytest.raises(LLMError, match=r"too slow: no complete answer within 1.5s") as err:
        OpenAIChat(trickling_server.url, "m", timeout_s=1.5).generate(build_prompt("q", [OVEN]))
    assert time.perf_counter() - t0 < 5.0
    assert trickling_server.connections == 1 and "\n" not in str(err.value)


def test_http_errors_raise(chat_server):
    chat_server.status = 503
    with pytest.raises(LLMError, match="HTTP 503"):
        OpenAIChat(chat_server.url, "m").generate(build_prompt("q", [OVEN]))


def test_bad_configuration():
    with pytest.raises(ValueError, match="timeout"):
        OpenAIChat("http://127.0.0.1:1/v1", "m", timeout_s=0)
    with pytest.raises(ValueError):
        make_backend("http://localhost:1/v1", None)
    with pytest.raises(ValueError):
        make_backend("file:///etc/passwd", "m")
    assert isinstance(make_backend(), LocalGemma)


def test_local_gemma_answers_from_the_evidence(local_llm):
    out = local_llm.generate(build_prompt("How hot should the oven be?", [OVEN]))
    assert "180" in out and "\n" not in out


def test_local_gemma_is_deterministic(local_llm):
    p = build_prompt("How hot should the oven be?", [OVEN])
    assert local_llm.generate(p) == local_llm.generate(p)
