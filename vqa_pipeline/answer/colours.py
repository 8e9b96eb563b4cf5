"""Answers to "what colour is the man's shirt / the car?" from the colours inside the detector's boxes.

The ``objects`` extractor writes ``colours: person (clothes): red, pink; car: white`` per window
(:mod:`vqa_pipeline.extractors.box_colours`). A colour question about a person's clothes (or a
person) or about a detector class it names is answered with that class's colours from the
best-ranked such line, cited with its window. Anything else ("what colour are the clouds?", "the
rabbit's fur") is left to the usual ranking: no box stands for it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from vqa_pipeline.answer.counting import SYNONYMS, named_label
from vqa_pipeline.answer.pack import PackedLine
from vqa_pipeline.extractors.box_colours import parse_colours

_COLOUR_Q = re.compile(r"\b(?:what|which)\s+colou?rs?\b|\bcolou?rs?\s+(?:is|are|was|were|of)\b", re.IGNORECASE)
CLOTHES = frozenset((
    "shirt", "t-shirt", "tshirt", "jacket", "coat", "top", "jumper", "sweater", "hoodie", "blouse", "dress",
    "suit", "clothes", "clothing", "outfit", "uniform", "vest", "jersey", "sweatshirt", "cardigan", "polo",
))
"""What a person's torso region (the ``person (clothes)`` colours) stands for."""
PERSON_WORDS = frozenset((*SYNONYMS["person"], "lecturer", "speaker", "presenter", "host", "guy", "lady", "girl",
                          "boy", "rider", "driver", "player", "narrator", "teacher"))


def colour_label(question: str) -> str:
    """The detector class whose box colours answer a colour question (``person`` for "the
    lecturer's shirt"), or ""."""
    if not _COLOUR_Q.search(question):
        return ""
    words = [re.sub(r"['’]s$", "", w) for w in re.findall(r"[a-z]+(?:[-'’][a-z]+)*", question.lower())]
    words = [w[:-1] if w.endswith("s") and w[:-1] in CLOTHES else w for w in words]
    if any(w in CLOTHES for w in words):
        return "person"
    label = named_label(question)
    if label:
        return label
    return "person" if any(w in PERSON_WORDS for w in words) else ""


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
