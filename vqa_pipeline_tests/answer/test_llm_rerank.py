"""The optional LLM re-rank: a chat model picks the best of the top units before the answer step.
Runs the real query path against a real HTTP server that speaks the chat protocol with set replies."""

from __future__ import annotations

import re

from vqa_pipeline.answer.llm import OpenAIChat
from vqa_pipeline.answer.llm_rerank import parse_choice
from vqa_pipeline.query import ask

QUESTION = "what do they do with the dough?"
RERANK_ASK = "Reply with its number only"


def _numbered(body: dict) -> list[str]:
    user = body["messages"][-1]["content"]
    return re.findall(r"^\d+\. (.*)$", user, flags=re.MULTILINE)


def test_parse_choice_is_strict():
    assert parse_choice("3", 8) == 3
    assert parse_choice(" 2. the second line", 8) == 2
    assert parse_choice("0", 8) == 0
    assert parse_choice("9", 8) is None
    assert parse_choice("the third one", 8) is None
    assert parse_choice("", 8) is None
    assert parse_choice("[4.0-8.0s] the editor", 8) is None  # a timecode is not a unit number


def test_the_models_choice_becomes_the_answer(sample_db, chat_server):
    chosen: list[str] = []

    def respond(body: dict) -> str:
        content = body["messages"][-1]["content"]
        if RERANK_ASK in content:
            units = _numbered(body)
            chosen.append(units[-1])  # the model prefers the last of the top units
            return str(len(units))
        return "HACKED"  # an unsupported answer: the extractive answer from the new order is used

    chat_server.respond = respond
    backend = OpenAIChat(chat_server.url, "m")
    before = ask(QUESTION, db=sample_db, backend=backend)
    after = ask(QUESTION, db=sample_db, backend=backend, llm_rerank=True)
    assert len(chosen) == 1
    timecode = re.search(r"\[\d+\.\d-\d+\.\ds\]", chosen[0]).group(0)
    assert after.answer.endswith(timecode), (chosen[0], after.answer, before.answer)
    assert not before.answer.endswith(timecode), before.answer
    assert not after.abstained and not before.abstained


def test_a_reply_that_is_no_number_keeps_the_learned_order(sample_db, chat_server):
    chat_server.respond = lambda body: "the line about bread" if RERANK_ASK in body["messages"][-1]["content"] else "HACKED"
    backend = OpenAIChat(chat_server.url, "m")
    plain = ask(QUESTION, db=sample_db, backend=backend)
    reranked = ask(QUESTION, db=sample_db, backend=backend, llm_rerank=True)
    assert reranked.answer == plain.answer
    assert "LLM re-rank gave no unit number" in reranked.notice


def test_llm_rerank_needs_a_chat_endpoint(sample_db):
    a = ask(QUESTION, db=sample_db, extractive_only=True, llm_rerank=True)
    assert "LLM re-rank needs a chat endpoint" in a.notice


def test_an_unreachable_endpoint_skips_the_rerank_with_a_notice(sample_db, chat_server):
    chat_server.status = 500
    a = ask(QUESTION, db=sample_db, backend=OpenAIChat(chat_server.url, "m"), llm_rerank=True)
    assert "LLM re-rank skipped" in a.notice and not a.abstained
