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


NOTHING_SEEN_PREFIX = "objects: no "
NOTHING_SEEN = re.compile(r"^objects:\s*no\s+(?P<list>[a-z ,]+?)\s+seen in\s+(?P<a>[\d.]+)-(?P<b>[\d.]+)\s*s\b")
"""The object detector's "nothing seen" line (``objects: no person, car seen in 0.0-60.0 s (34
frames)``): the one definition its writer (:mod:`vqa_pipeline.extractors.objects`), the search
text and the answer step (:mod:`vqa_pipeline.answer.counting`) share."""


def nothing_seen_line(labels: list[str], start_s: float, end_s: float, frames: int) -> str:
    """``objects: no person, car seen in 0.0-60.0 s (34 frames)``."""
    return f"{NOTHING_SEEN_PREFIX}{', '.join(labels)} seen in {start_s:.1f}-{end_s:.1f} s ({frames} frames)"


def parse_nothing_seen(text: str) -> tuple[set[str], float, float] | None:
    """``(classes never seen, start_s, end_s)`` of a "nothing seen" line, else None."""
    m = NOTHING_SEEN.match(text.strip())
    if not m:
        return None
    return {x.strip() for x in m.group("list").split(",") if x.strip()}, float(m.group("a")), float(m.group("b"))


def is_nothing_seen(text: str) -> bool:
    """Whether ``text`` is the object detector's "nothing seen" line. It is evidence for the answer
    step, but left out of a window's search text (BM25 and the text vector): its list of class names
    made every such window look like an answer to any question naming one of them, and blurred the
    window's own vector."""
    return bool(NOTHING_SEEN.match(text.strip()))


def kind_rank(kind: str) -> int:
    """Position of ``kind`` in :data:`KINDS` (unknown kinds after the known ones)."""
    return KINDS.index(kind) if kind in KINDS else len(KINDS)


def kind_word(kind: str) -> str:
    return KIND_WORDS.get(kind, kind)


def clean_text(kind: str, text: str) -> str:
    """A line's text for models and quotes: one line of single spaces; sound tags without scores."""
    text = " ".join(str(text).split())
    return _SCORE.sub("", text).strip() if kind == "audio" else text
