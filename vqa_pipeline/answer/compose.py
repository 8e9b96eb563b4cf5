"""Composing the extractive answer from ranked units: the words of the question's type, yes or no,
the unit after an "after X" anchor, the n-th unit for "first / last", and whether a unit supports
the answer at all."""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from vqa_pipeline.answer.citations import content_words, has_related, strip_timecodes
from vqa_pipeline.answer.counting import (
    absence_answer,
    appearance_answer,
    asks_about_presence,
    count_answer,
    detector_says_present,
    is_plain_count,
)
from vqa_pipeline.answer.numbers import number_values
from vqa_pipeline.answer.pack import PackedLine, format_timecode
from vqa_pipeline.answer.prompt import looks_like_instruction
from vqa_pipeline.answer.question import Question
from vqa_pipeline.answer.spans import answer_spans, form_spans, is_label, parts_of
from vqa_pipeline.answer.units import ScoredUnit
from vqa_pipeline.evidence import clean_text, kind_word

SPAN_WEIGHT = 0.25
"""How much a span's own fit (label match, nearness to the question's words) counts against the
re-ranker's order when picking the unit a typed answer comes from."""

Context = Callable[..., Sequence[PackedLine]]
"""``context(unit, whole=False)``: units of the unit's video around it (or all of them)."""

_NEGATION = re.compile(r"\b(?:not|no|never|none|nobody|nothing|neither|nor|without|cannot)\b|n't\b", re.IGNORECASE)
_ANY_EVENT = re.compile(r"\bwhat (?:happens|happened|comes|came|follows|followed)\b", re.IGNORECASE)
_NON_EVENT = re.compile(r"^(?:silence|dominant colou?rs?\b.*|no speech)$", re.IGNORECASE)
_FILLER = frozenset(content_words(
    "do done did make made give given take took show shown see seen say said film movie video clip person people "
    "thing things one someone something part work worked"))
_AUX = frozenset(["is", "are", "was", "were", "do", "does", "did", "can", "could", "will", "would", "should", "has", "have", "had", "am", "be"])



def _at(ln: PackedLine) -> str:
    return format_timecode(ln.start_s, ln.end_s)


def is_echo(answer: str, q: Question, labels: Sequence[str] = ()) -> bool:
    """Whether an answer says nothing beyond the question's own words and the evidence's labels."""
    words = set(content_words(strip_timecodes(answer)))
    label_words = {w for lab in labels for w in content_words(lab)}
    extra = words - set(q.words) - label_words - _FILLER
    nums = number_values(strip_timecodes(answer)) - number_values(q.text)
    return not extra and not nums


def labels_of(lines: Sequence[PackedLine]) -> list[str]:
    return [p for ln in lines for p in parts_of(ln.text, ln.parts) if is_label(p)]


def yes_or_no(q: Question, line: PackedLine) -> str:
    """``Yes`` when the unit states the question's proposition, else ``No``.

    Every name and number of the question must be in the unit, most of its other words too, and
    both must be negated alike ("open on Sundays" vs "closed on Sundays" is a no).
    """
    text = line.text
    if detector_says_present(q.text, text):  # "objects: 1 car" says yes to "is there a car …?"
        return "Yes"
    unit_words = set(content_words(text))
    words = [w for w in q.words if w not in _AUX]
    if not words:
        return "No"
    key = [w for w in content_words(" ".join(re.findall(r"\b[A-Z][a-z]+\b|\d+(?:\.\d+)?", q.text.split(" ", 1)[-1])))]
    if any(w not in unit_words for w in key):
        return "No"
    q_nums, u_nums = number_values(q.text), number_values(text)
    if q_nums and not q_nums <= u_nums:
        return "No"
    coverage = sum(1 for w in words if w in unit_words) / len(words)
    same_polarity = len(_NEGATION.findall(q.text)) % 2 == len(_NEGATION.findall(text)) % 2
    return "Yes" if coverage >= 0.75 and same_polarity else "No"


def _yes_no_support(q: Question, usable: Sequence[ScoredUnit], top_n: int = 5) -> ScoredUnit:
    """The unit a yes/no question is about: among the best units, the one holding most of the
    question's words other than names (names mostly say which recording: "the Kestrel Museum")."""
    head = usable[:top_n]
    for s in head:  # a detector line counting the asked thing answers "is there a car …?" outright
        if detector_says_present(q.text, s.line.text):
            return s
    names = set(content_words(" ".join(re.findall(r"\b[A-Z][\w'’]*", q.text.split(" ", 1)[-1]))))
    key = [w for w in q.words if w not in _AUX and w not in names] or [w for w in q.words if w not in _AUX]

    def cover(s: ScoredUnit) -> int:
        have = set(content_words(s.line.text))
        return sum(1 for w in key if has_related(w, have))

    return max(head, key=lambda s: (cover(s), s.score))


def _anchor_unit(q: Question, ranked: Sequence[ScoredUnit], top_n: int = 15) -> ScoredUnit | None:
    """The candidate that best matches the "after X" phrase: the words of X first, then the rest of
    the question's words (which name the video: "what did Diane hear before ..."), then the re-ranker."""
    anchor_words = set(content_words(q.anchor)) or set(q.words)
    other = set(q.words) - anchor_words
    best, best_key = None, None
    for s in ranked[:top_n]:
        if s.flagged:
            continue
        have = set(content_words(s.line.text)) | set(content_words(kind_word(s.line.kind)))
        overlap = len(anchor_words & have) / max(len(anchor_words), 1) + 0.5 * len(other & have) / max(len(other), 1)
        key = (round(overlap, 3), s.score)
        if best_key is None or key > best_key:
            best, best_key = s, key
    return best


def _nth_unit(q: Question, top: PackedLine, pool: Sequence[PackedLine]) -> PackedLine | None:
    """For "first / second / last ..." questions: that unit, in time order, of the best unit's video
    and kind (or the kinds the question names); units that only restate the question are skipped."""
    has_speech = any(ln.video_id == top.video_id and ln.kind == "asr" for ln in pool)
    kinds = set(q.kinds) or ({"asr"} if has_speech else {top.kind})
    qwords = set(q.words)
    units = sorted({(ln.start_s, ln.end_s, ln.text): ln for ln in pool
                    if ln.video_id == top.video_id and ln.kind in kinds and not looks_like_instruction(ln.text)
                    and not _NON_EVENT.match(clean_text(ln.kind, ln.text))}.values(), key=lambda ln: (ln.start_s, ln.end_s))
    units = [ln for ln in units if set(content_words(ln.text)) - qwords]
    if not units:
        return None
    index = {"first": 0, "second": 1, "third": 2, "last": -1, "final": -1}.get(q.ordinal)
    if index is None or (index >= 0 and index >= len(units)):
        return None
    return units[index]


def _next_unit(q: Question, anchor: PackedLine, later: Sequence[PackedLine]) -> PackedLine | None:
    """The first unit after (or, for ``previous``, before) the anchor, preferring the kinds asked for."""
    if q.answer_type == "next":
        pool = [ln for ln in later if ln.start_s >= anchor.end_s - 0.3 and ln.text != anchor.text]
        pool.sort(key=lambda ln: (ln.start_s, ln.end_s))
    else:
        pool = [ln for ln in later if ln.end_s <= anchor.start_s + 0.3 and ln.text != anchor.text]
        pool.sort(key=lambda ln: (-ln.end_s, -ln.start_s))
    pool = [ln for ln in pool if not looks_like_instruction(ln.text) and not _NON_EVENT.match(clean_text(ln.kind, ln.text))]
    # the kinds the question names; for "what happens next" any event; else the anchor's own kind
    # ("which card was called after the seven of clubs")
    if q.kinds:
        kinds = set(q.kinds)
    elif _ANY_EVENT.search(q.text):
        kinds = {"asr", "audio", "ocr"}
    else:
        kinds = {anchor.kind}
    wanted: list[PackedLine | None] = [ln for ln in pool if ln.kind in kinds]
    return (wanted or pool or [None])[0]


def _named_part(q: Question, line: PackedLine) -> str | None:
    """In an on-screen block, the one line that holds the question's words and more (``Chapter 1``
    of ``Sense and Sensibility / Chapter 1 / Jane Austen`` for "which chapter ...?")."""
    parts = parts_of(line.text, line.parts) if line.kind == "ocr" else []
    if len(parts) < 2:
        return None
    qwords = set(q.words)
    scored = []
    for p in parts:
        have = set(content_words(p))
        hit = len(have & qwords)
        if hit and have - qwords:
            scored.append((hit, -len(p), p))
    return max(scored)[2] if scored else None


@dataclass(frozen=True, slots=True)
class Composed:
    text: str
    cited: tuple[PackedLine, ...]
    typed: bool  # an answer of the question's type was found (not just the best unit quoted)
    supported: bool = True  # the unit it came from holds one of the question's own words


_GENERIC = frozenset(content_words(
    "name named many much number amount time people person thing things kind type called call happen happens "
    "video clip recording film day year"))


def supports(q: Question, line: PackedLine) -> bool:
    """Whether a unit holds at least one of the question's words besides names, numbers and generic
    words (stems count: "edited" ~ "EDITOR"). An answer of the right type from a unit that shares
    only a name with the question ("How many people attended the 1961 inauguration?" -> a date
    card saying 1961) is not evidence for it."""
    names = set(content_words(" ".join(re.findall(r"\b[A-Z][\w'’]*", q.text.split(" ", 1)[-1]))))
    key = [w for w in q.words if w not in names and w not in _GENERIC and w not in _AUX and not w[0].isdigit()]
    have = set(content_words(clean_text(line.kind, line.text)))
    if not key or len(names & have) >= 1:  # "... calling from New Jersey?" -> "This is Diane in New Jersey."
        return True
    return any(has_related(w, have) for w in key)


def sound_key(word: str) -> str:
    """A rough sound-alike key: consonant skeleton with common English spellings merged
    ("Quay Lane" and ASR's "Kilein" -> ``kln``; "Callum" and "Kalim" -> ``klm``)."""
    w = word.casefold()
    for a, b in (("ph", "f"), ("ck", "k"), ("qu", "k"), ("q", "k"), ("ch", "x"), ("sh", "x"), ("gh", ""),
                 ("c", "k"), ("z", "s")):
        w = w.replace(a, b)
    w = re.sub(r"[aeiouhwy\W\d_]", "", w)
    return re.sub(r"(.)\1+", r"\1", w)


def _close(name: str, word: str) -> bool:
    """A spelling slip: similar length and difflib ratio >= 0.8 (cheap bounds first)."""
    if len(name) < 4 or abs(len(name) - len(word)) > len(name) // 4 + 1:
        return False
    m = difflib.SequenceMatcher(None, name, word)
    return m.real_quick_ratio() >= 0.8 and m.quick_ratio() >= 0.8 and m.ratio() >= 0.8


def missing_names(q: Question, lines: Sequence[PackedLine]) -> tuple[str, ...]:
    """The question's proper names when none of them appears in any candidate unit (spelling slips
    and sound-alikes allowed: ASR writes "Bright water", "Kestral" or "Kilein" for "Quay Lane"),
    else ``()``. "When does the train to Manchester leave?" over announcements about Brighton and
    Oxford is not answered by them."""
    if not q.names:
        return ()
    words: set[str] = set()
    for ln in lines:
        seq = re.findall(r"[^\W\d_]+", clean_text(ln.kind, ln.text).casefold())
        words.update(seq)
        words.update(a + b for a, b in zip(seq, seq[1:]))
    names = [n.casefold() for n in q.names]
    names += [a + b for a, b in zip(names, names[1:])]  # "Quay Lane" as "quaylane" too
    keys = {sound_key(w) for w in words}
    for name in names:
        if name in words or (len(sound_key(name)) >= 3 and sound_key(name) in keys):
            return ()
        if any(_close(name, w) for w in words):
            return ()
    return q.names


def video_pool(top: PackedLine, usable: Sequence[ScoredUnit], following: Context | None) -> list[PackedLine]:
    """Every unit of the best unit's video: the whole video's when ``following`` can fetch them."""
    pool = list(following(top, whole=True)) if following is not None else []
    return pool + [s.line for s in usable if s.line.video_id == top.video_id]


def absence_of(q: Question, usable: Sequence[ScoredUnit], following: Context | None,
               top_n: int = 5) -> tuple[str, PackedLine] | None:
    """``("0 people", line)`` / ``("No", line)`` from the detector's "nothing seen" line
    (:func:`~vqa_pipeline.answer.counting.absence_answer`), checked against every unit of its
    video; None otherwise. The line must be among the best units (the ranker found it relevant),
    or the question is about nothing but what is seen (a plain "how many people are there?", "is
    there a car …?"): then the best unit's video's line is used. "How many people attended the
    inauguration?" is not answered 0 from a picture with nobody in it."""
    if q.answer_type not in ("count", "yes_no") or not usable:
        return None
    found = absence_answer(q.text, [s.line for s in usable[:top_n]])
    if found is None and (is_plain_count(q.text) or asks_about_presence(q.text)):
        found = absence_answer(q.text, video_pool(usable[0].line, usable, following))
    if found is None:
        return None
    video = found[1].video_id
    top = next(s.line for s in usable if s.line.video_id == video) if any(
        s.line.video_id == video for s in usable) else found[1]
    return absence_answer(q.text, [found[1], *video_pool(top, usable, following)])


def _by_position(q: Question, usable: Sequence[ScoredUnit], top_n: int = 5) -> list[ScoredUnit]:
    """For "at the start / at the end" questions: among the good units of the best unit's video,
    the earliest (latest) one first."""
    head = usable[0]
    pool = [s for s in usable[:top_n] if s.line.video_id == head.line.video_id and s.score >= 0.5 * head.score]
    key = (lambda s: (s.line.start_s, -s.score)) if q.position == "start" else (lambda s: (-s.line.end_s, -s.score))
    first = min(pool, key=key)
    return [first, *(s for s in usable if s is not first)]


def answer_order(q: Question, ranked: Sequence[ScoredUnit]) -> list[ScoredUnit]:
    """The units an answer is composed from, in order: the unflagged ones; for "at the start / at the
    end" questions the earliest (latest) good unit of the best unit's video first."""
    usable = [s for s in ranked if not s.flagged]
    return _by_position(q, usable) if q.position and usable else usable


def compose(q: Question, usable: Sequence[ScoredUnit], following: Context | None = None,
            absence: tuple[str, PackedLine] | None = None,
            colour: tuple[str, PackedLine] | None = None) -> Composed:
    """The extractive answer: the words of the question's type from the best units.

    ``usable`` are :func:`answer_order`'s units. ``absence`` (:func:`absence_of`) and ``colour``
    (:func:`~vqa_pipeline.answer.colours.colour_answer`) are those units' answers, computed once by
    the caller (they decide which lines stay usable and whether to abstain, too); ``None``: the
    detector's absence line, or a box's colours, do not answer this question."""
    top = usable[0]
    if q.answer_type in ("next", "previous"):
        anchor = _anchor_unit(q, usable)
        if anchor is not None:
            later = list(following(anchor.line)) if following is not None else []
            later += [s.line for s in usable if s.line.video_id == anchor.line.video_id]
            nxt = _next_unit(q, anchor.line, later)
            if nxt is not None:
                return Composed(f"{clean_text(nxt.kind, nxt.text)} {_at(nxt)}", (nxt,), True)
    if q.answer_type == "count":  # "how many people ...": the detector's count in the best window
        counted = count_answer(q.text, [s.line for s in usable])
        if counted is not None:
            return Composed(f"{counted[0]} {_at(counted[1])}", (counted[1],), True)
        if absence is not None:  # the detector looked and never saw one: 0
            return Composed(f"{absence[0]} {_at(absence[1])}", (absence[1],), True)
    if colour is not None and q.answer_type == "text":  # "the man's shirt?": the colours inside the person's box
        return Composed(f"{colour[0]} {_at(colour[1])}", (colour[1],), True)
    if q.answer_type == "time":  # "when does the car appear?": the first window that saw it
        pool = list(following(top.line, whole=True)) if following is not None else []
        seen = appearance_answer(q.text, pool + [s.line for s in usable if s.line.video_id == top.line.video_id])
        if seen is not None:
            return Composed(f"{seen[0]} {_at(seen[1])}", (seen[1],), True)
    if q.answer_type == "yes_no":
        absent = None if any(detector_says_present(q.text, s.line.text) for s in usable[:5]) else absence
        if absent is not None:  # "is there a car …?" where the detector looked and never saw one
            return Composed(f"{absent[0]} {_at(absent[1])}", (absent[1],), True)
        support = _yes_no_support(q, usable)
        return Composed(f"{yes_or_no(q, support.line)} {_at(support.line)}", (support.line,), True)
    if q.ordinal and q.answer_type in ("text", "name", "number") and following is not None:
        nth = _nth_unit(q, top.line, following(top.line, whole=True))
        if nth is not None:
            spans = answer_spans(q, clean_text(nth.kind, nth.text), nth.parts, nth.kind)
            text = spans[0].text if spans and q.answer_type != "text" else clean_text(nth.kind, nth.text)
            return Composed(f"{text} {_at(nth)}", (nth,), True)
    if q.answer_type not in ("text", "time", "next", "previous"):
        # Among the well-ranked units holding an answer of the type, the best unit-and-span pair:
        # a value under the label the question names, a number next to the question's words.
        head = usable[:6]
        # a score or phone question: the units holding a value of that form, when there are any
        formed = [s for s in head if q.form and form_spans(q, clean_text(s.line.kind, s.line.text))]
        head = formed or head
        floor = 0.3 * head[0].score
        best, best_key = None, None
        for rank, s in enumerate(head):
            if s.score < floor:
                break
            spans = answer_spans(q, clean_text(s.line.kind, s.line.text), s.line.parts, s.line.kind)
            if spans:
                key = s.score / head[0].score + SPAN_WEIGHT * min(spans[0].score, 4.0) - 0.05 * rank
                if best_key is None or key > best_key:
                    best, best_key = (s.line, spans[0]), key
        if best is not None:
            # a value of the fixed form asked for ("3-2" for "the final score") is support by itself:
            # "FULL TIME / SHARKS 3 - 2 OWLS" shares no word with the question
            return Composed(f"{best[1].text} {_at(best[0])}", (best[0],), True, bool(formed) or supports(q, best[0]))
    spans = answer_spans(q, clean_text(top.line.kind, top.line.text), top.line.parts, top.line.kind)
    if spans and top.line.kind == "ocr":  # the value after the label the question names
        return Composed(f"{spans[0].text} {_at(top.line)}", (top.line,), True)
    part = _named_part(q, top.line)
    if part:
        return Composed(f"{part} {_at(top.line)}", (top.line,), False)
    return Composed(f"{clean_text(top.line.kind, top.line.text)} {_at(top.line)}", (top.line,), False)
