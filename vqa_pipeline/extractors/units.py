"""Evidence units: what a person would quote, built from the other extractors' outputs (no model).

Windows stay the unit of search; answers quote units, which keep meaning together:

- **speech**: whole sentences from the ASR word times (Whisper's punctuation, or a pause of
  :data:`SENTENCE_PAUSE_S`, ends a sentence), so "... your account number is" / "5517, and your PIN"
  across a window edge is one unit. A sentence longer than :data:`MAX_SENTENCE_S` is cut at its
  longest pause.
- **on-screen text**: the text boxes of a keyframe grouped into layout blocks (lines that are
  vertically adjacent, aligned left, centred or right, and of similar size), in reading order:
  a credits card becomes ``EDITOR / Ana Lima``, a slide's heading stays with its value. The same
  block on consecutive windows is one unit spanning them. Text is kept verbatim (terminals, code).
- **sounds** and **picture** facts: the lines of those extractors, as they are.

Each window lists every unit that overlaps it (a sentence or a block crossing an edge is listed in
both windows) in the ``units`` column: ``list<struct<kind, start_s, end_s, text, parts>>``, where
``parts`` holds a block's lines (empty for other kinds).

(Slightly over our ~350-line norm: the joining of a long recording's segments belongs with the
rules it re-applies.)
"""

from __future__ import annotations

import bisect
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import pyarrow as pa

from vqa_pipeline.extractors.base import Extractor, ExtractorOutput
from vqa_pipeline.media.types import DecodedMedia, Window

SENTENCE_PAUSE_S = 1.2
"""A silence this long between two words ends a sentence even without punctuation."""
MAX_SENTENCE_S = 30.0
"""Longer sentences (run-on speech without punctuation) are cut at their longest pause."""
MAX_BLOCK_LINES = 12
"""A block of more lines (a page of code) is cut into chunks of this many lines."""
BLOCK_SEPARATOR = " / "

UNIT_TYPE = pa.struct([
    ("kind", pa.string()), ("start_s", pa.float64()), ("end_s", pa.float64()), ("text", pa.string()),
    ("parts", pa.list_(pa.string())),
])

_ABBREVIATION = re.compile(r"^(?:[A-Z]|Mr|Mrs|Ms|Dr|Prof|St|vs|etc|e\.g|i\.e|U\.S)\.$")


@dataclass(frozen=True, slots=True)
class Unit:
    """One quotable piece of evidence."""

    kind: str
    start_s: float
    end_s: float
    text: str
    parts: tuple[str, ...] = field(default_factory=tuple)

    def to_row(self) -> dict:
        return {"kind": self.kind, "start_s": float(self.start_s), "end_s": float(self.end_s), "text": self.text,
                "parts": list(self.parts)}


# ----------------------------------------------------------------------------------------------
# speech


@dataclass(frozen=True, slots=True)
class Word:
    text: str
    start_s: float
    end_s: float


def _ends_sentence(word: str) -> bool:
    w = word.rstrip("\"')]")
    return w.endswith((".", "?", "!")) and not _ABBREVIATION.match(w)


def _join(words: Sequence[Word]) -> str:
    return " ".join(" ".join(w.text for w in words).split())


def _split_long(words: list[Word], max_s: float) -> list[list[Word]]:
    """Cut a run-on sentence at its longest internal pause (preferring one after a comma) until
    every piece is at most ``max_s`` long."""
    if len(words) < 2 or words[-1].end_s - words[0].start_s <= max_s:
        return [words]
    gaps = [(words[i + 1].start_s - words[i].end_s + (0.5 if words[i].text.endswith((",", ";", ":")) else 0.0), i)
            for i in range(len(words) - 1)]
    _, cut = max(gaps)
    return _split_long(words[: cut + 1], max_s) + _split_long(words[cut + 1:], max_s)


def sentences(words: Iterable[Word], pause_s: float = SENTENCE_PAUSE_S, max_s: float = MAX_SENTENCE_S) -> list[Unit]:
    """Speech units from recognized words (deduplicated, in time order)."""
    ordered = sorted({(w.start_s, w.end_s, w.text): w for w in words if w.text.strip()}.values(),
                     key=lambda w: (w.start_s, w.end_s))
    groups: list[list[Word]] = []
    cur: list[Word] = []
    for w in ordered:
        if cur and w.start_s - cur[-1].end_s >= pause_s:
            groups.append(cur)
            cur = []
        cur.append(w)
        if _ends_sentence(w.text):
            groups.append(cur)
            cur = []
    if cur:
        groups.append(cur)
    out = []
    for g in groups:
        for piece in _split_long(g, max_s):
            out.append(Unit("asr", piece[0].start_s, max(piece[-1].end_s, piece[0].start_s), _join(piece)))
    return out


# ----------------------------------------------------------------------------------------------
# on-screen text


@dataclass(frozen=True, slots=True)
class Box:
    """One OCR read: text and its box as fractions of the frame (x0, y0, x1, y1)."""

    text: str
    x0: float
    y0: float
    x1: float
    y1: float

    @property
    def height(self) -> float:
        return max(self.y1 - self.y0, 1e-6)

    @property
    def cx(self) -> float:
        return (self.x0 + self.x1) / 2


def _text_lines(boxes: Sequence[Box]) -> list[Box]:
    """Boxes on the same text line (vertical overlap, small horizontal gap) joined left to right."""
    lines: list[list[Box]] = []
    for b in sorted(boxes, key=lambda b: (b.y0, b.x0)):
        for line in lines:
            last = line[-1]
            overlap = min(last.y1, b.y1) - max(last.y0, b.y0)
            if overlap >= 0.5 * min(last.height, b.height) and 0 <= b.x0 - last.x1 <= 1.5 * max(last.height, b.height):
                line.append(b)
                break
        else:
            lines.append([b])
    return [Box(" ".join(x.text for x in ln), min(x.x0 for x in ln), min(x.y0 for x in ln),
                max(x.x1 for x in ln), max(x.y1 for x in ln)) for ln in lines]


def _same_block(a: Box, b: Box, align_tol: float = 0.04) -> bool:
    """Whether line ``b`` (below ``a``) continues ``a``'s block: close below it, of a similar size,
    and aligned with it (left, centre or right) or under most of the narrower line."""
    h = max(a.height, b.height)
    gap = b.y0 - a.y1
    if gap > 1.6 * h or gap < -0.5 * min(a.height, b.height):
        return False
    if max(a.height, b.height) > 3.0 * min(a.height, b.height):
        return False
    overlap = min(a.x1, b.x1) - max(a.x0, b.x0)
    if overlap <= 0:
        return False
    aligned = (abs(a.x0 - b.x0) <= align_tol or abs(a.cx - b.cx) <= align_tol or abs(a.x1 - b.x1) <= align_tol)
    # a heading at the top left above a large centred value is one block too
    return aligned or overlap >= 0.5 * min(a.x1 - a.x0, b.x1 - b.x0)


def layout_blocks(boxes: Sequence[Box], max_lines: int = MAX_BLOCK_LINES) -> list[list[str]]:
    """Text lines grouped into blocks in reading order (top to bottom, then left to right)."""
    lines = sorted(_text_lines(boxes), key=lambda b: (b.y0, b.x0))
    parent = list(range(len(lines)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for j, b in enumerate(lines):
        # join the nearest line above that this one continues
        for i in range(j - 1, -1, -1):
            if _same_block(lines[i], b):
                parent[find(j)] = find(i)
                break
    groups: dict[int, list[Box]] = {}
    for i, b in enumerate(lines):
        groups.setdefault(find(i), []).append(b)
    blocks = sorted(groups.values(), key=lambda g: (min(b.y0 for b in g), min(b.x0 for b in g)))
    out = []
    for g in blocks:
        texts = [b.text for b in sorted(g, key=lambda b: (b.y0, b.x0))]
        out += [texts[i:i + max_lines] for i in range(0, len(texts), max_lines)]
    return out


def _key(text: str) -> str:
    return re.sub(r"[\W_]+", "", text.casefold())


def screen_units(windows: Sequence[Window], boxes_per_window: Sequence[Sequence[Box] | None]) -> list[Unit]:
    """On-screen units: each window's blocks, the same block on consecutive windows merged.

    A window without a keyframe (``None``) keeps blocks open across it.
    """
    units: list[Unit] = []
    active: dict[str, tuple[int, list[str], int]] = {}  # key -> (first window, parts, last window)
    for i, boxes in enumerate(boxes_per_window):
        if boxes is None:
            continue
        now: dict[str, list[str]] = {}
        for parts in layout_blocks(boxes):
            now.setdefault(_key(BLOCK_SEPARATOR.join(parts)), parts)
        for key, (first, parts, last) in list(active.items()):
            if key not in now:
                units.append(Unit("ocr", windows[first].start_s, windows[last].end_s, BLOCK_SEPARATOR.join(parts),
                                  tuple(parts)))
                del active[key]
        for key, parts in now.items():
            first = active[key][0] if key in active else i
            active[key] = (first, parts, i)
    for first, parts, last in active.values():
        units.append(Unit("ocr", windows[first].start_s, windows[last].end_s, BLOCK_SEPARATOR.join(parts),
                          tuple(parts)))
    return units


# ----------------------------------------------------------------------------------------------
# the extractor


def _overlapping(units: Iterable[Unit], windows: Sequence[Window]) -> list[list[Unit]]:
    """Per window (in time order), the units overlapping it; an instant belongs to the window holding it."""
    starts = [w.start_s for w in windows]
    per: list[list[Unit]] = [[] for _ in windows]
    for u in units:
        i = max(0, bisect.bisect_right(starts, u.start_s) - 1)
        while i > 0 and windows[i - 1].end_s > u.start_s:  # overlapping windows (stride < length)
            i -= 1
        for j in range(i, len(windows)):
            w = windows[j]
            if w.start_s > u.end_s or (w.start_s == u.end_s and u.end_s > u.start_s):
                break
            if (u.start_s < w.end_s and u.end_s > w.start_s) or (u.start_s == u.end_s and w.start_s <= u.start_s < w.end_s):
                per[j].append(u)
    return per


CUT_MARGIN_S = SENTENCE_PAUSE_S + 1.0
"""A sentence ending this close to the end of what a segment heard may have been cut there."""
EDGE_SLACK_S = 2.0
"""The next segment takes such sentences a little earlier, so that the two ASR runs' different
timings give a duplicate (dropped by :func:`join_segments`) rather than a lost sentence."""


def owned_sentences(units: Sequence[Unit], media: DecodedMedia) -> list[Unit]:
    """The sentences a segment keeps (all of them for a whole file).

    A segment's ASR also ran on its context, so a sentence at an edge was heard by two segments:
    it is kept by the one owning its start, so that it exists once, in one run's words. A sentence
    that runs to the end of the owner's context (longer than the context, as
    :data:`MAX_SENTENCE_S` can be) is left to the next segment, which heard it to its end.
    """
    if media.core is None:
        return list(units)
    lo, hi = media.core
    ws = media.windows
    own_lo = ws[lo].start_s if media.segment > 0 and lo < len(ws) else -math.inf
    own_hi = ws[hi].start_s if hi < len(ws) and not media.last_segment else math.inf
    cut_here = own_hi + media.context_s - CUT_MARGIN_S  # past this, the owner may have heard it cut
    cut_before = own_lo + media.context_s - CUT_MARGIN_S - EDGE_SLACK_S
    return [u for u in units
            if (own_lo <= u.start_s < own_hi and u.end_s <= cut_here) or (u.start_s < own_lo and u.end_s > cut_before)]


def join_segments(windows: Sequence[Window], boxes_per_window: Sequence[Sequence[Box] | None],
                  stored: Sequence[Sequence[Mapping] | None]) -> list[list[dict] | None]:
    """A segmented video's ``units`` column as one whole-file run would give it.

    ``stored`` is the column each segment wrote for its own windows. On-screen blocks are
    recomputed from every window's OCR boxes (a block on screen for 12 minutes is one unit, not
    one per segment); the other units are gathered from all windows, so a sentence that one
    segment kept is listed in the next segment's windows too, and a sentence heard by both
    segments (see :func:`owned_sentences`) is kept once.
    """
    seen: dict[tuple, Unit] = {}
    for per in stored:
        for r in per or ():
            if r["kind"] != "ocr":
                u = Unit(r["kind"], float(r["start_s"]), float(r["end_s"]), r["text"], tuple(r.get("parts") or ()))
                seen.setdefault((u.kind, u.start_s, u.end_s, u.text), u)
    units = [u for u in seen.values() if u.kind != "asr"]
    speech: list[Unit] = []
    for u in sorted((u for u in seen.values() if u.kind == "asr"), key=lambda u: (u.start_s, -u.end_s)):
        prev = speech[-1] if speech else None
        # The sentences of one ASR run never overlap; two that overlap by half are both segments'
        # transcripts of one sentence at an edge: the longer one (heard whole) stays.
        if prev is not None and min(prev.end_s, u.end_s) - u.start_s > 0.5 * min(prev.end_s - prev.start_s,
                                                                                 u.end_s - u.start_s):
            if u.end_s - u.start_s > prev.end_s - prev.start_s:
                speech[-1] = u
            continue
        speech.append(u)
    units += speech
    units += screen_units(windows, boxes_per_window)
    per_window = _overlapping(sorted(units, key=lambda u: (u.start_s, u.end_s, u.kind)), windows)
    return [[u.to_row() for u in us] or None for us in per_window]


def ocr_boxes(col: Sequence[Sequence[Mapping] | None]) -> list[list[Box] | None]:
    """The ``ocr_boxes`` column as boxes per window (``None``: no keyframe in the window)."""
    return [None if per is None else [Box(str(b["text"]), *(float(v) for v in b["box"])) for b in per
                                      if b and b.get("text") and len(b.get("box") or ()) == 4]
            for per in col]


class EvidenceUnits(Extractor):
    """Speech sentences, on-screen layout blocks, sound and picture lines per window (``units``)."""

    name = "evidence-units"
    group = "units"
    kind = "units"
    modality = "text"
    model_id = "units-sentences-blocks"
    version = "2"
    requires = ("asr", "ocr", "audio", "visual", "objects", "people", "vp_tags")

    joined_columns = ("ocr_boxes", "units")
    """What :meth:`join_segments` reads of every window once a segmented video is extracted."""

    def fields(self) -> list[pa.Field]:
        return [pa.field("units", pa.list_(UNIT_TYPE), nullable=True)]

    def join_segments(self, windows: Sequence[Window], columns: Mapping[str, Sequence]) -> dict[str, list]:
        """The ``units`` column of a video extracted in segments, joined across the segment edges."""
        boxes = columns.get("ocr_boxes") or [None] * len(windows)
        return {"units": join_segments(windows, ocr_boxes(boxes), columns.get("units") or [None] * len(windows))}

    def extract(self, media: DecodedMedia, upstream: Mapping[str, ExtractorOutput]) -> ExtractorOutput:
        windows = media.windows
        units: list[Unit] = []
        asr = upstream.get("asr")
        if asr is not None:
            words = [Word(str(w["word"]), float(w["start_s"]), float(w["end_s"]))
                     for per in asr.columns.get("asr_words") or () for w in (per or ()) if w and w.get("word")]
            units += owned_sentences(sentences(words), media)
        ocr = upstream.get("ocr")
        if ocr is not None:
            units += screen_units(windows, ocr_boxes(ocr.columns.get("ocr_boxes") or [None] * len(windows)))
        for group in ("audio", "visual", "objects", "people", "vp_tags"):
            out = upstream.get(group)
            if out is None:
                continue
            seen: set[tuple] = set()
            for lines in out.lines:
                for ln in lines or ():
                    key = (ln.start_s, ln.end_s, ln.text)
                    if key not in seen:
                        seen.add(key)
                        units.append(Unit(ln.kind, ln.start_s, ln.end_s, ln.text))
        per_window = _overlapping(sorted(units, key=lambda u: (u.start_s, u.end_s, u.kind)), windows)
        counts: dict[str, float] = {}
        for u in units:
            counts[u.kind] = counts.get(u.kind, 0) + 1
        return ExtractorOutput(
            lines=[[] for _ in windows],
            columns={"units": [[u.to_row() for u in us] or None for us in per_window]},
            notes=[] if units else ["no evidence to group"],
            stats={f"units_{k}": v for k, v in counts.items()},
        )
