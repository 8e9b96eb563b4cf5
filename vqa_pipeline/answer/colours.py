"""Answers to "what colour is the man's shirt / the car?" from the colours inside the detector's boxes.

The ``objects`` extractor writes ``colours: person (clothes): red, pink; car: white`` per window
(:mod:`vqa_pipeline.extractors.box_colours`). A colour question about a person's clothes (or a
person) or about a detector class it names is answered with that class's colours from the
best-ranked such line, cited with its window. The thing after a possessive is the one asked about
("the man's **car**" -> ``car``); a person's parts other than the torso ("the woman's hair", "his
shoes", "the man's trousers") and anything else ("what colour are the clouds?", "the rabbit's fur")
are left to the usual ranking: no box region stands for them.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from vqa_pipeline.answer.counting import SYNONYMS, named_label
from vqa_pipeline.answer.pack import PackedLine
from vqa_pipeline.extractors.box_colours import parse_colours

_COLOUR_Q = re.compile(r"\b(?:what|which)\s+colou?rs?\b|\bcolou?rs?\s+(?:is|are|was|were|of)\b", re.IGNORECASE)
CLOTHES = frozenset((
    "shirt", "t-shirt", "tshirt", "jacket", "coat", "jumper", "sweater", "hoodie", "blouse", "dress",
    "suit", "clothes", "clothing", "outfit", "uniform", "vest", "jersey", "sweatshirt", "cardigan", "polo",
))
"""What a person's torso region (the ``person (clothes)`` colours) stands for ("top" too, after a
person word: "the woman's top", not "the top of the car")."""
PERSON_PARTS = frozenset((
    "hair", "eye", "eyes", "eyebrows", "beard", "moustache", "mustache", "skin", "face", "lips", "hat", "cap",
    "helmet", "hood", "glasses", "sunglasses", "scarf", "shoe", "shoes", "boot", "boots", "sneakers", "trainers",
    "sock", "socks", "glove", "gloves", "trousers", "pants", "jeans", "shorts", "skirt", "leggings", "belt", "bag",
    "bags", "nails", "shoelaces",
))
"""A person's parts outside the torso region: no box colours answer for them."""
WEAR_WORDS = frozenset(("wear", "wears", "wearing", "wore", "worn", "dressed"))
POSSESSED_WORDS = 3
"""Words after a possessive searched for the thing it owns ("the man's old red **car**")."""
PERSON_WORDS = frozenset((*SYNONYMS["person"], "lecturer", "speaker", "presenter", "host", "guy", "lady", "girl",
                          "boy", "rider", "driver", "player", "narrator", "teacher"))


def _thing(word: str, prev: str) -> str | None:
    """``person`` for clothes, "" for a person's other parts, the detector class a word names, or
    None for a word that names none of these (an adjective, "fur")."""
    if word in PERSON_PARTS:
        return ""
    if word in CLOTHES or (word == "top" and prev in PERSON_WORDS):
        return "person"
    return named_label(word) or None


def colour_label(question: str) -> str:
    """The detector class whose box colours answer a colour question (``person`` for "the
    lecturer's shirt", ``car`` for "the man's car"), or "" (see the module doc)."""
    if not _COLOUR_Q.search(question):
        return ""
    raw = re.findall(r"[a-z]+(?:[-'’][a-z]+)*", question.lower())
    owners = [i for i, w in enumerate(raw) if re.search(r"['’]s$", w)]
    words = [re.sub(r"['’]s$", "", w) for w in raw]
    words = [w[:-1] if w.endswith("s") and w[:-1] in CLOTHES else w for w in words]
    for i in owners:  # "the man's car": the thing owned is the one asked about
        for j in range(i + 1, min(len(words), i + 1 + POSSESSED_WORDS)):
            thing = _thing(words[j], words[j - 1])
            if thing is not None:
                return thing
    if any(w in PERSON_PARTS for w in words):
        return ""
    if any(w in CLOTHES or (w == "top" and i and words[i - 1] in PERSON_WORDS) for i, w in enumerate(words)):
        return "person"
    label = named_label(question)
    if label and label != "person":  # "the top of the car": the car
        return label
    # a person alone: only what they wear ("what colour is the lecturer wearing?")
    return "person" if any(w in WEAR_WORDS for w in words) and any(w in PERSON_WORDS for w in words) else ""


def colour_answer(question: str, ranked: Sequence[PackedLine], top_n: int = 10) -> tuple[str, PackedLine] | None:
    """``("red, pink", line)`` from the best-ranked colours line naming the asked class, else None."""
    label = colour_label(question)
    if not label:
        return None
    for line in ranked[:top_n]:
        colours = parse_colours(line.text) if line.kind == "visual" else {}
        if colours.get(label):
            return ", ".join(colours[label]), line
    return None
