"""Answers from the object detector's lines: "how many people …?" and "when does the car appear?".

The ``objects`` extractor writes ``objects: 3 people, 1 car; appears: car; disappears: dog``
(kind ``visual``). A counting question names a thing ("people", "cars"); its answer is the count
of that COCO class in the best-ranked window that saw it, with the window's timecode. An
appearance question ("when does the dog appear / first show up?") is answered by the earliest
``appears:`` line of that class in the video; "disappear / leave" by the latest ``disappears:``.
Where the detector looked at a whole video (or segment) and never saw a class, its "nothing seen"
line (``objects: no person, car seen in 0.0-60.0 s (34 frames)``) answers "how many people …?" with
0 and "is there a car …?" with no, unless another line of that video counts the class.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence

from vqa_pipeline.answer.pack import PackedLine
from vqa_pipeline.answer.question import Question
from vqa_pipeline.evidence import is_nothing_seen, parse_nothing_seen

_OBJECTS = re.compile(r"^objects:\s*(?P<list>[^;]*)")
_ITEM = re.compile(r"^(?P<n>\d+)\s+(?P<what>.+)$")
_HOW_MANY = re.compile(r"\bhow many\s+(?P<what>[a-z][a-z ]*?)(?:\s+(?:are|is|were|was|do|does|did|can|could|appear|"
                       r"show|in|on|at|of|there|walk|ride|stand|sit|visible|seen)\b|[?.!,]|$)", re.IGNORECASE)
_APPEAR = re.compile(r"\b(?:appears?|show(?:s)? up|first (?:seen|visible|shown)|comes? (?:in|into view)|enters?|"
                     r"arrives?)\b", re.IGNORECASE)
_DISAPPEAR = re.compile(r"\b(?:disappears?|leaves?|gone|vanish(?:es)?|last (?:seen|visible)|goes? away)\b", re.IGNORECASE)
# "is there a car …?", "are there any people …?", "does a dog appear …?", "is a bicycle visible …?"
_PRESENCE = re.compile(r"^\s*(?:is|are|was|were)\s+there\b|^\s*(?:is|are|was|were|does|do|did|can|could)\b.*\b(?:"
                       r"appears?|show(?:s)? up|visible|seen|see|in (?:the )?(?:frame|shot|picture))\b", re.IGNORECASE)
_NOT = re.compile(r"\b(?:not|no|never|without)\b|n't\b", re.IGNORECASE)
_WHEN = re.compile(r"^\s*(?:when|at what (?:time|point|moment))\b", re.IGNORECASE)

SYNONYMS = {
    "person": ("people", "person", "persons", "man", "men", "woman", "women", "child", "children", "kid", "kids",
               "pedestrian", "pedestrians", "human", "humans", "someone", "anyone", "cyclist", "cyclists"),
    "car": ("car", "cars", "automobile", "automobiles", "vehicle", "vehicles"),
    "motorcycle": ("motorcycle", "motorcycles", "motorbike", "motorbikes"),
    "bicycle": ("bicycle", "bicycles", "bike", "bikes"),
    "airplane": ("airplane", "airplanes", "plane", "planes", "aircraft"),
    "tv": ("tv", "tvs", "television", "televisions", "screen", "screens", "monitor", "monitors"),
    "cell phone": ("phone", "phones", "cell phone", "cell phones", "mobile", "smartphone", "smartphones"),
    "couch": ("couch", "couches", "sofa", "sofas"),
    "dining table": ("table", "tables", "dining table", "dining tables"),
}


def is_objects_line(line: PackedLine) -> bool:
    return line.kind == "visual" and bool(_OBJECTS.match(line.text.strip()))


def asks_what_is_seen(q: Question) -> bool:
    """Whether a detector line may answer ``q``: it names visual evidence, counts things, asks
    whether a thing is there, or asks when something appears. A question that only mentions a thing the detector names ("How does the
    trailer describe the bird?", "Who wrote the book?") is about words, not about the picture."""
    if "visual" in q.kinds or (q.answer_type == "count" and asked_label(q.text)):
        return True
    if _PRESENCE.search(q.text) and named_label(q.text):  # "is there a car …?", "does a dog appear?"
        return True
    return bool(_WHEN.search(q.text) and (_APPEAR.search(q.text) or _DISAPPEAR.search(q.text)))


def parse_objects(text: str) -> dict[str, int]:
    """``{label: count}`` of an objects line (``{}`` for any other line)."""
    m = _OBJECTS.match(text.strip())
    if not m or m.group("list").strip() in ("", "none") or is_nothing_seen(text):
        return {}
    out: dict[str, int] = {}
    for item in m.group("list").split(","):
        im = _ITEM.match(item.strip())
        if im:
            out[_singular(im.group("what"))] = int(im.group("n"))
        elif item.strip():
            out[_singular(item.strip())] = 1
    return out


def _singular(word: str) -> str:
    word = word.strip().lower()
    for label, names in SYNONYMS.items():
        if word in names:
            return label
    if word.endswith("ies"):
        return word[:-3] + "y"
    if word.endswith(("ches", "shes", "sses", "xes")):
        return word[:-2]
    if word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


def asked_label(question: str) -> str:
    """The COCO label a counting question asks about ("how many people …" -> ``person``), or ""."""
    m = _HOW_MANY.search(question)
    if not m:
        return ""
    words = m.group("what").lower().split()
    # "how many cell phones", "how many red cars": the first (two-word, then one-word) COCO name
    for i in range(len(words)):
        for k in (2, 1):
            label = _singular(" ".join(words[i:i + k]))
            if len(words[i:i + k]) == k and (label in SYNONYMS or _is_coco(label)):
                return label
    return ""


def named_label(question: str) -> str:
    """A COCO label named anywhere in the question ("when does the car appear?" -> ``car``)."""
    words = re.findall(r"[a-z]+", question.lower())
    for a, b in zip(words, [*words[1:], ""], strict=True):
        for cand in (f"{a} {b}", a):
            label = _singular(cand)
            if label in SYNONYMS or (cand == a and _is_coco(label)):
                return label
    return ""


def _is_coco(label: str) -> bool:
    from vqa_pipeline.models.nanodet import COCO80

    return label in COCO80


_PLAIN_WORDS = (
    "how many are is were was there in on the a an of video clip recording film picture frame shot scene screen "
    "image you we can could see seen visible shown show appear appears appearing total altogether at once same "
    "time moment point street road room this that"
)
_PLAIN = frozenset(_PLAIN_WORDS.split())


def is_plain_count(question: str) -> bool:
    """A counting question about what is seen and nothing else ("how many people are visible?"),
    which the detector's count answers directly; "how many people attended the inauguration?" asks
    about something the picture cannot show, and goes through the usual ranking and abstention."""
    label = asked_label(question)
    if not label:
        return False
    words = re.findall(r"[a-z]+", question.lower())
    rest = [w for w in words if w not in _PLAIN and _singular(w) != label and w not in label.split()]
    return not rest


def count_answer(question: str, ranked: Sequence[PackedLine], top_n: int = 10) -> tuple[str, PackedLine] | None:
    """``("3 people", line)`` from the best-ranked objects line counting the asked thing, else None."""
    label = asked_label(question)
    if not label:
        return None
    for line in ranked[:top_n]:
        n = parse_objects(line.text).get(label)
        if n:
            from vqa_pipeline.extractors.objects import plural

            return f"{n} {plural(label, n)}", line
    return None


def detector_says_present(question: str, text: str) -> bool:
    """Whether the detector line ``text`` answers the yes/no presence question ``question`` with a yes:
    the question asks whether a thing is there or seen ("is there a car …?", "does a dog appear?"),
    not negated, and the line counts that thing. Word overlap cannot see that ``objects: 1 car``
    answers "is there a car in the street video?" (the video's words are not in the line). A line
    that does not count the thing says nothing either way: the detector looks at sparse keyframes."""
    if not _PRESENCE.search(question) or _NOT.search(question):
        return False
    label = named_label(question)
    return bool(label) and parse_objects(text).get(label, 0) > 0


def appearance_answer(question: str, lines: Sequence[PackedLine]) -> tuple[str, PackedLine] | None:
    """``("car appears", line)``: the window where the named class first appears (or, for
    "disappear", last disappears), from ``lines`` of one video; None when no line says so."""
    if not _WHEN.search(question):
        return None
    gone = bool(_DISAPPEAR.search(question))
    if not gone and not _APPEAR.search(question):
        return None
    label = named_label(question)
    if not label:
        return None
    key = "disappears" if gone else "appears"
    hits = []
    for ln in lines:
        for part in ln.text.split(";"):
            name, _, rest = part.strip().partition(":")
            if name == key and label in {_singular(x) for x in rest.split(",")}:
                hits.append(ln)
    if not hits:
        return None
    hits.sort(key=lambda ln: ln.start_s)
    return f"{label} {key}", hits[-1] if gone else hits[0]


def not_seen(text: str) -> set[str]:
    """The classes a "nothing seen" line says the detector never saw (``set()`` for other lines)."""
    found = parse_nothing_seen(text)
    return found[0] if found else set()


def absence_answer(question: str, lines: Sequence[PackedLine]) -> tuple[str, PackedLine] | None:
    """``("0 people", line)`` for "how many people …?" or ``("No", line)`` for a not-negated "is
    there a car …?", from the "nothing seen" line in ``lines`` naming that class, when no line of
    that video counts it; else None. Only the detector's own claim is used: a video it never
    looked at (no video track, not indexed with it) has no such line and gets no answer here.
    The line returned spans what its text claims (the line itself sits in one window)."""
    counting = bool(asked_label(question))
    if counting:
        label = asked_label(question)
    elif _PRESENCE.search(question) and not _NOT.search(question):
        label = named_label(question)
    else:
        return None
    if not label:
        return None
    for ln in lines:
        if ln.kind == "visual" and label in not_seen(ln.text):
            if any(o.video_id == ln.video_id and parse_objects(o.text).get(label) for o in lines):
                continue
            found = parse_nothing_seen(ln.text)
            assert found is not None  # not_seen() matched it
            claimed = dataclasses.replace(ln, start_s=found[1], end_s=found[2])
            if counting:
                from vqa_pipeline.extractors.objects import plural

                return f"0 {plural(label, 0)}", claimed
            return "No", claimed
    return None


def asks_about_presence(question: str) -> bool:
    """A not-negated "is there a car …?" / "does a dog appear …?" naming a detector class."""
    return bool(_PRESENCE.search(question)) and not _NOT.search(question) and bool(named_label(question))
