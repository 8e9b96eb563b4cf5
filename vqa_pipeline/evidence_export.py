"""A video's evidence lines as subtitles (SRT, WebVTT) and CSV, for ``vqa evidence --format``.

Subtitles carry speech by default, one cue per spoken sentence (the evidence units are already
whole sentences; an index without units has its per-window speech lines joined until a sentence
ends). Other kinds are opt-in cues with a label: ``[on screen] ...``, ``[sound] ...``,
``[picture] ...``. CSV carries every kind: ``start,end,kind,text``.
"""

from __future__ import annotations

import csv
import io
import textwrap
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from vqa_pipeline.evidence import KINDS, clean_text

SUBTITLE_KINDS = ("asr",)
"""Kinds subtitles carry unless asked otherwise (``--kinds``)."""
KIND_ALIASES = {"speech": "asr", "text": "ocr", "screen": "ocr", "sound": "audio", "sounds": "audio",
                "picture": "visual"}
CUE_LABELS = {"ocr": "[on screen] ", "audio": "[sound] ", "visual": "[picture] "}
SENTENCE_GAP_S = 1.0
"""Speech lines further apart than this are separate cues even without a full stop between them."""
MIN_CUE_S = 0.5
LINE_WIDTH = 42


@dataclass(frozen=True, slots=True)
class Cue:
    start: float
    end: float
    text: str


def parse_kinds(value: str | None) -> tuple[str, ...] | None:
    """``"speech,ocr"`` -> ``("asr", "ocr")``; ``None`` or ``"all"``: no restriction (``None``).

    Raises:
        ValueError: an unknown kind (one line, listing the known ones).
    """
    if value is None or value.strip().lower() == "all":
        return None
    out = []
    for raw in value.split(","):
        kind = KIND_ALIASES.get(raw.strip().lower(), raw.strip().lower())
        if kind not in KINDS:
            known = ", ".join([*KINDS, *KIND_ALIASES, "all"])
            raise ValueError(f"unknown evidence kind {raw.strip()!r}; known: {known}")
        out.append(kind)
    return tuple(dict.fromkeys(out))


def only_kinds(lines: Iterable[dict], kinds: Sequence[str] | None) -> list[dict]:
    return [ln for ln in lines if kinds is None or ln["kind"] in kinds]


def _ends_sentence(text: str) -> bool:
    return text.rstrip().rstrip("\"')]").endswith((".", "?", "!", "…"))


def speech_sentences(lines: Iterable[dict]) -> list[Cue]:
    """Speech lines joined into sentences: a cue ends at a full stop or a pause over ``SENTENCE_GAP_S``."""
    cues: list[Cue] = []
    cur: list[dict] = []
    for ln in sorted(lines, key=lambda x: (x["start"], x["end"])):
        if cur and (ln["start"] - cur[-1]["end"] > SENTENCE_GAP_S or _ends_sentence(cur[-1]["text"])):
            cues.append(Cue(cur[0]["start"], max(x["end"] for x in cur), " ".join(x["text"].strip() for x in cur)))
            cur = []
        if ln["text"].strip():
            cur.append(ln)
    if cur:
        cues.append(Cue(cur[0]["start"], max(x["end"] for x in cur), " ".join(x["text"].strip() for x in cur)))
    return cues


def subtitle_cues(lines: Sequence[dict], kinds: Sequence[str] | None = SUBTITLE_KINDS) -> list[Cue]:
    """Cues in time order: speech as sentences, the other ``kinds`` labelled; every cue at least
    ``MIN_CUE_S`` long, and a speech cue ending where the next one starts (no two sentences shown
    at once)."""
    chosen = only_kinds(lines, kinds)
    speech = speech_sentences(ln for ln in chosen if ln["kind"] == "asr")
    for i in range(len(speech) - 1):
        nxt = speech[i + 1].start
        if speech[i].end > nxt and nxt - speech[i].start >= MIN_CUE_S:
            speech[i] = Cue(speech[i].start, nxt, speech[i].text)
    others = [Cue(ln["start"], ln["end"], CUE_LABELS.get(ln["kind"], f"[{ln['kind']}] ") + clean_text(ln["kind"], ln["text"]))
              for ln in chosen if ln["kind"] != "asr" and ln["text"].strip()]
    cues = [Cue(max(c.start, 0.0), max(c.end, max(c.start, 0.0) + MIN_CUE_S), " ".join(c.text.split()))
            for c in [*speech, *others]]
    return sorted(cues, key=lambda c: (c.start, c.end))


def _stamp(seconds: float, sep: str) -> str:
    ms = int(round(max(seconds, 0.0) * 1000))
    h, rest = divmod(ms, 3_600_000)
    m, rest = divmod(rest, 60_000)
    s, ms = divmod(rest, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}{sep}{ms:03d}"


def _wrapped(text: str) -> str:
    # "-->" would end a cue's timing line early in a strict parser.
    return "\n".join(textwrap.wrap(text.replace("-->", "->"), LINE_WIDTH)) or "..."


def to_srt(cues: Sequence[Cue]) -> str:
    return "".join(f"{i}\n{_stamp(c.start, ',')} --> {_stamp(c.end, ',')}\n{_wrapped(c.text)}\n\n"
                   for i, c in enumerate(cues, 1))


def _vtt_escaped(text: str) -> str:
    # WebVTT cue text is markup: '&' and '<' start entities and tags, '>' is escaped too (the spec's own).
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def to_vtt(cues: Sequence[Cue]) -> str:
    return "WEBVTT\n\n" + "".join(f"{_stamp(c.start, '.')} --> {_stamp(c.end, '.')}\n{_vtt_escaped(_wrapped(c.text))}\n\n"
                                  for c in cues)


def to_csv(lines: Sequence[dict]) -> str:
    """``start,end,kind,text`` with a header, seconds to the millisecond."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["start", "end", "kind", "text"])
    for ln in lines:
        writer.writerow([f"{ln['start']:.3f}", f"{ln['end']:.3f}", ln["kind"], ln["text"]])
    return out.getvalue()
