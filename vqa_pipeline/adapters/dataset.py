"""The adapter data set: feature questions with their windows' feature arrays, split by video.

:func:`prepare_corpus` makes (or reuses) the generated clips and their lite index;
:func:`build_dataset` reads the windows' features and builds the questions; :func:`save_dataset`
and :func:`load_dataset` keep one as ``questions.jsonl`` + ``features.npz`` (a Dagster asset
hands it on that way, and the CLI caches it).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from vqa_pipeline.adapters.feature_corpus import make_corpus
from vqa_pipeline.adapters.feature_questions import FeatureQuestion, build_questions
from vqa_pipeline.adapters.window_features import DEFAULT_MODALITIES, WindowFeatures, read_windows

TRUTH_OF_SAMPLE = Path(__file__).resolve().parents[2] / "data" / "sample" / "truth"


class DatasetError(Exception):
    """A data set folder that cannot be read: one line naming it."""


@dataclass(slots=True)
class AdapterDataset:
    """Feature questions and, for each question's window, one array per modality (or ``None``)."""

    questions: list[FeatureQuestion]
    features: dict[str, dict[str, np.ndarray | None]]  # window id -> modality -> array
    tags: dict[str, str]  # modality -> model tag of the values
    shapes: dict[str, tuple[int, ...]]
    db: str = ""

    @property
    def modalities(self) -> tuple[str, ...]:
        return tuple(self.tags)

    def split(self, name: str) -> list[FeatureQuestion]:
        return [q for q in self.questions if q.split == name]

    def of(self, q: FeatureQuestion) -> dict[str, np.ndarray | None]:
        return self.features[q.window_id]

    def summary(self) -> dict:
        train, held = self.split("train"), self.split("heldout")
        return {"questions": len(self.questions), "train": len(train), "heldout": len(held),
                "train_videos": len({q.video for q in train}), "heldout_videos": len({q.video for q in held}),
                "windows": len(self.features), "modalities": dict(self.tags),
                "kinds": {k: sum(q.kind == k for q in self.questions) for k in sorted({q.kind for q in self.questions})}}


def corpus_paths(home: str | Path) -> tuple[Path, Path]:
    """``(media folder, index folder)`` of the generated corpus under ``home``."""
    return Path(home) / "media", Path(home) / "lance"


def prepare_corpus(home: str | Path, n: int = 48, seed: int = 0,
                   progress: Callable[[str, dict], None] | None = None) -> tuple[Path, Path]:
    """Generate ``n`` clips (seeded, reused when present) and index them with the lite profile,
    in this process (no Ray); returns ``(media folder, index folder)``. Re-running indexes nothing new."""
    from vqa_pipeline.indexing.pipeline import index_paths
    from vqa_pipeline.store.tables import Store

    media, lance = corpus_paths(home)
    make_corpus(media, n, seed, (lambda d, t: progress("clips", {"done": d, "n": t})) if progress else None)
    summary = index_paths([media], Store(lance, writer="vqa adapt"), profile="lite")
    if summary.files and summary.count("failed") == len(summary.files):
        raise DatasetError(f"none of the generated clips in {media} could be indexed")
    return media, lance


def build_dataset(db: str | Path, truth_dirs: Sequence[str | Path], modalities: Sequence[str] = DEFAULT_MODALITIES,
                  heldout_share: float = 0.3, seed: int = 0) -> AdapterDataset:
    """Feature questions for the windows of ``db`` whose clip has a truth file, with their features.

    Raises:
        FeatureError: unusable features; FeatureQuestionError: no questions.
    """
    wf: WindowFeatures = read_windows(db, modalities)
    questions = build_questions(wf.rows.values(), truth_dirs, heldout_share=heldout_share, seed=seed)
    used = {q.window_id for q in questions}
    feats = {w: f for w, f in wf.by_window().items() if w in used}
    return AdapterDataset(questions, feats, dict(wf.tags), dict(wf.shapes), str(db))


def save_dataset(ds: AdapterDataset, folder: str | Path) -> Path:
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    arrays = {f"{w}|{m}": v for w, f in ds.features.items() for m, v in f.items() if v is not None}
    savez: Any = np.savez_compressed  # its stubs type **arrays as its own keyword options
    savez(out / "features.npz", **arrays)
    (out / "questions.jsonl").write_text("".join(json.dumps(q.to_json()) + "\n" for q in ds.questions))
    meta = {"tags": ds.tags, "shapes": {m: list(s) for m, s in ds.shapes.items()}, "db": ds.db,
            "windows": sorted(ds.features)}
    (out / "dataset.json").write_text(json.dumps(meta, indent=2) + "\n")
    return out


def load_dataset(folder: str | Path) -> AdapterDataset:
    """Read a folder written by :func:`save_dataset`.

    Raises:
        DatasetError: a missing or damaged file (named).
    """
    folder = Path(folder)
    try:
        meta = json.loads((folder / "dataset.json").read_text())
        questions = []
        for line in (folder / "questions.jsonl").read_text().splitlines():
            d = json.loads(line)
            d["choices"], d["withheld"] = tuple(d["choices"]), tuple(d["withheld"])
            questions.append(FeatureQuestion(**d))
        with np.load(folder / "features.npz") as z:
            stored = {k: z[k] for k in z.files}
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise DatasetError(f"the adapter data set in {folder} is missing or damaged: {type(exc).__name__}: "
                           f"{' '.join(str(exc).split())[:200]}") from None
    tags = meta["tags"]
    feats = {w: {m: stored.get(f"{w}|{m}") for m in tags} for w in meta["windows"]}
    return AdapterDataset(questions, feats, tags, {m: tuple(s) for m, s in meta["shapes"].items()}, meta.get("db", ""))
