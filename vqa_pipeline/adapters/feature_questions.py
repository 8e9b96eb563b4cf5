"""Held-out "feature questions": asked of one window, answered by its features, not by its text.

From a clip's truth file (:mod:`vqa_pipeline.corpus.generate` knows every scene, sound and spoken
line with its time) each indexed window gets up to four closed questions:

=================  ==========================================  ===========  ======================
kind               question                                    answers      evidence withheld
=================  ==========================================  ===========  ======================
``sound``          which sound is heard                        the 6 kinds,  audio (sound tags)
                                                               ``none``
``speech``         speech, another sound, or silence           3 words      audio and asr
``colour``         which colour fills the picture              6 colours    visual
``scene_change``   does the scene cut to another               yes / no     visual
=================  ==========================================  ===========  ======================

The evidence lines of the modality that would give the answer away are left out of the prompt, so
the answer is in the features (YAMNet scores, colour statistics, the thumbnail) but not in the
text. Windows whose answer is ambiguous (two sounds, a sound cut by the window edge, a scene cut
at the edge) get no question of that kind. Answers are one word from a closed set: accuracy is an
exact match of the first answer word in the reply.
"""

from __future__ import annotations

import json
import re
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from vqa_pipeline.corpus.synth import SOUND_KINDS
from vqa_pipeline.evidence import clean_text

COLOURS = ("red", "green", "blue", "yellow", "purple", "orange")
KINDS: dict[str, dict] = {
    "sound": {
        "question": "Which sound is heard in this moment?",
        "choices": (*SOUND_KINDS, "none"),
        "withhold": ("audio",),
        "modality": "audio",
    },
    "speech": {
        "question": "Is there speech, another sound, or silence in this moment?",
        "choices": ("speech", "sound", "silence"),
        "withhold": ("audio", "asr"),
        "modality": "audio",
    },
    "colour": {
        "question": "Which colour fills the picture in this moment?",
        "choices": COLOURS,
        "withhold": ("visual",),
        "modality": "visual",
    },
    "scene_change": {
        "question": "Does the picture cut to another scene in this moment?",
        "choices": ("yes", "no"),
        "withhold": ("visual",),
        "modality": "visual",
    },
}
EVIDENCE_KINDS = ("asr", "ocr", "audio", "visual", "objects", "people", "vp_tags")
MIN_SOUND_COVER = 0.8  # share of a short sound (or 0.4 s of a long one) inside the window to count
EDGE_S = 0.15  # a scene cut this close to a window edge is not asked about
MIN_COLOUR_SHARE = 0.6


class FeatureQuestionError(Exception):
    """No feature questions can be built (no truth files, nothing matches): one line."""


@dataclass(frozen=True, slots=True)
class FeatureQuestion:
    """One closed question about one window.

    Attributes:
        id: ``<clip>@<window start>:<kind>``.
        video: the clip's file name (the truth's ``clip``).
        window_id: the indexed window asked about.
        kind: a key of :data:`KINDS`.
        question: the question text.
        prompt: the evidence lines left after withholding, then the question and the answer choices.
        answer: the right choice.
        choices: the closed answer set.
        withheld: the evidence kinds left out of the prompt.
        split: ``train`` or ``heldout`` (by video).
    """

    id: str
    video: str
    window_id: str
    kind: str
    question: str
    prompt: str
    answer: str
    choices: tuple[str, ...]
    withheld: tuple[str, ...]
    split: str = "train"

    def to_json(self) -> dict:
        return asdict(self)


def _overlap(a0: float, a1: float, b0: float, b1: float) -> float:
    return max(0.0, min(a1, b1) - max(a0, b0))


def _counts(event: dict, w0: float, w1: float) -> bool:
    length = event["end"] - event["start"]
    return _overlap(event["start"], event["end"], w0, w1) >= min(MIN_SOUND_COVER * length, 0.4)


def window_answers(truth: dict, w0: float, w1: float) -> dict[str, str]:
    """The answers the truth gives for the window ``[w0, w1)``, by kind (ambiguous kinds left out)."""
    out: dict[str, str] = {}
    if truth.get("has_audio"):
        touching = [e for e in truth["sound_events"] if _overlap(e["start"], e["end"], w0, w1) > 0]
        counted = {e["kind"] for e in touching if _counts(e, w0, w1)}
        said = [s for s in truth["speech"] if _overlap(s["start"], s["end"], w0, w1) > 0]
        spoken = any(_overlap(s["start"], s["end"], w0, w1) >= 0.5 for s in said)
        if len(counted) == 1 and len(counted) == len({e["kind"] for e in touching}):
            out["sound"] = counted.pop()
        elif not touching:
            out["sound"] = "none"
        if spoken and not touching:
            out["speech"] = "speech"
        elif out.get("sound", "none") != "none" and not said:
            out["speech"] = "sound"
        elif not touching and not said:
            out["speech"] = "silence"
    if truth.get("width"):
        scenes = truth["scenes"]
        share = {s["color_name"].split()[-1]: _overlap(s["start"], s["end"], w0, w1) / (w1 - w0) for s in scenes}
        best = max(share, key=lambda c: share[c]) if share else None
        if best in COLOURS and share[best] >= MIN_COLOUR_SHARE:
            out["colour"] = best
        cuts = [s["start"] for s in scenes[1:]]
        near = any(abs(c - w0) < EDGE_S or abs(c - w1) < EDGE_S for c in cuts)
        if not near:
            out["scene_change"] = "yes" if any(w0 < c < w1 for c in cuts) else "no"
    return out


def _evidence_lines(row: dict, withhold: Sequence[str]) -> list[str]:
    lines = []
    for kind in EVIDENCE_KINDS:
        if kind in withhold:
            continue
        for line in row.get(f"{kind}_lines") or []:
            shown = "visual" if kind in ("objects", "people", "vp_tags") else kind
            lines.append(f'"[{line["start_s"]:.1f}-{line["end_s"]:.1f}s] {shown}: {clean_text(shown, line["text"])}"')
    return lines


def build_prompt(question: str, choices: Sequence[str], lines: Sequence[str]) -> str:
    """The text part of a feature question: evidence (possibly none), question, answer choices."""
    evidence = "\n".join(lines) if lines else "(no text evidence)"
    return (f"Evidence:\n{evidence}\n"
            f"Question: {question} Answer with one word: {', '.join(choices)}.\n"
            "Answer:")


def questions_for_window(truth: dict, row: dict, kinds: Sequence[str] = tuple(KINDS)) -> list[FeatureQuestion]:
    """The feature questions of one indexed window (a row with ``window_id``, ``start_s``,
    ``end_s`` and the ``*_lines`` evidence columns) of the clip described by ``truth``."""
    w0, w1 = float(row["start_s"]), float(row["end_s"])
    answers = window_answers(truth, w0, w1)
    out = []
    for kind in kinds:
        if kind not in answers:
            continue
        spec = KINDS[kind]
        prompt = build_prompt(spec["question"], spec["choices"], _evidence_lines(row, spec["withhold"]))
        out.append(FeatureQuestion(f"{Path(truth['clip']).stem}@{w0:.1f}:{kind}", truth["clip"], row["window_id"], kind,
                                   spec["question"], prompt, answers[kind], tuple(spec["choices"]),
                                   tuple(spec["withhold"])))
    return out


def heldout_videos(videos: Iterable[str], share: float = 0.3, seed: int = 0) -> set[str]:
    """A seeded share of the videos (at least one, never all when there are two or more)."""
    names = sorted(set(videos))
    if not names:
        return set()
    ranked = sorted(names, key=lambda v: zlib.crc32(f"{seed}|{v}".encode()))
    n = min(max(1, round(share * len(names))), max(len(names) - 1, 1))
    return set(ranked[:n])


def build_questions(rows: Iterable[dict], truth_dirs: Sequence[str | Path], kinds: Sequence[str] = tuple(KINDS),
                    heldout_share: float = 0.3, seed: int = 0) -> list[FeatureQuestion]:
    """Feature questions for every indexed window whose file has a truth file in ``truth_dirs``,
    split by video into ``train`` and ``heldout``.

    Raises:
        FeatureQuestionError: no truth file matches any indexed file, or no window gets a question.
    """
    truths: dict[str, dict] = {}
    for folder in truth_dirs:
        for path in sorted(Path(folder).glob("*.json")):
            try:
                t = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                raise FeatureQuestionError(f"truth file {path} is unreadable: {exc}") from None
            if isinstance(t, dict) and "clip" in t:
                truths[t["clip"]] = t
    if not truths:
        raise FeatureQuestionError(f"no truth files (*.json with a 'clip') in {', '.join(map(str, truth_dirs))}")
    questions: list[FeatureQuestion] = []
    for row in rows:
        truth = truths.get(Path(str(row.get("source") or "")).name)
        if truth is not None:
            questions += questions_for_window(truth, row, kinds)
    if not questions:
        raise FeatureQuestionError("no indexed window belongs to a clip with a truth file, so there are no feature "
                                   "questions (index the clips of the truth folder first)")
    held = heldout_videos((q.video for q in questions), heldout_share, seed)
    return [_with_split(q, "heldout" if q.video in held else "train") for q in questions]


def _with_split(q: FeatureQuestion, split: str) -> FeatureQuestion:
    d = q.to_json()
    d["split"] = split
    return FeatureQuestion(**d)


_WORD = re.compile(r"[a-z]+")


def predicted_choice(text: str, choices: Sequence[str]) -> str | None:
    """The first answer choice written as a word in ``text`` (case-insensitive), or ``None``."""
    for word in _WORD.findall(text.lower()):
        if word in choices:
            return word
    return None


def is_correct(text: str, q: FeatureQuestion) -> bool:
    return predicted_choice(text, q.choices) == q.answer
