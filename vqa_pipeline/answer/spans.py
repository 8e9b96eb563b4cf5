"""Picking the words that answer a question out of one evidence unit.

Given a unit (a spoken sentence, an on-screen block ``LABEL / value / ...``, a sound line) and the
question's analysis, :func:`answer_spans` returns candidate answers of the question's type, best
first:

- **number / count**: numbers in the unit (spoken forms normalized, :mod:`numbers`) that the
  question does not itself contain, nearest to the question's words first ("your account number
  is 5517" -> ``5517``); a block's value part after the label the question names.
- **name**: capitalized word sequences (people, places, brands) that are not question words and
  not ALL-CAPS labels; in a block, the part after the label the question names ("EDITOR / Ana
  Lima" -> ``Ana Lima``).
- **url**: web addresses; **command**: a terminal line after its prompt (``$ git status`` ->
  ``git status``), else a line that starts with a common command.
- **text**: in a block, the part after the label the question names, else the block; otherwise the
  whole unit (a sentence is the quote).

Everything returned is a verbatim substring of the unit (numbers in their normalized digits), so
an answer built from it is checked by construction.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from vqa_pipeline.answer.citations import STOPWORDS, content_words, has_related
from vqa_pipeline.answer.numbers import format_number, normalize_numbers, number_mentions, number_values
from vqa_pipeline.answer.question import Question

URL = re.compile(r"\b(?:https?://)?(?:www\.)?[a-z0-9][a-z0-9-]*(?:\.[a-z0-9-]+)*\.(?:com|org|net|edu|gov|io|"
                 r"co|uk|de|fr|nl|eu|info|dev|app|ai|tv|me|us|ca|au)\b(?:/[^\s]*)?", re.IGNORECASE)
_PROMPT = re.compile(r"^\s*(?:\([\w.-]+\)\s*)?(?:[\w.-]+@[\w.-]+)?(?::?[~\w/.-]*)?\s*[$#%>]\s+(?P<cmd>\S.*)$")
COMMANDS = frozenset(
    ["ls", "cd", "cp", "mv", "rm", "mkdir", "cat", "echo", "grep", "find", "git", "pip", "python", "python3", "npm", "node", "docker", "make", "curl", "wget", "sudo", "apt", "apt-get", "ssh", "scp", "tar", "chmod", "chown", "kubectl", "vqa", "pytest", "cargo", "go", "java", "javac", "gcc", "conda", "brew", "systemctl", "export", "source", "touch", "nano", "vim", "less", "head", "tail", "top", "ps", "kill", "ping", "man", "which", "uv", "poetry", "yarn"])
_CAP_WORD = r"(?:(?:Mc|Mac|O')[A-Z][a-z]+|[A-Z][a-z'’\-]+|[A-Z]\.|van|von|de|da|del|di|la|le)(?![\w'’])"
_NAME = re.compile(rf"(?<![\w'’]){_CAP_WORD}(?:\s+{_CAP_WORD})*")
_LABEL = re.compile(r"^[A-Z0-9 &/:'’.\-]{2,}$")


@dataclass(frozen=True, slots=True)
class Span:
    """A candidate answer: its text (as quoted) and how well it fits (higher is better)."""

    text: str
    score: float


def parts_of(text: str, parts: Sequence[str] = ()) -> list[str]:
    """A unit's parts: a block's lines when known, else the text split at ``" / "``."""
    if parts:
        return [p for p in parts if p.strip()]
    return [p.strip() for p in text.split(" / ") if p.strip()]


def is_label(part: str) -> bool:
    """An ALL-CAPS short part of a block (``EDITOR``, ``REVENUE:``, ``Q3 RESULTS``)."""
    letters = [c for c in part if c.isalpha()]
    return bool(letters) and _LABEL.match(part.strip()) is not None and len(part.split()) <= 4


def _stem_match(word: str, text: str) -> bool:
    """Whether a question word, or one of its family (edited ~ EDITOR), appears in ``text``."""
    return has_related(word, set(content_words(text)))


def labelled_values(q: Question, parts: Sequence[str]) -> list[tuple[str, float]]:
    """Values that follow a label the question names, with how well the label matches.

    ``EDITOR / Ana Lima`` for "who edited the film?" gives ``[("Ana Lima", 1.0)]``; a ``Label: value``
    part gives its value too.
    """
    words = [w for w in q.words if len(w) >= 3]
    out: list[tuple[str, float]] = []
    for i, part in enumerate(parts):
        label, value = part, None
        # "Label: value", but not the colon of a clock time ("OXFORD 11:05" has no label "OXFORD 11")
        m = re.match(r"^\s*([^:]{2,40}?)(?:(?<!\d):|:(?!\d))\s*(\S.*)$", part)
        if m:
            label, value = m.group(1), m.group(2)
        elif i + 1 < len(parts) and (is_label(part) or len(part.split()) <= 3):
            value = parts[i + 1]
        if value is None or not words:
            continue
        match = sum(1 for w in words if _stem_match(w, label)) / len(words)
        if match > 0:
            out.append((value.strip(), match + (0.5 if is_label(label) else 0.0)))
    return sorted(out, key=lambda x: -x[1])


_SCORE_PAIR = re.compile(r"(?<![\d.:/-])(\d{1,3})\s?(?:-|–|:|to)\s?(\d{1,3})(?![\d.:/]|-\d)")
_PHONE_DIGITS = 7
"""Digits a number to call has at least (a local number; extensions are asked as "extension")."""


def form_spans(q: Question, text: str) -> list[Span]:
    """The answers in ``text`` of the fixed form a score or phone question asks for (see
    :attr:`Question.form`): a result ``3-2`` ("SHARKS 3 - 2 OWLS"), a phone number of at least
    seven digits ("555 -0192" read out digit by digit comes back grouped). ``[]`` for other questions."""
    if q.form == "score":
        norm = normalize_numbers(text)
        # "15:00" is a clock time, "2:1" a score
        return [Span(f"{m.group(1)}-{m.group(2)}", 3.0) for m in _SCORE_PAIR.finditer(norm)
                if not re.search(r"\d:\d\d$", m.group(0))]
    if q.form == "phone":
        return [s for s in numbers_in(q, text) if len(re.sub(r"\D", "", s.text)) >= _PHONE_DIGITS]
    return []


def numbers_in(q: Question, text: str) -> list[Span]:
    """Numbers of ``text`` that the question does not contain, nearest to the question's words first.

    Each question word found in the text pulls the numbers near it, a rare word (said once) more
    than a repeated one, and a number right after it most ("account number is 5517").
    """
    if _CODE_QUESTION.search(q.text):
        # Digits read one by one come back as "551 -7" or "555-0192": one code, not two numbers.
        text = _DIGIT_GROUPS.sub(lambda m: re.sub(r"[\s-]+", "", m.group(0)), normalize_numbers(text))
    norm = normalize_numbers(text)
    asked = number_values(q.text)
    mentions = [m for m in number_mentions(text) if m.value not in asked]
    if not mentions:
        return []
    qwords = set(q.words)
    hits: list[tuple[int, str]] = []
    for w in re.finditer(r"[^\W\d_]+", norm):
        cw = content_words(w.group(0))
        if cw and cw[0] in qwords:
            hits.append((w.end(), cw[0]))
    counts: dict[str, int] = {}
    for _, word in hits:
        counts[word] = counts.get(word, 0) + 1
    starts = {pos - len(word): word for pos, word in hits}  # where each question word begins
    count_q = q.answer_type == "count"
    year_q = bool(re.search(r"\byear\b", q.text, re.IGNORECASE))
    percent_q = bool(re.search(r"\bhow full\b|\bpercent|\bshare\b|\bmargin\b|\brate\b", q.text, re.IGNORECASE))
    clock_q = bool(_CLOCK_QUESTION.search(q.text))
    spans = []
    for m in mentions:
        pull = 0.0
        for pos, word in hits:
            d = m.span[0] - pos
            weight = 1.0 / counts[word]
            pull = max(pull, weight * ((1.5 if 0 <= d <= 40 else 1.0) / (1.0 + abs(d) / 20.0)))
        if count_q and any(0 < b - m.span[1] <= 12 for b in starts):
            pull += 1.0  # "3 failed", "three islands": the count stands before the counted noun
        if percent_q and norm[m.span[1]:m.span[1] + 1] == "%":
            pull += 1.0
        if year_q:
            pull += 1.0 if re.fullmatch(r"1[5-9]\d\d|20\d\d", m.digits) else -0.5
        unit = _unit_after(norm, m.span[1])
        shown = m.digits if re.search(r"[: -]", m.digits) else format_number(m.value)
        if clock_q:
            shown = _clock(m.digits, m.value)
        currency = norm[m.span[0] - 1] if m.span[0] > 0 and norm[m.span[0] - 1] in "$€£" else ""
        if (unit or currency) and q.measure:
            pull += 0.3  # "how long" wants "20 minutes", "how much" wants "$149"
            wanted = _measure_class(q.text)
            if wanted and unit and _UNIT_CLASS.get(unit.strip().lower()) == wanted:
                pull += 0.7  # ... and a duration for "how long", not "5 g"
        spans.append(Span(f"{currency}{shown}{unit}", pull))
    return sorted(spans, key=lambda s: -s.score)


_CLOCK_QUESTION = re.compile(r"\b(?:what|which) time\b|\bat what time\b|\bwhen (?:does|do|will|is|did) .*\b(?:open|close|"
                             r"start|end|begin|finish|leave|arrive|depart)s?\b", re.IGNORECASE)


def _clock(digits: str, value: float) -> str:
    """``1130`` -> ``11:30`` for a question about a time of day (``9:30`` stays)."""
    if ":" in digits or not float(value).is_integer():
        return digits
    v = int(value)
    if 100 <= v <= 2359 and v % 100 < 60:
        return f"{v // 100}:{v % 100:02d}"
    return str(v)


_CODE_QUESTION = re.compile(r"\b(?:account|pin|code|extension|phone|telephone|id|digits?|password|reference|"
                            r"serial|(?:call|dial|ring)(?:ed)? (?:back|us)?|number (?:to|should|do))\b", re.IGNORECASE)
_DIGIT_GROUPS = re.compile(r"(?<![\d.])\d+(?:\s?-\s?\d+|\s\d+)+(?!\d|\.\d)")

_UNITS_AFTER = re.compile(r"^\s*(%|°\s*[CF]?|(?:degrees(?: [A-Z][a-z]+)?|percent|million|billion|thousand|dollars|"
                          r"euros|pounds|minutes|seconds|hours|days|weeks|months|years|km|kilometers|kilometres|"
                          r"miles|kg|kilograms|grams|g|meters|metres|m|liters|litres|ml|GB|MB|TB)\b)")


_UNIT_CLASS = {
    **{u: "time" for u in ("minutes", "seconds", "hours", "days", "weeks", "months", "years")},
    **{u: "distance" for u in ("km", "kilometers", "kilometres", "miles", "meters", "metres", "m")},
    **{u: "mass" for u in ("kg", "kilograms", "grams", "g")},
    **{u: "money" for u in ("dollars", "euros", "pounds")},
}


def _measure_class(question: str) -> str | None:
    q = question.lower()
    if re.search(r"\bhow long\b|\bduration\b|\bhow many (?:minutes|hours|seconds|days)\b", q):
        return "time"
    if re.search(r"\bhow far\b|\bdistance\b", q):
        return "distance"
    if re.search(r"\bhow heavy\b|\bweigh|\bgrams?\b|\bkilos?\b", q):
        return "mass"
    if re.search(r"\bcost\b|\bprice\b|\bhow much (?:is|does|do|are)\b|\bfee\b", q):
        return "money"
    return None


def _unit_after(text: str, end: int) -> str:
    m = _UNITS_AFTER.match(text[end:])
    if not m:
        return ""
    u = m.group(1)
    return u if u.startswith(("%", "°")) else " " + u


_MONTHS = ("January|February|March|April|May|June|July|August|September|October|November|December|"
           "Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec")
_WEEKDAYS = "Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday"
_DATE = re.compile(rf"\b(?:(?:{_MONTHS})\.?\s+\d{{1,2}}(?:st|nd|rd|th)?(?:,?\s+\d{{4}})?|\d{{1,2}}(?:st|nd|rd|th)?\s+"
                   rf"(?:of\s+)?(?:{_MONTHS})\b(?:\s+\d{{4}})?|(?:{_WEEKDAYS})\b|(?:tomorrow|today|tonight|yesterday)\b)",
                   re.IGNORECASE)


def dates_in(text: str) -> list[Span]:
    """Dates and days (``March 14th``, ``3 June``, ``Tuesday``), full dates first."""
    norm = normalize_numbers(text)
    spans = [Span(re.sub(r"(\d)(?:st|nd|rd|th)\b", r"\1", m.group(0)), 1.0 + (1.0 if re.search(r"\d", m.group(0)) else 0.0))
             for m in _DATE.finditer(norm)]
    return sorted(spans, key=lambda s: -s.score)


_NOT_NAME = frozenset(
    ["and", "but", "or", "so", "the", "a", "an", "i", "i'm", "im", "hi", "hello", "hey", "well", "yes", "no", "my", "our", "your", "his", "her", "their", "this", "that", "these", "those", "welcome", "thanks", "thank", "please", "today", "tomorrow", "yesterday", "now", "then", "here", "there", "it", "it's", "its", "we", "you", "he", "she", "they", "mr", "mrs", "ms", "dr", "episode", "chapter", "part", "step", "page", "slide"])


def _trim_name(words: list[str]) -> list[str]:
    while words and words[0].lower().strip(".,'’") in _NOT_NAME:
        words = words[1:]
    while words and words[-1].lower().strip(".,'’") in _NOT_NAME:
        words = words[:-1]
    return words


def names_in(q: Question, text: str) -> list[Span]:
    """Capitalized word sequences that are neither question words nor labels, best first: longer
    names, and names near the question's own words ("originally from Chicago" for "... from?")."""
    qwords = set(q.words)
    anchors = [m.end() for m in re.finditer(r"[^\W\d_]+", text) if (content_words(m.group(0)) or [""])[0] in qwords]
    spans = []
    for m in _NAME.finditer(text):
        words = _trim_name(m.group(0).split())
        name = " ".join(words)
        cw = content_words(name)
        if not words or not cw or all(w in qwords or w in STOPWORDS for w in cw) or is_label(name):
            continue
        start = m.start() + m.group(0).find(words[0])
        first = start == 0 or text[max(0, start - 2):start].strip() in (".", "!", "?", "/")
        single = len(words) == 1
        near = max((1.0 / (1.0 + abs(start - a) / 15.0) for a in anchors), default=0.0)
        score = min(len(words), 3) + near + (-0.8 if first and single else 0.0)
        spans.append(Span(name, score))
    return sorted(spans, key=lambda s: -s.score)


def urls_in(text: str) -> list[Span]:
    return [Span(m.group(0).rstrip(".,;"), 1.0) for m in URL.finditer(text)]


def commands_in(parts: Sequence[str], q: Question | None = None) -> list[Span]:
    """Terminal commands of a block's lines: after a prompt first, then lines starting with a
    command; the ones sharing words with the question first ("which command ran the tests?")."""
    qwords = set(q.words) if q is not None else set()
    out = []
    for p in parts:
        m = _PROMPT.match(p)
        cmd, base = (m.group("cmd").strip(), 2.0) if m else (p.strip(), 1.0)
        if not m and not (p.split() and p.split()[0].lower() in COMMANDS):
            continue
        words = set(content_words(cmd))
        bonus = sum(1 for w in qwords if any(w[:4] == x[:4] for x in words if len(w) >= 4 and len(x) >= 4))
        out.append(Span(cmd, base + bonus))
    return sorted(out, key=lambda s: -s.score)


def answer_spans(q: Question, text: str, parts: Sequence[str] = (), kind: str = "") -> list[Span]:
    """Candidate answers of ``q``'s type in one unit, best first (``[]`` when the unit has none)."""
    ps = parts_of(text, parts) if kind == "ocr" or " / " in text else [text]
    labelled = labelled_values(q, ps) if len(ps) > 1 else []
    t = q.answer_type
    if t == "date":
        for value, match in labelled:
            dates = dates_in(value)
            if dates:
                return [Span(dates[0].text, 2.0 + match)]
        return dates_in(text)
    if t == "number" and q.form:
        formed = form_spans(q, text)
        if formed:
            return formed
    if t in ("number", "count"):
        for value, match in labelled:
            nums = numbers_in(q, value)
            if nums:
                return [Span(nums[0].text, 2.0 + match)] + nums[1:]
        return numbers_in(q, text)
    if t == "name":
        for value, match in labelled:
            names = names_in(q, value)
            if names:
                return [Span(value if len(value.split()) <= 6 else names[0].text, 2.0 + match)]
        return names_in(q, text)
    if t == "url":
        return urls_in(text)
    if t == "command":
        return commands_in(ps, q)
    if labelled and kind == "ocr":
        return [Span(v, 1.0 + m) for v, m in labelled]
    return []


def has_answer_type(q: Question, text: str, parts: Sequence[str] = (), kind: str = "") -> bool:
    """Whether the unit holds something of the question's answer type (``True`` for untyped questions)."""
    if q.answer_type in ("number", "count", "name", "url", "command", "date"):
        return bool(answer_spans(q, text, parts, kind))
    return True
