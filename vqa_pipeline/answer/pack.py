"""Evidence packs: the lines of the best windows, cleaned up and fitted to a token budget.

A pack takes window rows of the ``windows`` table (ranked best first), optionally their
neighbouring windows, and returns time-coded lines:

- every ``{g}_lines`` entry (asr, ocr, audio, visual) becomes ``[12.0-14.0s] asr: text``;
- the same text of the same kind in one video, shown in windows whose spans overlap or touch
  (OCR text on screen for 6 s, a sound tag over two windows) is merged into one line;
- lines are chosen by priority (rank of the window they come from, neighbours after their anchor)
  until the budget is spent; a line is never cut, one that does not fit is skipped;
- the chosen lines are grouped by video (best video first, headed by its file name) and put in
  time order within each video.

Tokens are estimated as ``ceil(chars / 4)``, a safe over-estimate for English with most tokenizers.

Example:
    >>> pack = build_pack(rows, budget_tokens=800)
    >>> print(pack.render())
    == kitchen.mp4 (video 3f2a9c0d11aa22bb) ==
    [10.0-12.0s] asr: preheat the oven to 180 degrees
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import PurePath

from vqa_pipeline.evidence import KINDS, kind_rank
from vqa_pipeline.store.schema import EVIDENCE_GROUPS, GROUP_KINDS

EVIDENCE_KINDS = KINDS
DEFAULT_BUDGET_TOKENS = 1500
_TOUCH_S = 0.05
_BOUNDARY_S = 0.15


def estimate_tokens(text: str) -> int:
    """Rough token count: ``ceil(len / 4)`` (at least 1 for non-empty text)."""
    return math.ceil(len(text) / 4) if text else 0


def format_timecode(start_s: float, end_s: float) -> str:
    return f"[{start_s:.1f}-{end_s:.1f}s]"


@dataclass(frozen=True, slots=True)
class PackedLine:
    """One evidence line of a pack.

    Attributes:
        video_id, source: where it comes from (``source`` is the indexed file's absolute path).
        start_s, end_s: span of the line (merged duplicates span all their copies).
        kind: ``asr``, ``ocr``, ``audio``, ``visual``.
        text: the plain content.
        priority: lower is more important (window rank; neighbours get ``rank + 0.5``).
        window_ids: windows the line was found in.
        parts: an on-screen block's lines in reading order (empty for other lines).
    """

    video_id: str
    source: str
    start_s: float
    end_s: float
    kind: str
    text: str
    priority: float = 0.0
    window_ids: tuple[str, ...] = ()
    parts: tuple[str, ...] = ()

    def format(self) -> str:
        """``[12.0-14.0s] asr: text``."""
        return f"{format_timecode(self.start_s, self.end_s)} {self.kind}: {self.text}"

    def format_with_source(self) -> str:
        """``kitchen.mp4 [12.0-14.0s] asr: text``."""
        return f"{source_name(self.source)} {self.format()}"


def source_name(source: str) -> str:
    return PurePath(source.replace("\\", "/")).name or source


@dataclass(frozen=True, slots=True)
class EvidencePack:
    """Lines chosen for a question, grouped by video, in time order within each video.

    Attributes:
        lines: the chosen lines (video groups contiguous, best video first).
        budget_tokens: the budget they were fitted to.
        used_tokens: estimated tokens of :meth:`render`.
        dropped: lines left out for the budget.
    """

    lines: tuple[PackedLine, ...] = ()
    budget_tokens: int = DEFAULT_BUDGET_TOKENS
    used_tokens: int = 0
    dropped: int = 0

    def videos(self) -> list[tuple[str, str, list[PackedLine]]]:
        """``[(video_id, source, lines)]`` in pack order."""
        out: list[tuple[str, str, list[PackedLine]]] = []
        for line in self.lines:
            if not out or out[-1][0] != line.video_id:
                out.append((line.video_id, line.source, []))
            out[-1][2].append(line)
        return out

    def render(self) -> str:
        """Text block: a header per video, then its lines."""
        return "\n".join(
            "\n".join([video_header(vid, src), *(ln.format() for ln in lines)])
            for vid, src, lines in self.videos()
        )

    def strings(self) -> list[str]:
        """One string per line, prefixed with the file name (for JSON ``evidence``)."""
        return [ln.format_with_source() for ln in self.lines]


def video_header(video_id: str, source: str) -> str:
    return f"== {source_name(source)} (video {video_id}) =="


def row_lines(row: Mapping, priority: float = 0.0, kinds: Sequence[str] = EVIDENCE_KINDS) -> list[PackedLine]:
    """All evidence lines of one window row, in time order."""
    out = []
    groups = [g for g in EVIDENCE_GROUPS if GROUP_KINDS[g] in kinds]
    for group in groups:
        kind = GROUP_KINDS[group]
        for item in row.get(f"{group}_lines") or ():
            text = " ".join(str(item.get("text") or "").split())
            if not text or item.get("start_s") is None or item.get("end_s") is None:
                continue
            start, end = float(item["start_s"]), float(item["end_s"])
            out.append(PackedLine(row["video_id"], row["source"], start, max(start, end), kind, text, priority, (row["window_id"],)))
    out.sort(key=lambda ln: (ln.start_s, ln.end_s, kind_rank(ln.kind)))
    return out


def row_units(row: Mapping, priority: float = 0.0, kinds: Sequence[str] = EVIDENCE_KINDS) -> list[PackedLine]:
    """The evidence units of one window row (whole sentences, on-screen blocks, ...), in time order.

    Rows of an index built before units existed (or whose units were not computed yet) give their
    lines instead (:func:`row_lines`).
    """
    units = row.get("units")
    if units is None:
        return row_lines(row, priority, kinds)
    out = []
    for u in units:
        text = " ".join(str(u.get("text") or "").split())
        if not text or u.get("kind") not in kinds or u.get("start_s") is None or u.get("end_s") is None:
            continue
        start, end = float(u["start_s"]), float(u["end_s"])
        out.append(PackedLine(row["video_id"], row["source"], start, max(start, end), u["kind"], text, priority,
                              (row["window_id"],), tuple(u.get("parts") or ())))
    out.sort(key=lambda ln: (ln.start_s, ln.end_s, kind_rank(ln.kind)))
    return out


def boundary_offsets(row: Mapping) -> tuple[int, ...]:
    """Neighbour offsets worth adding because a line may straddle the window's edge.

    A speech line touching the window start (end) may continue in the previous (next) window; a line
    of any kind reaching outside the window does too.
    """
    w0, w1 = float(row["start_s"]), float(row["end_s"])
    before = after = False
    for ln in row_lines(row):
        if ln.start_s < w0 - _TOUCH_S or (ln.kind == "asr" and ln.start_s <= w0 + _BOUNDARY_S):
            before = True
        if ln.end_s > w1 + _TOUCH_S or (ln.kind == "asr" and ln.end_s >= w1 - _BOUNDARY_S):
            after = True
    return tuple(o for o, want in ((-1, before), (1, after)) if want and (o > 0 or row.get("window_index", 0) > 0))


def merge_duplicates(lines: Iterable[PackedLine]) -> list[PackedLine]:
    """Merge lines of the same video, kind and text whose spans overlap or touch."""
    groups: dict[tuple[str, str, str], list[PackedLine]] = {}
    for ln in lines:
        groups.setdefault((ln.video_id, ln.kind, ln.text.casefold()), []).append(ln)
    out = []
    for same in groups.values():
        same.sort(key=lambda ln: (ln.start_s, ln.end_s))
        cur = same[0]
        for ln in same[1:]:
            if ln.start_s <= cur.end_s + _TOUCH_S:
                cur = PackedLine(cur.video_id, cur.source, cur.start_s, max(cur.end_s, ln.end_s), cur.kind, cur.text,
                                 min(cur.priority, ln.priority), tuple(dict.fromkeys(cur.window_ids + ln.window_ids)),
                                 cur.parts or ln.parts)
            else:
                out.append(cur)
                cur = ln
        out.append(cur)
    return out


def build_pack(rows: Sequence[Mapping], neighbours: Iterable[Mapping] = (), budget_tokens: int = DEFAULT_BUDGET_TOKENS,
               kinds: Sequence[str] = EVIDENCE_KINDS,
               estimator: Callable[[str], int] = estimate_tokens) -> EvidencePack:
    """Evidence pack of ranked window rows.

    Args:
        rows: window rows, best first (dicts with ``window_id``, ``video_id``, ``source``,
            ``window_index``, ``start_s``, ``end_s`` and ``{kind}_lines``).
        neighbours: extra rows of adjacent windows; each gets the priority of the best ranked row it
            neighbours, plus 0.5 (rows already ranked are ignored here).
        budget_tokens: the most tokens :meth:`EvidencePack.render` may take.
        kinds: evidence kinds to include.
        estimator: token estimate of a string.

    Returns:
        The pack; empty when nothing fits or there are no lines.
    """
    lines: list[PackedLine] = []
    ranked_ids = set()
    anchor: dict[tuple[str, int], float] = {}
    for rank, row in enumerate(rows):
        ranked_ids.add(row["window_id"])
        lines += row_lines(row, float(rank), kinds)
        for o in (-1, 1):
            key = (row["video_id"], int(row.get("window_index", -10)) + o)
            anchor[key] = min(anchor.get(key, math.inf), rank + 0.5)
    for row in neighbours:
        if row["window_id"] in ranked_ids:
            continue
        prio = anchor.get((row["video_id"], int(row.get("window_index", -10))), len(ranked_ids) + 0.5)
        lines += row_lines(row, prio, kinds)
    merged = merge_duplicates(lines)
    merged.sort(key=lambda ln: (ln.priority, ln.start_s, ln.end_s))

    chosen: list[PackedLine] = []
    headers: set[str] = set()
    used = 0
    for ln in merged:
        cost = estimator(ln.format()) + 1
        if ln.video_id not in headers:
            cost += estimator(video_header(ln.video_id, ln.source)) + 1
        if used + cost > budget_tokens:
            continue
        used += cost
        headers.add(ln.video_id)
        chosen.append(ln)

    video_rank: dict[str, float] = {}
    for ln in chosen:
        video_rank[ln.video_id] = min(video_rank.get(ln.video_id, math.inf), ln.priority)
    chosen.sort(key=lambda ln: (video_rank[ln.video_id], ln.video_id, ln.start_s, ln.end_s, ln.kind))
    pack = EvidencePack(tuple(chosen), budget_tokens, 0, len(merged) - len(chosen))
    return EvidencePack(pack.lines, budget_tokens, estimator(pack.render()), pack.dropped)


@dataclass(frozen=True, slots=True)
class PackOptions:
    """How packs are built for ``ask``.

    Attributes:
        budget_tokens: token budget of the pack.
        neighbours: ``"auto"`` adds adjacent windows when a line touches a window edge, ``"always"``
            adds both neighbours of every ranked window, ``"never"`` adds none.
        kinds: evidence kinds to include.
    """

    budget_tokens: int = DEFAULT_BUDGET_TOKENS
    neighbours: str = "auto"
    kinds: tuple[str, ...] = field(default=EVIDENCE_KINDS)
