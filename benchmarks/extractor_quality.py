"""Extractor quality on the sample corpus: ASR word error rate, OCR line match, sound-event hits.

(One self-contained script by design: a benchmark is run and read as a single file.)

    .venv/bin/python benchmarks/extractor_quality.py                 # fresh temp DB, lite profile
    .venv/bin/python benchmarks/extractor_quality.py --db .vqa/db    # index into (or reuse) a DB
    .venv/bin/python benchmarks/extractor_quality.py --json out.json # also write every number

Indexes ``data/sample`` (on Ray actors like ``vqa index``, or in-process with ``--no-ray``; indexing
an existing ``--db`` only fills what is missing or stale), reads the stored window columns back, and compares
them with ``data/sample/truth/*.json``:

- **ASR**: word error rate per clip and overall, both sides normalized the same way (case,
  punctuation, number words -> digits, ordinals, ``$N`` -> ``N dollars``, ``°C``, a few UK/US
  spellings). Then, per truth sentence, whether its correctly recognized words are stored in windows
  that overlap the sentence's span ("placement"), and onset/offset errors of the recognized span.
- **OCR**: for each truth on-screen text, is there an OCR evidence line overlapping its time span
  whose normalized text (NFKC, casefold, whitespace removed) equals it ("exact"), or whose
  similarity (difflib ratio on that normalization, a single line or two co-visible lines joined) is
  at least 0.8 ("fuzzy"); how much of the span the fuzzy-matching lines cover; and OCR lines that
  match no truth text ("spurious").
- **Sound**: for each truth sound event, is a tag of the right family (AudioSet label words, see
  ``KIND_LABELS``) in a window overlapping it: in the evidence lines (score >= 0.25, what users and
  the answerer see) and in the stored top-5 tags (score >= 0.1); and the false-alarm rate: windows
  overlapping no truth event whose evidence line names any event-like label (or any sound at all).

Prints tables, the misses, and the exact command line.
"""

from __future__ import annotations

import argparse
import difflib
import json
import re
import shutil
import sys
import tempfile
import time
import unicodedata
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import SAMPLE, command_line, machine, model_tags, pct, table, truth_files  # noqa: E402

# ---------------------------------------------------------------------------------------------
# text normalization for WER (applied identically to reference and hypothesis)

_UNITS = {
    w: i
    for i, w in enumerate(
        ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen"]
    )
}
_TENS = {w: 10 * i for i, w in enumerate(["_", "_", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]) if w != "_"}
_SCALES = {"hundred": 100, "thousand": 1000, "million": 1_000_000}
_ORD = {
    "first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6, "seventh": 7, "eighth": 8,
    "ninth": 9, "tenth": 10, "eleventh": 11, "twelfth": 12, "thirteenth": 13, "fourteenth": 14,
    "fifteenth": 15, "sixteenth": 16, "seventeenth": 17, "eighteenth": 18, "nineteenth": 19,
    "twentieth": 20, "thirtieth": 30, "fortieth": 40, "fiftieth": 50, "sixtieth": 60, "seventieth": 70,
    "eightieth": 80, "ninetieth": 90, "hundredth": 100, "thousandth": 1000,
}
_SPELLING = {
    "kilometres": "kilometers", "kilometre": "kilometer", "metres": "meters", "metre": "meter",
    "centre": "center", "colour": "color", "favourite": "favorite", "organise": "organize",
    "harbour": "harbor", "neighbour": "neighbor", "ok": "okay", "mr": "mister", "dr": "doctor",
    "km": "kilometers", "kg": "kilograms",
}


def basic_tokens(text: str) -> list[str]:
    """Casefolded word tokens: symbols spelled out, punctuation dropped, digits kept as they are."""
    s = unicodedata.normalize("NFKC", text).casefold()
    s = s.replace("’", "'").replace("‘", "'")
    s = re.sub(r"\$\s*(\d[\d,]*(?:\.\d+)?)", r"\1 dollars", s)
    s = re.sub(r"(\d)\s*%", r"\1 percent", s)
    s = re.sub(r"°\s*c\b", " degrees celsius", s)
    s = re.sub(r"°\s*f\b", " degrees fahrenheit", s)
    s = s.replace("°", " degrees")
    s = re.sub(r"\bkm\s*/\s*h\b", "kilometers per hour", s)
    s = re.sub(r"(?<![\w.])-(?=\d)", "minus ", s)  # "-3 degrees" = "minus 3 degrees"
    s = re.sub(r"(?<=\d),(?=\d{3}\b)", "", s)  # 18,400 -> 18400
    s = re.sub(r"\b(\d+)(st|nd|rd|th)\b", r"\1", s)  # 14th -> 14
    s = s.replace("'", "")  # today's -> todays
    s = re.sub(r"[^\w]+|_", " ", s)
    return [_SPELLING.get(t, t) for t in s.split()]


def merge_numbers(items: list[tuple[str, object, int]]) -> list[tuple[str, list]]:
    """Spelled numbers -> digits over ``(token, meta, source word)`` items, keeping the metadata.

    "thirty five" -> "35", "eighty eighth" -> "88", "one hundred and five" -> "105". Then adjacent
    digit tokens are joined when they come from one written word ("10:45" -> "1045") or are both
    spelled out ("ten forty five" -> "1045"), so a time reads the same either way; written numbers
    apart stay apart ("555 0192", a score "3-2").
    """
    out: list[tuple[str, list, object]] = []  # (token, metas, source word or "spelled")
    cur = total = None  # the number being read: total (thousands part) + cur
    metas: list = []

    def flush() -> None:
        nonlocal cur, total, metas
        if cur is not None or total is not None:
            out.append((str((total or 0) + (cur or 0)), metas, "spelled"))
        cur = total = None
        metas = []

    for i, (tok, meta, src) in enumerate(items):
        in_number = cur is not None or total is not None
        if tok in _UNITS or tok in _ORD and _ORD[tok] < 20:
            v = _UNITS.get(tok, _ORD.get(tok))
            if in_number and cur is not None and (cur % 10 != 0 or cur % 100 in range(1, 20) or cur == 0):
                flush()
            cur = (cur or 0) + v
            metas.append(meta)
            if tok in _ORD:
                flush()
        elif tok in _TENS or tok in _ORD and _ORD[tok] in range(20, 100):
            v = _TENS.get(tok, _ORD.get(tok))
            if in_number and cur is not None and cur % 100 != 0:
                flush()
            cur = (cur or 0) + v
            metas.append(meta)
            if tok in _ORD:
                flush()
        elif (tok in _SCALES or tok in ("hundredth", "thousandth")) and in_number:
            scale = _SCALES.get(tok) or _ORD[tok]
            if scale == 100:
                cur = (cur or 1) * 100
            else:
                total = ((total or 0) + (cur or 1)) * scale
                cur = None
            metas.append(meta)
            if tok in _ORD:
                flush()
        elif tok == "and" and in_number and i + 1 < len(items) and (items[i + 1][0] in _UNITS or items[i + 1][0] in _TENS):
            metas.append(meta)  # "one hundred and five"
        else:
            flush()
            out.append((tok, [meta], src))
    flush()
    merged: list[tuple[str, list, object]] = []
    for tok, ms, src in out:
        if merged and tok.isdigit() and merged[-1][0].isdigit() and merged[-1][2] == src:
            merged[-1] = (merged[-1][0] + tok, merged[-1][1] + ms, src)
        else:
            merged.append((tok, list(ms), src))
    return [(tok, ms) for tok, ms, _ in merged]


def norm_words(text: str) -> list[str]:
    return [t for t, _ in merge_numbers(tokens_with_source(text, None))]


def tokens_with_source(text: str, meta: object, first_src: int = 0) -> list[tuple[str, object, int]]:
    """``(token, meta, source word index)`` for each normalized token of each whitespace word."""
    return [(t, meta, first_src + k) for k, word in enumerate(text.split()) for t in basic_tokens(word)]


def align(ref: list[str], hyp: list[str]) -> list[tuple[str, int | None, int | None]]:
    """Levenshtein alignment: ``(op, ref_index, hyp_index)`` with op in ok/sub/del/ins."""
    n, m = len(ref), len(hyp)
    d = [[0] * (m + 1) for _ in range(n + 1)]
    for i in range(n + 1):
        d[i][0] = i
    for j in range(m + 1):
        d[0][j] = j
    for i in range(1, n + 1):
        for j in range(1, m + 1):
            d[i][j] = min(d[i - 1][j - 1] + (ref[i - 1] != hyp[j - 1]), d[i - 1][j] + 1, d[i][j - 1] + 1)
    ops = []
    i, j = n, m
    while i or j:
        if i and j and d[i][j] == d[i - 1][j - 1] + (ref[i - 1] != hyp[j - 1]):
            ops.append(("ok" if ref[i - 1] == hyp[j - 1] else "sub", i - 1, j - 1))
            i, j = i - 1, j - 1
        elif i and d[i][j] == d[i - 1][j] + 1:
            ops.append(("del", i - 1, None))
            i -= 1
        else:
            ops.append(("ins", None, j - 1))
            j -= 1
    return ops[::-1]


# ---------------------------------------------------------------------------------------------
# OCR normalization

def norm_ocr(text: str) -> str:
    """NFKC (so "℃" = "°C"), casefolded, all whitespace removed; punctuation and symbols kept."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text).casefold())


def similarity(a: str, b: str) -> float:
    return difflib.SequenceMatcher(None, a, b, autojunk=False).ratio()


# ---------------------------------------------------------------------------------------------
# sound: truth kinds -> AudioSet label words (matched at word boundaries, case-insensitive)

KIND_LABELS: dict[str, tuple[str, ...]] = {
    # 1 kHz, 0.25 s
    "beep": ("beep", "bleep", "sine wave", "dial tone", "busy signal", "dtmf", "telephone", "ringtone",
             "buzzer", "alarm", "chirp tone", "sidetone", "microwave oven"),
    # 440 Hz, 2 s steady
    "tone": ("sine wave", "dial tone", "busy signal", "sidetone", "chirp tone", "beep", "bleep", "hum",
             "buzz", "tuning fork", "theremin", "electronic tuner"),
    # 2.5 kHz with vibrato, 0.8 s
    "whistle": ("whistle", "whistling"),
    # pink noise burst, 1.5 s
    "noise": ("noise", "white noise", "pink noise", "static", "hiss"),
    # 660/550 Hz ding-dong
    "chime": ("chime", "bell", "bells", "doorbell", "ding", "ding-dong", "glockenspiel", "vibraphone"),
    # siren sweeping 700-1300 Hz, 3 s
    "alarm": ("siren", "alarm", "buzzer", "smoke detector"),
}
# The kind's own word (and a direct synonym): what a keyword search for the event would need to see.
KIND_WORDS: dict[str, tuple[str, ...]] = {
    "beep": ("beep", "bleep"), "tone": ("tone",), "whistle": ("whistle",), "noise": ("noise",),
    "chime": ("chime", "doorbell"), "alarm": ("alarm", "siren"),
}
EVENT_LIKE = tuple(sorted({w for ws in KIND_LABELS.values() for w in ws}))
NEAR_S = 0.5  # a false alarm with a truth event this close to the window is "bleed", not invention


def label_matches(label: str, words: tuple[str, ...]) -> bool:
    low = label.casefold()
    return any(re.search(r"(?<![\w-])" + re.escape(w) + r"(?![\w-]*\w)", low) for w in words)


def parse_audio_line(text: str) -> list[str]:
    """``"alarm (0.68); telephone (0.91)"`` -> ``["alarm", "telephone"]``; ``"silence"`` -> ``["silence"]``.

    A leading plain-word summary (``"beep, alarm: telephone dialing, dtmf (0.91); ..."``, yamnet v2)
    adds its words as labels too.
    """
    out = []
    head, sep, rest = text.partition(": ")
    if sep and "(" not in head:
        out += [w.strip() for w in head.split(",") if w.strip()]
        text = rest
    for part in text.split("; "):
        part = part.strip()
        out.append(part.rsplit(" (", 1)[0] if part.endswith(")") and " (" in part else part)
    return out


def overlaps(a0: float, a1: float, b0: float, b1: float) -> bool:
    return a0 < b1 and b0 < a1


# ---------------------------------------------------------------------------------------------
# evaluation


def windows_of(store, truth: dict) -> tuple[str, list[dict]]:
    from vqa_pipeline.store.evidence import resolve_video

    video = resolve_video(store, truth["path"])
    cols = ["start_s", "end_s", "asr_words", "asr_lines", "ocr_lines", "audio_lines", "audio_tags"]
    return video["video_id"], store.windows_for(video["video_id"], columns=cols)


def eval_asr(truth: dict, wins: list[dict]) -> dict:
    sentences = truth.get("speech") or []
    # reference tokens, each tagged with its sentence
    ref_items = [item for k, s in enumerate(sentences) for item in tokens_with_source(s["text"], k, 1000 * k)]
    ref = merge_numbers(ref_items)
    # hypothesis words (a word sits in every window holding its midpoint; dedupe by its times)
    words: dict[tuple, dict] = {}
    for wi, w in enumerate(wins):
        for x in w.get("asr_words") or []:
            key = (x["word"], round(x["start_s"], 3), round(x["end_s"], 3))
            words.setdefault(key, {**x, "windows": set()})["windows"].add(wi)
    hyp_words = sorted(words.values(), key=lambda x: (x["start_s"], x["end_s"]))
    items = []
    src = 0
    for k, x in enumerate(hyp_words):
        word = x["word"].strip()
        after_number = k and re.search(r"\d\W*$", hyp_words[k - 1]["word"])
        # Whisper splits "555-0192" into "555" and "-0192": a dash after a number is not "minus"
        if after_number and word.startswith("-"):
            word = word[1:]
        # ... and "4:30" into "4" and ".30": one written number, as in the reference
        if not (after_number and re.match(r"[.:]\d", word)):
            src += 1
        items += [(t, x, src) for t in basic_tokens(word)]
    hyp = merge_numbers(items)
    ref_t, hyp_t = [t for t, _ in ref], [t for t, _ in hyp]
    ops = align(ref_t, hyp_t)
    c = Counter(op for op, _, _ in ops)
    per_sent = [
        {"text": s["text"], "start": s["start"], "end": s["end"], "n": 0, "hits": 0, "placed": 0,
         "errors": [], "hyp_span": None}
        for s in sentences
    ]
    for op, ri, hj in ops:
        if ri is not None:
            k = ref[ri][1][0]
            ps = per_sent[k]
            ps["n"] += 1
            if op == "ok":
                ps["hits"] += 1
                wset = set().union(*(m["windows"] for m in hyp[hj][1]))
                if any(overlaps(wins[wi]["start_s"], wins[wi]["end_s"], ps["start"], ps["end"]) for wi in wset):
                    ps["placed"] += 1
                else:
                    ps["errors"].append(f"misplaced {ref_t[ri]!r}")
            elif op == "sub":
                ps["errors"].append(f"{ref_t[ri]!r}->{hyp_t[hj]!r}")
            else:
                ps["errors"].append(f"missing {ref_t[ri]!r}")
            if hj is not None:
                s0 = min(m["start_s"] for m in hyp[hj][1])
                s1 = max(m["end_s"] for m in hyp[hj][1])
                span = ps["hyp_span"]
                ps["hyp_span"] = (s0, s1) if span is None else (min(span[0], s0), max(span[1], s1))
    inserted = [hyp_t[hj] for op, _, hj in ops if op == "ins"]
    return {
        "ref_words": len(ref_t),
        "hyp_words": len(hyp_t),
        "sub": c["sub"],
        "del": c["del"],
        "ins": c["ins"],
        "hits": c["ok"],
        "wer": (c["sub"] + c["del"] + c["ins"]) / len(ref_t) if ref_t else None,
        "placed": sum(p["placed"] for p in per_sent),
        "sentences": per_sent,
        "inserted": inserted,
        "hypothesis": " ".join(hyp_t),
    }


def ocr_lines_of(wins: list[dict]) -> list[dict]:
    seen, out = set(), []
    for wi, w in enumerate(wins):
        for ln in w.get("ocr_lines") or []:
            key = (round(ln["start_s"], 3), round(ln["end_s"], 3), ln["text"])
            if key not in seen:
                seen.add(key)
                out.append({"start": ln["start_s"], "end": ln["end_s"], "text": ln["text"], "windows": {wi}})
            else:
                next(o for o in out if (round(o["start"], 3), round(o["end"], 3), o["text"]) == key)["windows"].add(wi)
    return out


def eval_ocr(truth: dict, wins: list[dict], fuzzy_at: float) -> dict:
    items = truth.get("onscreen_text") or []
    lines = ocr_lines_of(wins)
    results = []
    for it in items:
        t_norm = norm_ocr(it["text"])
        cands = [ln for ln in lines if overlaps(ln["start"], ln["end"], it["start"], it["end"])]
        exact = [ln for ln in cands if norm_ocr(ln["text"]) == t_norm]
        best, best_text, fuzzy_lines = 0.0, "", []
        for ln in cands:
            r = similarity(norm_ocr(ln["text"]), t_norm)
            if r >= fuzzy_at:
                fuzzy_lines.append(ln)
            if r > best:
                best, best_text = r, ln["text"]
        # a text drawn with a wide gap may come back as two boxes: try co-visible pairs joined
        joined = False
        for a in cands:
            for b in cands:
                if a is b or not (a["windows"] & b["windows"]):
                    continue
                r = similarity(norm_ocr(a["text"] + b["text"]), t_norm)
                if r > best:
                    best, best_text = r, f"{a['text']} + {b['text']}"
                if r >= fuzzy_at and not fuzzy_lines:
                    joined = True
        variants = sorted({ln["text"] for ln in fuzzy_lines if norm_ocr(ln["text"]) != t_norm})
        results.append(
            {
                "text": it["text"], "start": it["start"], "end": it["end"], "position": it.get("position"),
                "exact": bool(exact), "fuzzy": bool(fuzzy_lines) or joined, "joined": joined,
                "best": round(best, 3), "best_text": best_text,
                "coverage": _covered(fuzzy_lines, it["start"], it["end"]),
                "exact_coverage": _covered(exact, it["start"], it["end"]),
                "variants": variants,
            }
        )
    spurious = []
    for ln in lines:
        ln_norm = norm_ocr(ln["text"])
        ok = False
        for it in items:
            if not overlaps(ln["start"], ln["end"], it["start"], it["end"]):
                continue
            t_norm = norm_ocr(it["text"])
            if ln_norm in t_norm or similarity(ln_norm, t_norm) >= fuzzy_at:
                ok = True
                break
        if not ok:
            spurious.append(f"[{ln['start']:.1f}-{ln['end']:.1f}s] {ln['text']}")
    return {"items": results, "lines": len(lines), "spurious": spurious}


def _covered(lines: list[dict], t0: float, t1: float) -> float:
    """Fraction of ``[t0, t1]`` covered by the union of the lines' spans."""
    spans = sorted((max(ln["start"], t0), min(ln["end"], t1)) for ln in lines)
    covered, reach = 0.0, t0
    for a, b in spans:
        a = max(a, reach)
        if b > a:
            covered += b - a
            reach = b
    return covered / (t1 - t0) if t1 > t0 else 0.0


def eval_sound(truth: dict, wins: list[dict]) -> dict:
    events = truth.get("sound_events") or []
    speech = truth.get("speech") or []

    def labels(w: dict, source: str) -> list[str]:
        if source == "line":
            return [lab for ln in (w.get("audio_lines") or []) for lab in parse_audio_line(ln["text"])]
        return [t["label"] for t in (w.get("audio_tags") or [])]

    ev_out = []
    for e in events:
        words = KIND_LABELS.get(e["kind"], (e["kind"],))
        ov = [w for w in wins if overlaps(w["start_s"], w["end_s"], e["start"], e["end"])]
        line_labels = [lab for w in ov for lab in labels(w, "line")]
        tag_labels = [
            f"[{w['start_s']:g}-{w['end_s']:g}s] "
            + (", ".join(f"{t['label']} ({t['score']:.2f})" for t in (w.get("audio_tags") or [])[:4]) or "-")
            for w in ov
        ]
        ev_out.append(
            {
                **e,
                "hit_line": any(label_matches(lab, words) for lab in line_labels),
                "hit_word": any(label_matches(lab, KIND_WORDS.get(e["kind"], (e["kind"],))) for lab in line_labels),
                "hit_tag": any(label_matches(t["label"], words) for w in ov for t in (w.get("audio_tags") or [])),
                "line_labels": line_labels,
                "top_tags": tag_labels,
            }
        )
    quiet = {"windows": 0, "fa_event": 0, "fa_any": 0, "speech_windows": 0, "speech_fa_event": 0,
             "speech_fa_any": 0, "near_event_fa": 0, "examples": []}
    for w in wins:
        if any(overlaps(w["start_s"], w["end_s"], e["start"], e["end"]) for e in events):
            continue
        labs = [lab for lab in labels(w, "line") if lab != "silence"]
        has_speech = any(overlaps(w["start_s"], w["end_s"], s["start"], s["end"]) for s in speech)
        ev = any(label_matches(lab, EVENT_LIKE) for lab in labs)
        # an event just outside the window (a YAMNet patch counts for a window when 70 % inside)
        near = [e for e in events if overlaps(w["start_s"] - NEAR_S, w["end_s"] + NEAR_S, e["start"], e["end"])]
        quiet["near_event_fa"] += ev and bool(near)
        quiet["windows"] += 1
        quiet["fa_event"] += ev
        quiet["fa_any"] += bool(labs)
        quiet["speech_windows"] += has_speech
        quiet["speech_fa_event"] += ev and has_speech
        quiet["speech_fa_any"] += bool(labs) and has_speech
        if ev:
            where = (" speech" if has_speech else "") + "".join(f" {e['kind']}@{e['start']:g}s" for e in near)
            quiet["examples"].append(f"[{w['start_s']:g}-{w['end_s']:g}s{where}] " + "; ".join(labs))
    return {"events": ev_out, "quiet": quiet}


# ---------------------------------------------------------------------------------------------


def parse_options(items: list[str]) -> dict[str, dict]:
    """``["whisper-base.beam_size=5"]`` -> ``{"whisper-base": {"beam_size": 5}}`` (values parsed as JSON if they can be)."""
    out: dict[str, dict] = {}
    for item in items:
        key, sep, value = item.partition("=")
        name, dot, opt = key.rpartition(".")
        if not sep or not dot:
            raise SystemExit(f"--option wants EXTRACTOR.KEY=VALUE, got {item!r}")
        try:
            val = json.loads(value)
        except ValueError:
            val = value
        out.setdefault(name, {})[opt] = val
    return out


def index_sample(paths: list[str], db: str, use_ray: bool, window: float, stride: float,
                 options: dict[str, dict] | None = None, extractors: list[str] | None = None) -> dict:
    from vqa_pipeline.indexing.pipeline import index_paths
    from vqa_pipeline.media.types import WindowingOptions
    from vqa_pipeline.store import Store

    store = Store(db)
    from vqa_pipeline.indexing.runners import InlineRunner

    runner = InlineRunner(options or {})
    if use_ray:
        from vqa_pipeline.indexing.ray_runner import RayOptions, RayRunner

        runner = RayRunner(RayOptions(extractor_options=options or {}))
    try:
        summary = index_paths(paths, store, WindowingOptions(length_s=window, stride_s=stride),
                              profile="lite", runner=runner, extractors=extractors)
    finally:
        runner.close()
    return summary.to_json()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sample", default=str(SAMPLE), help="corpus folder with truth/ (default data/sample)")
    ap.add_argument("--db", help="LanceDB folder to index into / read (default: a fresh temp folder, removed)")
    ap.add_argument("--no-index", action="store_true", help="only read --db, do not index")
    ap.add_argument("--no-ray", action="store_true",
                    help="run the extractors in this process (default: Ray actors, as `vqa index`; Whisper's "
                         "output differs slightly between the two, see docs/benchmarks.md)")
    ap.add_argument("--window", type=float, default=2.0)
    ap.add_argument("--stride", type=float, default=None)
    ap.add_argument("--fuzzy", type=float, default=0.8, help="OCR fuzzy-match similarity (default 0.8)")
    ap.add_argument("--clips", help="comma-separated clip names (default all)")
    ap.add_argument("--extractors", help="comma-separated extractor names instead of the lite profile "
                                         "(e.g. whisper-tiny-en,rapidocr,yamnet)")
    ap.add_argument("--option", action="append", default=[], metavar="EXTRACTOR.KEY=VALUE",
                    help="extractor option, e.g. whisper-base.beam_size=5 (repeatable; use a fresh DB: options "
                         "are not part of the staleness check, so an existing DB is not re-extracted)")
    ap.add_argument("--json", help="write every number (and every miss) to this file")
    ap.add_argument("--quiet-misses", action="store_true", help="do not list the individual misses")
    args = ap.parse_args(argv)
    if args.no_index and not args.db:
        ap.error("--no-index needs --db")

    from vqa_pipeline.store import Store

    sample = Path(args.sample).resolve()
    truths = truth_files(sample, [c.strip() for c in args.clips.split(",")] if args.clips else None)
    if not truths:
        ap.error(f"no truth files under {sample / 'truth'}")
    tmp = None
    db = args.db
    if db is None:
        tmp = tempfile.mkdtemp(prefix="vqa-quality-")
        db = str(Path(tmp) / "db")
    index_info = None
    try:
        if not args.no_index:
            t0 = time.perf_counter()
            paths = [t["path"] for t in truths] if args.clips else [str(sample)]
            index_info = index_sample(paths, db, not args.no_ray, args.window, args.stride or args.window,
                                      parse_options(args.option),
                                      [n.strip() for n in args.extractors.split(",") if n.strip()] if args.extractors else None)
            print(f"indexed into {db} in {time.perf_counter() - t0:.1f}s "
                  f"({index_info['counts']}, missing extractors: {index_info['missing_extractors'] or 'none'})")
        store = Store(db, create=False)
        report = evaluate(store, truths, args.fuzzy)
        report["models"] = model_tags(store)
    finally:
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)
    report["machine"] = machine()
    report["command"] = command_line()
    report["options"] = parse_options(args.option)
    report["runner"] = "in-process" if args.no_ray else "ray"
    report["extractors"] = args.extractors or "lite profile"
    report["index"] = index_info and {k: index_info[k] for k in ("seconds", "media_seconds", "counts", "extractor_seconds")}
    print_report(report, show_misses=not args.quiet_misses)
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2, default=list, ensure_ascii=False) + "\n")
        print(f"wrote {args.json}")
    print()
    print("command:", report["command"])
    return 0


def evaluate(store, truths: list[dict], fuzzy_at: float) -> dict:
    clips = []
    have = set(store.windows.schema.names)
    for t in truths:
        vid, wins = windows_of(store, t)
        row = {"clip": t["clip"], "video_id": vid, "duration_s": t["duration_s"], "windows": len(wins)}
        if t.get("has_audio") and t.get("speech") and "asr_words" in have:
            row["asr"] = eval_asr(t, wins)
        if t.get("onscreen_text") and "ocr_lines" in have:
            row["ocr"] = eval_ocr(t, wins, fuzzy_at)
        if t.get("has_audio") and "audio_lines" in have:
            row["sound"] = eval_sound(t, wins)
        clips.append(row)
    return {"clips": clips, "fuzzy_at": fuzzy_at, "kind_labels": KIND_LABELS}


def print_report(report: dict, show_misses: bool = True) -> None:
    clips = report["clips"]
    print(f"\nmachine: {report['machine']}")
    print(f"extractors: {report.get('extractors', 'lite profile')}; options: {report.get('options') or 'defaults'}; "
          f"indexed by: {report.get('runner', '?') if report.get('index') else 'existing DB'}")
    if report.get("models"):
        print("models: " + "; ".join(f"{g} {', '.join(t)}" for g, t in report["models"].items()))
    rows = []
    tot = Counter()
    for c in clips:
        a, o, s = c.get("asr"), c.get("ocr"), c.get("sound")
        r = [c["clip"], f"{c['duration_s']:.0f}"]
        if a:
            tot.update({k: a[k] for k in ("ref_words", "sub", "del", "ins", "hits", "placed")})
            r += [pct(a["sub"] + a["del"] + a["ins"], a["ref_words"]), f"{a['sub']}/{a['del']}/{a['ins']}",
                  f"{a['placed']}/{a['hits']}"]
        else:
            r += ["-", "-", "-"]
        if o:
            n = len(o["items"])
            ex = sum(i["exact"] for i in o["items"])
            fz = sum(i["fuzzy"] for i in o["items"])
            tot.update({"ocr_n": n, "ocr_exact": ex, "ocr_fuzzy": fz, "ocr_spurious": len(o["spurious"]),
                        "ocr_lines": o["lines"]})
            r += [f"{ex}/{n}", f"{fz}/{n}", f"{len(o['spurious'])}/{o['lines']}"]
        else:
            r += ["-", "-", "-"]
        if s:
            ev = s["events"]
            hl, ht = sum(e["hit_line"] for e in ev), sum(e["hit_tag"] for e in ev)
            tot.update({"snd_word": sum(e["hit_word"] for e in ev)})
            q = s["quiet"]
            tot.update({"snd_n": len(ev), "snd_line": hl, "snd_tag": ht, "q_win": q["windows"], "q_fa": q["fa_event"],
                        "q_any": q["fa_any"]})
            r += [f"{hl}/{len(ev)}", f"{ht}/{len(ev)}", f"{q['fa_event']}/{q['windows']}", f"{q['fa_any']}/{q['windows']}"]
        else:
            r += ["-", "-", "-", "-"]
        rows.append(r)
    def frac(a: str, b: str) -> str:
        return f"{tot[a]}/{tot[b]}" if tot[b] else "-"

    rows.append(
        ["ALL", f"{sum(c['duration_s'] for c in clips):.0f}",
         pct(tot["sub"] + tot["del"] + tot["ins"], tot["ref_words"]),
         f"{tot['sub']}/{tot['del']}/{tot['ins']}" if tot["ref_words"] else "-", frac("placed", "hits"),
         frac("ocr_exact", "ocr_n"), frac("ocr_fuzzy", "ocr_n"), frac("ocr_spurious", "ocr_lines"),
         frac("snd_line", "snd_n"), frac("snd_tag", "snd_n"), frac("q_fa", "q_win"), frac("q_any", "q_win")]
    )
    print()
    print(table(rows, ["clip", "dur s", "WER", "S/D/I", "placed/hits", "OCR exact", "OCR fuzzy", "OCR spurious",
                       "snd line", "snd tag", "FA event", "FA any"]))

    # summary
    ocr_items = [i for c in clips if c.get("ocr") for i in c["ocr"]["items"]]
    sents = [p for c in clips if c.get("asr") for p in c["asr"]["sentences"]]
    onset = sorted(abs(p["hyp_span"][0] - p["start"]) for p in sents if p["hyp_span"])
    offset = sorted(abs(p["hyp_span"][1] - p["end"]) for p in sents if p["hyp_span"])
    full_sent = sum(1 for p in sents if p["n"] and p["placed"] == p["n"])
    cov = [i["coverage"] for i in ocr_items if i["fuzzy"]]
    ecov = [i["exact_coverage"] for i in ocr_items if i["exact"]]
    print()
    summary_rows = [
        ["ASR word error rate (all clips)", pct(tot["sub"] + tot["del"] + tot["ins"], tot["ref_words"]),
         f"{tot['sub']} sub, {tot['del']} del, {tot['ins']} ins over {tot['ref_words']} reference words"],
        ["ASR words in a window overlapping their sentence", pct(tot["placed"], tot["hits"]),
         f"{tot['placed']} of {tot['hits']} correctly recognized words"],
        ["ASR sentences fully recognized and placed", pct(full_sent, len(sents)), f"{full_sent} of {len(sents)}"],
        ["ASR sentence onset / offset error (median)",
         f"{_median(onset):.2f}s / {_median(offset):.2f}s" if onset else "-", "|first word start - truth start|, |last word end - truth end|"],
        ["OCR exact line match", pct(tot["ocr_exact"], tot["ocr_n"]), f"{tot['ocr_exact']} of {tot['ocr_n']} on-screen texts"],
        [f"OCR fuzzy match (similarity >= {report['fuzzy_at']})", pct(tot["ocr_fuzzy"], tot["ocr_n"]),
         f"{tot['ocr_fuzzy']} of {tot['ocr_n']}; {sum(i['joined'] for i in ocr_items)} only as two lines joined"],
        ["OCR span covered by fuzzy matches (mean)", pct(sum(cov), len(cov)), "of the truth time span"],
        ["OCR span covered by exact matches (mean)", pct(sum(ecov), len(ecov)),
         f"{sum(1 for i in ocr_items if i['variants'])} texts also read as a variant somewhere in their span"],
        ["OCR spurious lines", pct(tot["ocr_spurious"], tot["ocr_lines"]), f"{tot['ocr_spurious']} of {tot['ocr_lines']} distinct lines match no truth text"],
        ["Sound events hit (evidence lines)", pct(tot["snd_line"], tot["snd_n"]), f"{tot['snd_line']} of {tot['snd_n']} events"],
        ["Sound events hit (top-5 tags >= 0.1)", pct(tot["snd_tag"], tot["snd_n"]), f"{tot['snd_tag']} of {tot['snd_n']} events"],
        ["Sound events named by their own word in a line", pct(tot["snd_word"], tot["snd_n"]),
         f"{tot['snd_word']} of {tot['snd_n']} (beep/bleep, tone, whistle, noise, chime/doorbell, alarm/siren)"],
        ["Sound false alarms (event-like label, no event)", pct(tot["q_fa"], tot["q_win"]), f"{tot['q_fa']} of {tot['q_win']} windows without events"],
        ["Sound lines in windows without events (any label)", pct(tot["q_any"], tot["q_win"]), f"{tot['q_any']} of {tot['q_win']}"],
    ]
    print(table(summary_rows, ["metric", "value", "detail"], "lrl"))

    # sound by kind
    kinds: dict[str, Counter] = {}
    seen: dict[str, Counter] = {}
    for c in clips:
        for e in (c.get("sound") or {}).get("events", []):
            k = kinds.setdefault(e["kind"], Counter())
            k.update(n=1, line=int(e["hit_line"]), tag=int(e["hit_tag"]), word=int(e["hit_word"]))
            seen.setdefault(e["kind"], Counter()).update(set(e["line_labels"]) - {"silence"})
    print()
    print(table(
        [[k, v["n"], f"{v['line']}/{v['n']}", f"{v['tag']}/{v['n']}", f"{v['word']}/{v['n']}",
          ", ".join(f"{lab} x{n}" for lab, n in sorted(seen[k].items(), key=lambda x: (-x[1], x[0]))[:3]) or "-"] for k, v in sorted(kinds.items())],
        ["sound kind", "events", "hit line", "hit tag", "own word in line", "most common line labels"], "lrrrrl"))
    q_sp = sum(c["sound"]["quiet"]["speech_windows"] for c in clips if c.get("sound"))
    q_sp_fa = sum(c["sound"]["quiet"]["speech_fa_any"] for c in clips if c.get("sound"))
    q_sp_ev = sum(c["sound"]["quiet"]["speech_fa_event"] for c in clips if c.get("sound"))
    q_near = sum(c["sound"]["quiet"]["near_event_fa"] for c in clips if c.get("sound"))
    print(f"windows without events that hold speech: {q_sp}; of those with a sound line: {q_sp_fa} "
          f"(event-like: {q_sp_ev}); event-like false alarms with an event within {NEAR_S:g}s of the window: {q_near}")

    if not show_misses:
        return
    print("\nASR errors per sentence (reference -> hypothesis, normalized):")
    for c in clips:
        for p in (c.get("asr") or {}).get("sentences", []):
            if p["errors"]:
                print(f"  {c['clip']} [{p['start']:.1f}-{p['end']:.1f}s] {p['text']!r}: {', '.join(p['errors'])}")
        ins = (c.get("asr") or {}).get("inserted")
        if ins:
            print(f"  {c['clip']}: inserted {ins}")
    print("\nOCR texts without an exact match, or also read differently (best candidate, similarity):")
    for c in clips:
        for i in (c.get("ocr") or {}).get("items", []):
            if not i["exact"]:
                tag = "fuzzy" if i["fuzzy"] else "MISS"
                print(f"  {c['clip']} [{i['start']:.1f}-{i['end']:.1f}s] {i['text']!r}: {tag}, "
                      f"best {i['best_text']!r} ({i['best']:.2f})")
            elif i["variants"]:
                print(f"  {c['clip']} [{i['start']:.1f}-{i['end']:.1f}s] {i['text']!r}: exact over "
                      f"{100 * i['exact_coverage']:.0f}% of its span; variants {i['variants']}")
    print("\nOCR spurious lines:")
    for c in clips:
        for s in (c.get("ocr") or {}).get("spurious", []):
            print(f"  {c['clip']} {s}")
    print("\nSound events missed in the evidence lines (top tags of the overlapping windows):")
    for c in clips:
        for e in (c.get("sound") or {}).get("events", []):
            if not e["hit_line"]:
                print(f"  {c['clip']} {e['kind']} [{e['start']:.2f}-{e['end']:.2f}s]: lines {e['line_labels'] or '-'}; "
                      f"tags {' | '.join(e['top_tags']) or '-'}")
    print("\nSound false alarms (event-like labels in windows without an event):")
    for c in clips:
        for ex in (c.get("sound") or {}).get("quiet", {}).get("examples", []):
            print(f"  {c['clip']} {ex}")


def _median(xs: list[float]) -> float:
    xs = sorted(xs)
    n = len(xs)
    return (xs[n // 2] if n % 2 else (xs[n // 2 - 1] + xs[n // 2]) / 2) if n else float("nan")


if __name__ == "__main__":
    sys.exit(main())
