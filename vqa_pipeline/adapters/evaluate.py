"""Scoring the adapter route three ways on the same held-out feature questions, and on the dev set.

- ``no_soft``: the LLM with the prompt only (the withheld modality's evidence is not in it);
- ``probe``: a linear probe on the same features (:mod:`probe`), fitted on the training split: the
  ceiling of what the features say;
- ``adapter``: the LLM with the adapter's soft tokens before the same prompt.

An answerer is any ``(question, features) -> reply text`` callable, so the same loop scores a
real decoder, a tiny random-weight one in tests, or another model. The dev-set comparison asks
each question through :func:`vqa_pipeline.query.ask` with text evidence, once without and once
with the soft tokens of the windows retrieval picked, and reports the answer-accuracy delta.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np

from vqa_pipeline.adapters.dataset import AdapterDataset
from vqa_pipeline.adapters.feature_questions import FeatureQuestion, is_correct, predicted_choice
from vqa_pipeline.adapters.probe import fit_probe, flatten

Answerer = Callable[[FeatureQuestion, Mapping[str, np.ndarray | None]], str]
Progress = Callable[[str, dict], None]

GOAL_OVER_NO_SOFT = 0.30
GOAL_UNDER_PROBE = 0.10
GOAL_DEV_DELTA = -0.02


class EvaluationError(Exception):
    """Nothing to evaluate on (no held-out or no training questions): one line."""


def probe_predictions(ds: AdapterDataset, heldout: Sequence[FeatureQuestion]) -> dict[str, str]:
    """Question id -> the probe's answer; one probe per question kind, fitted on the training split."""
    out: dict[str, str] = {}
    train = ds.split("train")
    for kind in sorted({q.kind for q in heldout}):
        fit_on = [q for q in train if q.kind == kind]
        asked = [q for q in heldout if q.kind == kind]
        if not fit_on:
            continue
        if len({q.answer for q in fit_on}) == 1:  # one class seen: the probe can only say it
            out.update({q.id: fit_on[0].answer for q in asked})
            continue
        x = np.stack([flatten(ds.of(q), ds.shapes) for q in fit_on])
        probe = fit_probe(x, [q.answer for q in fit_on])
        pred = probe.predict(np.stack([flatten(ds.of(q), ds.shapes) for q in asked]))
        out.update({q.id: p for q, p in zip(asked, pred)})
    return out


def evaluate_feature_questions(ds: AdapterDataset, answerers: Mapping[str, Answerer], split: str = "heldout",
                               progress: Progress | None = None, limit: int | None = None) -> dict:
    """Accuracy of each answerer and of the probe on the ``split`` questions, overall and per kind.

    Returns:
        ``{"n", "split", "accuracy": {method: float}, "by_kind": {kind: {"n", method: float}},
        "goals": {...}, "examples": [first few replies]}``.

    Raises:
        EvaluationError: no questions in ``split`` or none to fit the probe on.
    """
    qs = ds.split(split)[:limit] if limit else ds.split(split)
    if not qs:
        raise EvaluationError(f"the data set has no {split} feature questions (a dev set or index without clips "
                              "that have truth files gives none)")
    if not ds.split("train"):
        raise EvaluationError("the data set has no training feature questions to fit the probe on")
    correct: dict[str, list[bool]] = {m: [] for m in (*answerers, "probe")}
    probe = probe_predictions(ds, qs)
    examples: list[dict] = []
    for done, q in enumerate(qs, 1):
        feats = ds.of(q)
        row = {"id": q.id, "answer": q.answer}
        for name, answer in answerers.items():
            reply = answer(q, feats)
            correct[name].append(is_correct(reply, q))
            row[name] = reply
        correct["probe"].append(probe.get(q.id) == q.answer)
        row["probe"] = probe.get(q.id, "")
        if len(examples) < 8:
            examples.append(row)
        if progress is not None:
            progress("evaluate", {"done": done, "n": len(qs)})
    acc = {m: float(np.mean(v)) for m, v in correct.items()}
    by_kind = {}
    for kind in sorted({q.kind for q in qs}):
        idx = [i for i, q in enumerate(qs) if q.kind == kind]
        by_kind[kind] = {"n": len(idx), **{m: float(np.mean([v[i] for i in idx])) for m, v in correct.items()}}
        by_kind[kind]["chance"] = 1.0 / len(next(q for q in qs if q.kind == kind).choices)
    out = {"n": len(qs), "split": split, "accuracy": acc, "by_kind": by_kind, "examples": examples}
    if "adapter" in acc and "no_soft" in acc:
        out["goals"] = {
            "adapter_minus_no_soft": round(acc["adapter"] - acc["no_soft"], 4),
            "probe_minus_adapter": round(acc["probe"] - acc["adapter"], 4),
            "over_no_soft_met": acc["adapter"] - acc["no_soft"] >= GOAL_OVER_NO_SOFT,
            "near_probe_met": acc["probe"] - acc["adapter"] <= GOAL_UNDER_PROBE,
        }
    return out


def answered_choices(replies: Sequence[str], qs: Sequence[FeatureQuestion]) -> list[str | None]:
    return [predicted_choice(r, q.choices) for r, q in zip(replies, qs)]


def markdown_table(report: Mapping) -> str:
    """The three-way comparison as a markdown table (per kind, then overall)."""
    methods = [m for m in ("no_soft", "probe", "adapter") if m in report["accuracy"]]
    head = "| kind | n | chance | " + " | ".join(methods) + " |\n|---|---|---|" + "---|" * len(methods) + "\n"
    rows = []
    for kind, v in report["by_kind"].items():
        rows.append(f"| {kind} | {v['n']} | {v['chance']:.2f} | " + " | ".join(f"{v[m]:.2f}" for m in methods) + " |")
    rows.append(f"| **all** | {report['n']} | | " + " | ".join(f"**{report['accuracy'][m]:.2f}**" for m in methods) + " |")
    return head + "\n".join(rows) + "\n"
