"""Evidence kinds, and how a line of each kind reads: one definition for the indexer's window text,
the answer step's packs and prompts, and the CLI.

Kinds: ``asr`` (speech), ``ocr`` (on-screen text), ``audio`` (sound tags), ``visual`` (picture
facts, concept tags). Sound-tag lines carry scores (``beep, bleep (0.85)``) that help a person but
not a model or an embedding; :func:`clean_text` drops them.
"""

from __future__ import annotations

import re

KINDS: tuple[str, ...] = ("asr", "ocr", "audio", "visual")
"""Evidence kinds in display order (lines at the same time are listed in this order)."""
KIND_WORDS: dict[str, str] = {"asr": "speech", "ocr": "on-screen text", "audio": "sounds", "visual": "picture"}
"""What a reader calls each kind (``speech: ...`` in embedded window text and in prompts)."""
_SCORE = re.compile(r"\s*\(\d+(?:\.\d+)?\)")


def kind_rank(kind: str) -> int:
    """Position of ``kind`` in :data:`KINDS` (unknown kinds after the known ones)."""
    return KINDS.index(kind) if kind in KINDS else len(KINDS)


def kind_word(kind: str) -> str:
    return KIND_WORDS.get(kind, kind)


def clean_text(kind: str, text: str) -> str:
    """A line's text for models and quotes: one line of single spaces; sound tags without scores."""
    text = " ".join(str(text).split())
    return _SCORE.sub("", text).strip() if kind == "audio" else text
