"""The recording a question names: "Is there a car in the bikes street video?", "the Big Buck Bunny trailer".

Unscoped, a question has to find its video among all indexed ones, and a picture question shares
few words with any evidence ("objects: 1 car" is in several videos). When the question names its
recording by words of the file name, ``ask`` answers from that recording only.

The rule (no model, no per-question list):

- a *video phrase* is a determiner (``the``, ``this``, ``that``, ...) followed by up to four name
  words and a media word (``video``, ``trailer``, ``footage``, ``intro``, ``time-lapse``, ``call``,
  ``credits``, ...): "in **the bikes street video**" gives ``bikes street video``; the initials of
  its capitalized words count too ("Big Buck Bunny" -> ``bbb``). Ordinals and generic adjectives
  ("the first clip", "the short video", "the new video") are no name words, and a phrase needs at
  least one name word, or a distinctive media word (``DISTINCT_MEDIA_WORDS``: "the trailer"). A media word that can be a verb is not one after an auxiliary when nothing
  but a stopword follows it ("What is the woman **reading**?", "Did the man **call** the police?");
- a file name's words are its parts split at ``_ - .``, at lower-to-upper case changes and at
  digits (``psychopy_jwpIntro.mp4`` -> ``psychopy jwp intro``), plurals folded; both sides are
  NFC-normalised (a macOS file name "Café" is decomposed);
- the video whose file name shares the most words with the question's video phrases, at least one
  of them not a media word, is the one named, when exactly one has the most (or, for a distinctive
  media word alone, "the trailer", "the end credits", the one file that carries it); a tie ("the phone call" against three ``..._call`` files and one
  ``..._phone_...``) or no shared name word names none, and the question searches everything.
"""

from __future__ import annotations

import re
import unicodedata
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
"""Name words kept before the media word."""
DETERMINERS = frozenset(("the", "this", "that", "these", "those"))
"""Words a video phrase starts after."""
NOT_NAME_WORDS = frozenset((
    "first", "second", "third", "fourth", "fifth", "last", "next", "previous", "other", "another", "same",
    "short", "long", "new", "old", "main", "whole", "entire", "full", "original", "final", "end",
    "opening", "closing", "start", "beginning", "above", "following", "earlier", "later", "current",
))
"""Ordinals and generic adjectives: "the first clip" names no ``first_day.mp4``."""
VERB_MEDIA_WORDS = frozenset(("reading", "call", "film", "recording", "broadcast", "interview", "lecture"))
"""Media words that are often verbs ("is the woman reading?", "did he call the police?")."""
DISTINCT_MEDIA_WORDS = frozenset((
    "trailer", "timelapse", "audiobook", "slides", "presentation", "credits", "narration", "podcast",
    "tutorial", "commercial", "advert",
))
"""Media words that say which recording is meant on their own ("the trailer"), when exactly one file
name carries them; "video", "clip", "call", "film", "intro" and the like do not (every recording is
one, or the word is as often a verb or a part of any video)."""
AUXILIARIES = frozenset(("is", "are", "was", "were", "am", "do", "does", "did", "will", "would", "can", "could",
                         "should", "shall", "may", "might", "must", "has", "have", "had"))

_WORD = re.compile(r"[^\W_]+(?:[-'’][^\W_]+)*")


def _nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


def _fold(word: str) -> str:
    word = re.sub(r"['’]s$", "", word.casefold())
    return word[:-1] if len(word) > 3 and word.endswith("s") and not word.endswith("ss") else word


_MEDIA_FOLDED = frozenset(_fold(w) for w in MEDIA_WORDS)
_DISTINCT_FOLDED = frozenset(_fold(w) for w in DISTINCT_MEDIA_WORDS)


def _is_media(word: str) -> bool:
    base = re.sub(r"['’]s$", "", word.casefold())
    return base in MEDIA_WORDS or _fold(base) in _MEDIA_FOLDED


def _as_verb(words: list[str], i: int, det: int) -> bool:
    """Whether media word ``words[i]`` reads as a verb: a verb-like one after "<auxiliary> the X"
    with nothing but a stopword (or the end) after it."""
    word = words[i].casefold()
    if word not in VERB_MEDIA_WORDS or det < 1 or words[det - 1].casefold() not in AUXILIARIES:
        return False
    return i + 1 == len(words) or words[i + 1].casefold() in STOPWORDS


def _phrases(question: str) -> list[tuple[set[str], set[str]]]:
    """``(name words, media word)`` of each phrase naming a recording; a media word before the last
    one is a name word ("the **lecture** video", "the PsychoPy **intro** video")."""
    words = _WORD.findall(_nfc(question))
    out = []
    for i, w in enumerate(words):
        if not _is_media(w):
            continue
        names: list[str] = []
        det = None
        for j in range(i - 1, max(-1, i - 1 - PHRASE_WORDS - 2), -1):
            prev = words[j]
            if prev.casefold() in DETERMINERS:
                det = j
                break
            if len(names) == PHRASE_WORDS or (prev.casefold() in STOPWORDS and not _is_media(prev)):
                break
            if prev.casefold() not in NOT_NAME_WORDS:
                names.insert(0, prev)
        if det is None or _as_verb(words, i, det) or (not names and _fold(w) not in _DISTINCT_FOLDED):
            continue
        folded = {_fold(p) for p in names}
        caps = [p for p in names if p[:1].isupper()]
        if len(caps) >= 2:  # "Big Buck Bunny" -> bbb
            folded.add("".join(p[0] for p in caps).casefold())
        out.append((folded, {_fold(w)}))
    return out


def video_phrases(question: str) -> list[set[str]]:
    """The words of each phrase of ``question`` that names a recording (see the module doc)."""
    return [names | media for names, media in _phrases(question)]


def name_words(source: str) -> set[str]:
    """The words of a file name (see the module doc), generic ones left out."""
    stem = Path(_nfc(str(source))).name.rsplit(".", 1)[0]
    parts = re.split(r"[_\-.\s]+", stem)
    words: set[str] = set()
    for part in parts:
        words.add(part)
        if part.isascii():  # camelCase and digits: "jwpIntro", "cityCC0"
            words.update(re.findall(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+", part))
    return {_fold(w) for w in words if len(w) >= 3 and not w.isdigit()} - GENERIC_NAME_WORDS


def named_video(question: str, catalog: Mapping[str, str]) -> str | None:
    """The id of the one video of ``catalog`` (``{video_id: source}``) that ``question`` names, else None."""
    phrases = _phrases(question)
    if not phrases:
        return None
    names = set().union(*(n for n, _ in phrases))
    asked = names.union(*(m for _, m in phrases))
    shared = {vid: asked & name_words(src) for vid, src in catalog.items()}
    hits = sorted(((len(words), vid) for vid, words in shared.items()), reverse=True)
    if not hits or (len(hits) > 1 and hits[1][0] == hits[0][0]):
        return None
    best = hits[0][1]
    # the closing media word alone names no file ("the earnings call" is not any "*_call" file),
    # unless it is a distinctive one that only this file carries ("the trailer")
    if shared[best] & names:
        return best
    distinct = shared[best] & _DISTINCT_FOLDED
    return best if distinct and not any(distinct & w for vid, w in shared.items() if vid != best) else None
