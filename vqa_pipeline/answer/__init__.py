"""Answering: evidence packs, prompts, LLM backends and citation checks."""

from vqa_pipeline.answer.ask import DEFAULT_ABSTAIN_THRESHOLD, answer_question
from vqa_pipeline.answer.llm import LLMBackend, LLMError, LocalGemma, OpenAIChat, make_backend
from vqa_pipeline.answer.pack import EvidencePack, PackedLine, PackOptions, build_pack
from vqa_pipeline.answer.types import Answer, AnswerOptions, Citation

__all__ = [
    "DEFAULT_ABSTAIN_THRESHOLD",
    "Answer",
    "AnswerOptions",
    "Citation",
    "EvidencePack",
    "LLMBackend",
    "LLMError",
    "LocalGemma",
    "OpenAIChat",
    "PackOptions",
    "PackedLine",
    "answer_question",
    "build_pack",
    "make_backend",
]
