"""Dev sets: load and validate question files, and match them against the index.

A dev set is JSON Lines, one question per line (the contract in DESIGN.md)::

    {"id": str, "video": str, "question": str, "answer_any": [str], "relevant": [[start, end], ...]}

``video`` matches an indexed source whose path ends with it (at a path-component boundary).
Validation is strict and every problem is reported with its file and line, so a typo in a
hand-written dev set is a clear error, never a silently wrong score.

Example:
    >>> questions = load_devset(["data/sample/devset.jsonl"])
    >>> resolved = resolve_devset(questions, {"v1": "/data/sample/cooking_tutorial.mp4"}, on_unknown="skip")
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from vqa_pipeline.retrieval.metrics import Gold
from vqa_pipeline.store.catalog import match_videos

REQUIRED_KEYS = ("id", "video", "question", "answer_any", "relevant")
SPLITS = ("dev", "heldout")
MAX_ERRORS_SHOWN = 5


class DevSetError(ValueError):
    """A dev set that cannot be used. ``str(err)`` is one line (the first problems, with line numbers)."""


@dataclass(frozen=True, slots=True)
class DevQuestion:
    """One dev-set question.

    Attributes:
        id: unique id within the loaded dev sets.
        video: path suffix of the indexed source the answer is in.
        question: the question text.
        answer_any: accepted answers (case-insensitive substring); empty for "absent" questions.
        relevant: relevant ``(start_s, end_s)`` spans; empty when the video does not contain the answer.
        origin: ``file:line`` it was read from.
        kind: optional question kind (``ocr``, ``speech``, ``sound``, ``order``, ``yes_no``, ``absent``,
            ...), for per-kind reports.
        split: optional fixed split, ``"dev"`` or ``"heldout"`` (tuning never sees held-out questions);
            questions without one are split by a hash of their id.
    """

    id: str
    video: str
    question: str
    answer_any: tuple[str, ...]
    relevant: tuple[tuple[float, float], ...]
    origin: str = ""
    kind: str = ""
    split: str = ""

    @property
    def gold(self) -> Gold:
        return Gold(self.video, self.relevant)

    @property
    def answerable(self) -> bool:
        return bool(self.relevant)


@dataclass(frozen=True, slots=True)
class ResolvedQuestion:
    """A question whose ``video`` was found in the index."""

    question: DevQuestion
    video_id: str
    source: str


def _span(value, where: str) -> tuple[float, float]:
    if not isinstance(value, (list, tuple)) or len(value) != 2:
        raise DevSetError(f"{where}: a relevant span must be [start, end], got {json.dumps(value)[:60]}")
    if not all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in value):
        raise DevSetError(f"{where}: span {json.dumps(value)[:60]} must hold two numbers")
    a, b = float(value[0]), float(value[1])
    if not (math.isfinite(a) and math.isfinite(b)):
        raise DevSetError(f"{where}: span {json.dumps(value)[:60]} is not finite")
    if a < 0 or b < a:
        raise DevSetError(f"{where}: span [{a:g}, {b:g}] needs 0 <= start <= end")
    return a, b


def parse_question(obj, where: str) -> DevQuestion:
    """Validate one decoded JSON line.

    Raises:
        DevSetError: missing keys, wrong types, or a malformed span (the message names ``where``).
    """
    if not isinstance(obj, dict):
        raise DevSetError(f"{where}: expected a JSON object, got {type(obj).__name__}")
    missing = [k for k in REQUIRED_KEYS if k not in obj]
    if missing:
        raise DevSetError(f"{where}: missing key(s) {', '.join(missing)}")
    for key in ("id", "video", "question"):
        if not isinstance(obj[key], str) or not obj[key].strip():
            raise DevSetError(f"{where}: {key!r} must be a non-empty string")
    answers = obj["answer_any"]
    if not isinstance(answers, list) or not all(isinstance(a, str) for a in answers):
        raise DevSetError(f"{where}: 'answer_any' must be a list of strings")
    spans = obj["relevant"]
    if not isinstance(spans, list):
        raise DevSetError(f"{where}: 'relevant' must be a list of [start, end] spans")
    # Extra keys are ignored (DESIGN.md): only a "split" of dev/heldout and a string "kind" mean anything.
    raw_split, raw_kind = obj.get("split"), obj.get("kind")
    split = raw_split.strip() if isinstance(raw_split, str) else ""
    split = split if split in SPLITS else ""
    kind = raw_kind.strip() if isinstance(raw_kind, str) else ""
    return DevQuestion(
        id=obj["id"].strip(), video=obj["video"].strip(), question=obj["question"],
        answer_any=tuple(answers), relevant=tuple(_span(s, where) for s in spans), origin=where,
        kind=kind, split=split,
    )


def _raise_collected(errors: list[str]) -> None:
    if errors:
        more = f" (and {len(errors) - MAX_ERRORS_SHOWN} more)" if len(errors) > MAX_ERRORS_SHOWN else ""
        raise DevSetError("; ".join(errors[:MAX_ERRORS_SHOWN]) + more)


def load_devset(paths: str | Path | Iterable[str | Path]) -> list[DevQuestion]:
    """Read and validate one or more dev-set files (blank lines are skipped).

    Raises:
        DevSetError: a missing or unreadable file, a malformed line, duplicate ids, or no question
            at all. Every malformed line is collected; the message shows the first few.
    """
    items: Iterable[str | Path] = [paths] if isinstance(paths, (str, Path)) else paths
    files = [Path(p) for p in items]
    if not files:
        raise DevSetError("no dev-set file given")
    out: list[DevQuestion] = []
    errors: list[str] = []
    seen: dict[str, str] = {}
    for path in files:
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise DevSetError(f"dev set {path} not found") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise DevSetError(f"dev set {path} is unreadable ({type(exc).__name__})") from None
        for n, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            where = f"{path.name}:{n}"
            try:
                q = parse_question(json.loads(line), where)
            except json.JSONDecodeError as exc:
                errors.append(f"{where}: not valid JSON ({exc.msg})")
                continue
            except DevSetError as exc:
                errors.append(str(exc))
                continue
            if q.id in seen:
                errors.append(f"{where}: duplicate id {q.id!r} (first at {seen[q.id]})")
                continue
            seen[q.id] = where
            out.append(q)
    _raise_collected(errors)
    if not out:
        raise DevSetError(f"dev set {', '.join(str(p) for p in files)} holds no question")
    return out


def resolve_devset(questions: Sequence[DevQuestion], catalog: Mapping[str, str],
                   on_unknown: Literal["error", "skip"] = "error") -> tuple[list[ResolvedQuestion], list[DevQuestion]]:
    """Match each question's ``video`` to one indexed video.

    Args:
        questions: validated questions.
        catalog: ``{video_id: source path}`` of the index.
        on_unknown: ``"error"``: a question naming a video that is not indexed (or that matches
            several indexed sources) is an error; ``"skip"``: such questions are returned apart.

    Returns:
        ``(resolved, skipped)``.

    Raises:
        DevSetError: unknown or ambiguous videos with ``on_unknown="error"``, or no question left.
    """
    resolved: list[ResolvedQuestion] = []
    skipped: list[DevQuestion] = []
    errors: list[str] = []
    sources = {vid: (src,) for vid, src in catalog.items()}
    for q in questions:
        matches = match_videos(q.video, sources)
        if len(matches) == 1:
            resolved.append(ResolvedQuestion(q, matches[0], catalog[matches[0]]))
            continue
        why = "is not indexed" if not matches else f"matches {len(matches)} indexed files"
        errors.append(f"{q.origin or q.id}: video {q.video!r} {why}")
        skipped.append(q)
    if errors and on_unknown == "error":
        unknown = sorted({q.video for q in skipped})
        errors.insert(0, f"{len(skipped)} question(s) name videos not usable in this index ({', '.join(unknown[:5])})")
        _raise_collected(errors)
    if not resolved:
        raise DevSetError("no dev-set question names an indexed video")
    return resolved, skipped
