"""Checking an answer against its evidence: timecodes, grounding, and the extractive fallback.

- :func:`parse_timecodes` finds ``[12.0-14.0s]``-style codes (also ``[12-14s]``, ``[12.0s - 14.0s]``,
  ``(12.0-14.0s)`` and single points ``[12.5s]``).
- A code *matches* an evidence line when at least half of the code's span lies inside the line's
  span (widened by 0.05 s for the one-decimal rounding); a point matches a line containing it. A
  code spanning much more than the line (``[0.0-999.0s]``) therefore does not match.
- :func:`check_citations` drops codes that match no line and returns the citations of the rest.
- :func:`grounding` measures how much of an answer's wording (and every number) appears in a line;
  small models copy neighbouring lines and invent numbers, so an answer must pass it to be kept.
- :func:`extractive_answer` quotes the best lines with their timecodes.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from vqa_pipeline.answer.pack import PackedLine, format_timecode
from vqa_pipeline.answer.types import Citation
from vqa_pipeline.evidence import clean_text

_NUM = r"(\d+(?:\.\d+)?)"
_TIMECODE = re.compile(
    r"[\[(]\s*" + _NUM + r"\s*s?\s*(?:[-\u2013\u2014]|to)\s*" + _NUM + r"\s*s(?:ec(?:onds?)?)?\s*[\])]"
    r"|[\[(]\s*" + _NUM + r"\s*s?\s*(?:[-\u2013\u2014]|to)\s*" + _NUM + r"\s*[\])]"
    r"|[\[(]\s*" + _NUM + r"\s*s\s*[\])]",
    re.IGNORECASE,
)
_ROUND_S = 0.05

STOPWORDS = frozenset(
    ["a", "an", "the", "and", "or", "but", "of", "to", "in", "on", "at", "by", "for", "with", "from", "into", "onto", "over", "under", "about", "as", "is", "are", "was", "were", "be", "been", "being", "do", "does", "did", "doing", "have", "has", "had", "having", "it", "its", "it's", "this", "that", "these", "those", "there", "here", "what", "which", "who", "whom", "whose", "when", "where", "why", "how", "i", "you", "he", "she", "we", "they", "me", "him", "her", "us", "them", "my", "your", "his", "our", "their", "not", "no", "yes", "so", "than", "then", "can", "could", "should", "would", "will", "shall", "may", "might", "must", "just", "also", "very", "too", "only", "any", "some", "all", "each", "more", "most", "much", "many", "s", "t", "st", "nd", "rd", "th", "if", "up", "down", "out", "off", "again", "once", "say", "says", "said", "tell", "told", "show", "shows", "shown", "video", "clip", "file"]
)


@dataclass(frozen=True, slots=True)
class Timecode:
    start_s: float
    end_s: float
    span: tuple[int, int]  # character span in the text


def parse_timecodes(text: str) -> list[Timecode]:
    """All timecodes in ``text``, in order."""
    out = []
    for m in _TIMECODE.finditer(text):
        g = [x for x in m.groups() if x is not None]
        a = float(g[0])
        b = float(g[1]) if len(g) > 1 else a
        if b < a:
            a, b = b, a
        out.append(Timecode(a, b, m.span()))
    return out


def timecode_matches(tc: Timecode, line: PackedLine) -> bool:
    s, e = line.start_s - _ROUND_S, line.end_s + _ROUND_S
    if tc.end_s - tc.start_s <= 1e-9:
        return s <= tc.start_s <= e
    overlap = min(tc.end_s, e) - max(tc.start_s, s)
    return overlap > 0 and overlap >= 0.5 * (tc.end_s - tc.start_s) - 1e-9


def citation_of(line: PackedLine) -> Citation:
    return Citation(line.video_id, line.source, round(line.start_s, 3), round(line.end_s, 3))


def _tidy(text: str) -> str:
    text = re.sub(r"\s+([,.;:!?])", r"\1", text)
    text = re.sub(r"\(\s*\)|\[\s*\]", "", text)
    return " ".join(text.split()).strip(" ,;")


def check_citations(answer: str, lines: Sequence[PackedLine]) -> tuple[str, list[PackedLine], int]:
    """Keep the timecodes that match an evidence line, drop the others.

    Args:
        answer: model output.
        lines: evidence lines, most relevant first (a code matching several lines cites the first).

    Returns:
        ``(answer without the dropped codes, cited lines (unique, in answer order), dropped count)``.
    """
    cited: list[PackedLine] = []
    pieces = []
    last = 0
    dropped = 0
    for tc in parse_timecodes(answer):
        match = next((ln for ln in lines if timecode_matches(tc, ln)), None)
        pieces.append(answer[last:tc.span[0]])
        if match is None:
            dropped += 1
        else:
            pieces.append(answer[tc.span[0]:tc.span[1]])
            if match not in cited:
                cited.append(match)
        last = tc.span[1]
    pieces.append(answer[last:])
    return (_tidy("".join(pieces)) if dropped else answer.strip()), cited, dropped


def strip_timecodes(text: str) -> str:
    return _tidy(_TIMECODE.sub(" ", text))


def content_words(text: str) -> list[str]:
    """Lower-cased words and numbers minus stopwords, with a light plural/ing stemming."""
    out = []
    for w in re.findall(r"\d+(?:[.:,]\d+)*|[^\W\d_]+", text.casefold()):
        if w in STOPWORDS:
            continue
        if w in _NUMBER_WORDS:
            w = _NUMBER_WORDS[w]
        elif not w[0].isdigit():
            w = _stem(w)
        out.append(w)
    return out


def related(a: str, b: str) -> bool:
    """Two content words of one family: equal, or sharing a stem of four or more letters that is
    nearly all of the shorter one (``edit`` ~ ``editor``, ``photo`` ~ ``photography``)."""
    if a == b:
        return True
    n = min(len(a), len(b))
    k = 0
    while k < n and a[k] == b[k]:
        k += 1
    return k >= 4 and k >= n - 2


def has_related(word: str, words) -> bool:
    """Whether ``words`` holds ``word`` or a word of its family (see :func:`related`)."""
    return word in words or any(related(word, w) for w in words)


def _stem(w: str) -> str:
    for suffix in ("ing", "es", "s", "ed"):
        if len(w) > len(suffix) + 2 and w.endswith(suffix):
            return w[: -len(suffix)]
    return w


_NUMBER_WORDS = {
    w: str(i) for i, w in enumerate(
        ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen", "twenty"])
} | {"thirty": "30", "forty": "40", "fifty": "50", "sixty": "60", "seventy": "70", "eighty": "80", "ninety": "90",
     "hundred": "100", "thousand": "1000", "first": "1", "third": "3"}
_NUMBER_WORD_RE = re.compile(r"\b(" + "|".join(_NUMBER_WORDS) + r")\b", re.IGNORECASE)


def numbers(text: str) -> set[str]:
    """Numbers in ``text`` (digits, and number words up to twenty, tens, hundred, thousand)."""
    text = _NUMBER_WORD_RE.sub(lambda m: _NUMBER_WORDS[m.group(1).casefold()], text)
    text = re.sub(r"(\d+)(?:st|nd|rd|th)\b", r"\1", text)
    return {n.replace(",", "") for n in re.findall(r"\d+(?:[.:,]\d+)*", text)}


def grounding(answer: str, line_text: str) -> float:
    """Fraction of the answer's content words found in ``line_text`` (0 if any number is missing).

    Returns 0.0 for an answer with no content words.
    """
    words = content_words(strip_timecodes(answer))
    if not words:
        return 0.0
    if not numbers(strip_timecodes(answer)) <= numbers(line_text):
        return 0.0
    have = set(content_words(line_text))
    return sum(1 for w in words if w in have) / len(words)


def best_grounding(answer: str, lines: Sequence[PackedLine]) -> tuple[PackedLine | None, float]:
    """The line that best supports ``answer`` (and its score); numbers may come from any cited line."""
    best, score = None, 0.0
    for ln in lines:
        g = grounding(answer, ln.text)
        if g > score:
            best, score = ln, g
    if best is None and lines:
        # A short answer may combine two adjacent lines (a sentence cut at a window edge).
        joined = " ".join(ln.text for ln in lines)
        g = grounding(answer, joined)
        if g > 0:
            best, score = lines[0], g
    return best, score


def extractive_answer(lines: Sequence[PackedLine]) -> str:
    """The given lines quoted with their timecodes, e.g. ``preheat the oven to 180 degrees [10.2-11.8s]``."""
    return "; ".join(f"{clean_text(ln.kind, ln.text)} {format_timecode(ln.start_s, ln.end_s)}" for ln in lines)
