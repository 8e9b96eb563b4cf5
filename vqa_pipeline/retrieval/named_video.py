"""The recording a question names: "Is there a car in the bikes street video?", "the Big Buck Bunny trailer".

Unscoped, a question has to find its video among all indexed ones, and a picture question shares
few words with any evidence ("objects: 1 car" is in several videos). When the question names its
recording by words of the file name, ``ask`` answers from that recording only.

The rule (no model, no per-question list):

- a *video phrase* is a run of up to four words ending in a media word (``video``, ``trailer``,
  ``footage``, ``intro``, ``time-lapse``, ``call``, ``credits``, ...), cut at the first stopword
  before it: "in **the bikes street video**" gives ``bikes street video``; the initials of its
  capitalized words count too ("Big Buck Bunny" -> ``bbb``);
- a file name's words are its parts split at ``_ - .``, at lower-to-upper case changes and at
  digits (``psychopy_jwpIntro.mp4`` -> ``psychopy jwp intro``), plurals folded;
- the video whose file name shares the most words with the question's video phrases is the one
  named, when exactly one has the most; a tie ("the phone call" against three ``..._call`` files
  and one ``..._phone_...``) or no shared word names none, and the question searches everything.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

from vqa_pipeline.answer.citations import STOPWORDS

MEDIA_WORDS = frozenset((
    "video", "clip", "trailer", "footage", "recording", "film", "movie", "intro", "time-lapse", "timelapse",
    "call", "audiobook", "slides", "presentation", "credits", "session", "narration", "interview", "podcast",
    "lecture", "tutorial", "broadcast", "commercial", "advert", "reading",
))
"""Words that close a phrase naming a recording ("the rocket launch **video**")."""
GENERIC_NAME_WORDS = frozenset(("video", "clip", "file", "recording", "footage", "movie", "sample", "test", "final"))
"""File-name words too common to say which recording is meant."""
PHRASE_WORDS = 4
"""Words kept before the media word."""

_WORD = re.compile(r"[^\W_]+(?:[-'’][^\W_]+)*")


def _fold(word: str) -> str:
    word = re.sub(r"['’]s$", "", word.casefold())
    return word[:-1] if len(word) > 3 and word.endswith("s") and not word.endswith("ss") else word


def video_phrases(question: str) -> list[set[str]]:
    """The words of each phrase of ``question`` that names a recording (see the module doc)."""
    words = _WORD.findall(question)
    out = []
    for i, w in enumerate(words):
        base = re.sub(r"['’]s$", "", w.casefold())
        if base not in MEDIA_WORDS and _fold(base) not in MEDIA_WORDS:
            continue
        phrase = [base]
        for prev in reversed(words[max(0, i - PHRASE_WORDS):i]):
            if prev.casefold() in STOPWORDS:
                break
            phrase.insert(0, prev)
        folded = {_fold(p) for p in phrase}
        caps = [p for p in phrase[:-1] if p[:1].isupper()]
        if len(caps) >= 2:  # "Big Buck Bunny" -> bbb
            folded.add("".join(p[0] for p in caps).casefold())
        out.append(folded)
    return out


def name_words(source: str) -> set[str]:
    """The words of a file name (see the module doc), generic ones left out."""
    stem = Path(str(source)).name.rsplit(".", 1)[0]
    parts = re.split(r"[_\-.\s]+", stem)
    words: set[str] = set()
    for part in parts:
        words.add(part)
        words.update(re.findall(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+", part))
    return {_fold(w) for w in words if len(w) >= 3 and not w.isdigit()} - GENERIC_NAME_WORDS


def named_video(question: str, catalog: Mapping[str, str]) -> str | None:
    """The id of the one video of ``catalog`` (``{video_id: source}``) that ``question`` names, else None."""
    phrases = video_phrases(question)
    if not phrases:
        return None
    asked = set().union(*phrases)
    hits = sorted(((len(asked & name_words(src)), vid) for vid, src in catalog.items()), reverse=True)
    if not hits or hits[0][0] == 0 or (len(hits) > 1 and hits[1][0] == hits[0][0]):
        return None
    return hits[0][1]
