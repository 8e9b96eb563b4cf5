"""Numbers as people say them and as Whisper writes them, turned into one comparable form.

Whisper writes a spoken number in several ways: ``300``, ``three hundred``, ``3 .00`` (the digits
of "three hundred" split into a token and a decimal-looking tail), ``$140 .00`` for "140 dollars",
``5,517`` or ``five five one seven`` for digits read one by one, ``nine point five`` for 9.5.
:func:`normalize_numbers` rewrites all of these as plain digits so a number can be matched, compared
and quoted:

- number words: ``three hundred and twelve`` -> ``312``, ``twenty-five`` -> ``25``,
  ``nine point five`` -> ``9.5``, ``two thousand and four`` -> ``2004``;
- digit sequences read one by one (phone menus, PINs): ``five five one seven`` -> ``5517``,
  ``two oh four oh`` -> ``2040`` (``oh`` counts as zero only inside such a sequence);
- split tails: ``3 .00`` -> ``300`` (a spoken hundred), but ``$140 .00`` -> ``$140.00`` (cents);
- thousands separators: ``5,517`` -> ``5517``; ordinals: ``3rd`` -> ``3``.

Example:
    >>> normalize_numbers("press five five one seven, then nine point five and 3 .00")
    'press 5517, then 9.5 and 300'
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_UNITS = {
    "zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9,
    "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15, "sixteen": 16,
    "seventeen": 17, "eighteen": 18, "nineteen": 19,
}
_TENS = {"twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90}
_SCALES = {"hundred": 100, "thousand": 1000, "million": 1_000_000, "billion": 1_000_000_000}
_DIGIT_WORDS = {k: v for k, v in _UNITS.items() if v < 10} | {"oh": 0}
_NUMBER_WORD = re.compile(
    r"\b(?:" + "|".join(sorted([*_UNITS, *_TENS, *_SCALES, "oh", "point", "and", "a"], key=len, reverse=True))
    + r")(?:[\s-]+(?:" + "|".join(sorted([*_UNITS, *_TENS, *_SCALES, "oh", "point", "and", "a"], key=len, reverse=True))
    + r"))*\b",
    re.IGNORECASE,
)
_SPLIT_TAIL = re.compile(r"(?<![\d.,])(\$|€|£)?(\d+) \.(\d\d)\b")
_THOUSANDS = re.compile(r"\b(\d{1,3})(?:,(\d{3}))+\b")
_ORDINAL_SUFFIX = re.compile(r"\b(\d+)(?:st|nd|rd|th)\b", re.IGNORECASE)
NUMBER = re.compile(
    r"(?<![\w.:])\d{1,2}:\d{2}(?![\d:])"  # a clock time, 10:45
    r"|(?<![\w.-])\d{3}[- ]\d{3}[- ]\d{4}(?!\d)|(?<![\w.-])\d{3}-\d{4}(?!\d)"  # phone numbers
    r"|(?<![\w.])-?\d+(?:\.\d+)?(?![\w])|(?<![\w.])-?\d+(?:\.\d+)?(?=%|[a-zA-Z])"
)


def _cardinal(tokens: list[str]) -> int | None:
    """The value of ``three hundred and twelve``-style words, or ``None`` when they are not one number."""
    total, current, seen = 0, 0, False
    for i, t in enumerate(tokens):
        if t == "and":
            continue
        if t == "a":
            if current or i + 1 >= len(tokens) or tokens[i + 1] not in _SCALES:
                return None
            current, seen = 1, True
            continue
        elif t in _UNITS:
            if current % 10 or (current and current < 10) or (current % 100 and current % 100 < 20):
                return None  # "five six" is not one number (digit runs are handled by the caller)
            current += _UNITS[t]
        elif t in _TENS:
            if current % 100:
                return None
            current += _TENS[t]
        elif t in _SCALES:
            if not seen:
                return None  # a bare "million" is a word, not a number
            scale = _SCALES[t]
            current = max(current, 1) * scale
            if scale >= 1000:
                total, current = total + current, 0
        else:
            return None
        seen = True
    return total + current if seen else None


def _words_value(tokens: list[str]) -> str | None:
    """The digits of a run of number words, or ``None`` when it is not a number."""
    tokens = [t for t in tokens if t]
    if not tokens or all(t in ("and", "a", "point", "oh") for t in tokens):
        return None
    if tokens[0] in ("and", "point") or tokens[-1] in ("and", "point", "a"):
        return None
    if "point" in tokens:
        i = tokens.index("point")
        whole = _words_value(tokens[:i]) if i else "0"
        frac = tokens[i + 1:]
        scale = ""
        if frac and frac[-1] in _SCALES:  # "four point two million" -> "4.2 million"
            scale, frac = " " + frac[-1], frac[:-1]
        if whole is None or not frac or any(t not in _DIGIT_WORDS for t in frac):
            return None
        return f"{whole}.{''.join(str(_DIGIT_WORDS[t]) for t in frac)}{scale}"
    # digits read one by one: "five five one seven", "two oh four oh"
    if len(tokens) >= 2 and all(t in _DIGIT_WORDS for t in tokens):
        return "".join(str(_DIGIT_WORDS[t]) for t in tokens)
    if "oh" in tokens:
        return None
    value = _cardinal(tokens)
    if value is not None:
        return str(value)
    # clock times: "nine thirty" -> 9:30, "eleven forty-five" -> 11:45
    if len(tokens) in (2, 3) and tokens[0] in _UNITS and 1 <= _UNITS[tokens[0]] <= 12:
        rest = _cardinal(tokens[1:])
        if rest is not None and 10 <= rest < 60 and (tokens[1] in _TENS or tokens[1] in ("ten", "fifteen")):
            return f"{_UNITS[tokens[0]]}:{rest:02d}"
    # years and the like: "nineteen eighty four" -> 1984, "twenty twenty four" -> 2024
    for cut in range(1, len(tokens)):
        a, b = _cardinal(tokens[:cut]), _cardinal(tokens[cut:])
        if a is not None and b is not None and 10 < a < 100 and 10 <= b < 100:
            return f"{a}{b:02d}"
    return None


def _replace_words(m: re.Match) -> str:
    raw = m.group(0)
    tokens = [t.lower() for t in re.split(r"[\s-]+", raw)]
    # Trim leading/trailing filler words that belong to the sentence ("a", "and").
    lead = 0
    while lead < len(tokens) and tokens[lead] in ("and", "a", "point") and not (
            tokens[lead] == "a" and lead + 1 < len(tokens) and tokens[lead + 1] in _SCALES):
        lead += 1
    tail = len(tokens)
    while tail > lead and tokens[tail - 1] in ("and", "a", "point"):
        tail -= 1
    value = _words_value(tokens[lead:tail])
    if value is None:
        return raw
    parts = re.split(r"([\s-]+)", raw)
    words = parts[0::2]
    seps = parts[1::2]
    head = "".join(w + s for w, s in zip(words[:lead], seps[:lead]))
    rest = "".join(s + w for s, w in zip(seps[tail - 1:], words[tail:]))
    return head + value + rest


def normalize_numbers(text: str) -> str:
    """``text`` with spoken and split numbers written as plain digits (see the module docstring)."""
    text = _SPLIT_TAIL.sub(lambda m: f"{m.group(1)}{m.group(2)}.{m.group(3)}" if m.group(1)
                           else f"{m.group(2)}{m.group(3)}", text)
    text = _THOUSANDS.sub(lambda m: m.group(0).replace(",", ""), text)
    text = _ORDINAL_SUFFIX.sub(r"\1", text)
    text = _NUMBER_WORD.sub(_replace_words, text)
    return _CLOCK_PHRASE.sub(_clock_phrase, text)


_CLOCK_PHRASE = re.compile(r"\b(half|quarter) (past|to) (\d{1,2})\b|\b(\d{1,2}) o'?clock\b", re.IGNORECASE)


def _clock_phrase(m: re.Match) -> str:
    if m.group(4):
        return f"{int(m.group(4))}:00"
    hour = int(m.group(3))
    if m.group(1).lower() == "half":
        return f"{hour}:30" if m.group(2).lower() == "past" else f"{(hour - 1) or 12}:30"
    return f"{hour}:15" if m.group(2).lower() == "past" else f"{(hour - 1) or 12}:45"


@dataclass(frozen=True, slots=True)
class NumberMention:
    """A number in a normalized text: its digits (``"9.5"``), value and character span."""

    digits: str
    value: float
    span: tuple[int, int]


def number_mentions(text: str) -> list[NumberMention]:
    """Numbers in ``text`` after :func:`normalize_numbers`, with spans in the normalized text."""
    norm = normalize_numbers(text)
    out = []
    for m in NUMBER.finditer(norm):
        digits = m.group(0)
        value: float
        if ":" in digits:
            h, mm = digits.split(":")
            value = int(h) * 100 + int(mm)  # 10:45 -> 1045, as a spoken "ten forty-five" often comes out
        else:
            value = float(re.sub(r"(?<=\d)[- ](?=\d)", "", digits))
        out.append(NumberMention(digits, float(value), m.span()))
    return out


def number_values(text: str) -> set[float]:
    """The numeric values mentioned in ``text`` (spoken, split or written)."""
    return {n.value for n in number_mentions(text)}


def format_number(value: float) -> str:
    """``300.0`` -> ``"300"``, ``9.5`` -> ``"9.5"``."""
    return str(int(value)) if float(value).is_integer() else f"{value:g}"
