"""Fusing per-model ranked lists into one ranking: reciprocal rank fusion or weighted z-scores.

- **RRF**: ``fused(w) = sum_m weight_m / (rrf_k + rank_m(w))`` with 1-based ranks; a model that did
  not return ``w`` adds nothing.
- **z-score**: per model, scores are standardized over the model's returned list,
  ``z = (s - mean) / std`` (0 when the list has one score or zero spread), divided by the model's
  temperature, and summed with the model weights: ``fused(w) = sum_m weight_m * z_m(w) / T_m``. A
  window a model did not return gets that model's lowest z (as bad as its worst returned window).

Weights default to 1.0 (except :data:`DEFAULT_WEIGHTS`) and temperatures to 1.0 for models not
named in the config; the default method is z-score fusion (see :data:`DEFAULT_WEIGHTS` for why). Ties in the
fused score are broken by window id so results are reproducible.

A :class:`FusionConfig` is usually tuned (Optuna over the dev set) and stored as JSON with the
model tags it was tuned for; :func:`load_fusion_config` falls back to defaults, with a warning, when
the file is missing, corrupt, or stale (tuned for other model tags).

Example:
    >>> fused = fuse({"emb_text": [("a", 0.9), ("b", 0.8)], "bm25": [("b", 3.0)]}, FusionConfig("rrf"))
    >>> fused.ranked[0][0]
    'b'
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from vqa_pipeline.store.location import SideFile, as_side_file, side_file

log = logging.getLogger(__name__)

FusionMethod = Literal["rrf", "zscore"]
FUSION_METHODS: tuple[str, ...] = ("rrf", "zscore")
DEFAULT_RRF_K = 60.0
MISSING_Z_GAP = 1.0
"""In z-score fusion a window a model did not return scores this far below the model's worst
returned window (so a model returning a single hit, e.g. one exact BM25 match, still counts)."""
DEFAULT_METHOD: FusionMethod = "zscore"
DEFAULT_WEIGHTS: dict[str, float] = {"emb_audio_labels": 0.3}
"""Untuned defaults. On the bundled sample dev set (57 answerable questions, lite profile) equal-weight
RRF scored nDCG@10 0.55 / MRR 0.64: the sound-label column ranks every window that has sound tags,
relevant or not, and RRF rewards mere presence in a list. z-scores with the sound-label column at
0.3 scored 0.66 / 0.75 (text vectors alone: 0.65 / 0.71). Tuning replaces these."""


@dataclass(frozen=True, slots=True)
class FusionConfig:
    """How per-model rankings are combined.

    Attributes:
        method: ``"rrf"`` (reciprocal rank fusion) or ``"zscore"`` (weighted z-score sum).
        weights: per-model weight; models not listed weigh ``default_weight`` (defaults:
            :data:`DEFAULT_WEIGHTS`).
        rrf_k: RRF damping constant (larger = flatter).
        temperatures: per-model z-score temperature (z is divided by it); default 1.0.
        model_tags: ``{model: tag}`` the config was tuned for (empty for the built-in defaults).
        default_weight: weight of models not in ``weights``.
    """

    method: FusionMethod = DEFAULT_METHOD
    weights: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_WEIGHTS))
    rrf_k: float = DEFAULT_RRF_K
    temperatures: Mapping[str, float] = field(default_factory=dict)
    model_tags: Mapping[str, str] = field(default_factory=dict)
    default_weight: float = 1.0

    def __post_init__(self) -> None:
        if self.method not in FUSION_METHODS:
            raise ValueError(f"unknown fusion method {self.method!r}; known: {', '.join(FUSION_METHODS)}")
        if not (math.isfinite(self.rrf_k) and self.rrf_k >= 0):
            raise ValueError(f"rrf_k must be a finite number >= 0, got {self.rrf_k}")
        for name, table in (("weight", self.weights), ("temperature", self.temperatures)):
            for model, value in table.items():
                if not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
                    raise ValueError(f"{name} of {model!r} must be a finite number >= 0, got {value!r}")
        if any(t == 0 for t in self.temperatures.values()):
            raise ValueError("temperatures must be > 0")

    def weight(self, model: str) -> float:
        return float(self.weights.get(model, self.default_weight))

    def temperature(self, model: str) -> float:
        return float(self.temperatures.get(model, 1.0))

    def to_dict(self) -> dict:
        return {
            "method": self.method,
            "weights": dict(self.weights),
            "rrf_k": self.rrf_k,
            "temperatures": dict(self.temperatures),
            "model_tags": dict(self.model_tags),
            "default_weight": self.default_weight,
        }

    @classmethod
    def from_dict(cls, data: Mapping) -> FusionConfig:
        """Build from a JSON object; unknown keys are ignored, wrong types raise ``ValueError``."""
        if not isinstance(data, Mapping):
            raise ValueError("fusion config must be a JSON object")
        known = {f.name for f in dataclasses.fields(cls)}
        kwargs = {k: v for k, v in data.items() if k in known}
        for key in ("weights", "temperatures", "model_tags"):
            if key in kwargs and not isinstance(kwargs[key], Mapping):
                raise ValueError(f"{key} must be an object")
            if key in kwargs:
                kwargs[key] = dict(kwargs[key])
        for key in ("rrf_k", "default_weight"):
            if key in kwargs:
                kwargs[key] = float(kwargs[key])
        return cls(**kwargs)

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n", encoding="utf-8")


def stale_models(config: FusionConfig, current_tags: Mapping[str, str]) -> list[str]:
    """Models whose tuned tag differs from the current one (models absent on either side are fine)."""
    return sorted(m for m, tag in config.model_tags.items() if m in current_tags and current_tags[m] != tag)


FUSION_FILE = "fusion.json"
"""Where a tuned config lives: in the database folder, beside the tables it was tuned on."""


def index_fusion(db: str | Path, current_tags: Mapping[str, str],
                 fusion: FusionConfig | str | Path | None = None) -> tuple[FusionConfig, str | None, bool]:
    """The fusion config a query on the index at ``db`` uses: ``(config, warning, tuned)``.

    Args:
        db: the database folder; ``<db>/fusion.json`` is used when ``fusion`` is ``None``.
        current_tags: ``{retriever: model tag}`` of the index (a config tuned for others is stale).
        fusion: an explicit config (used as is), or a JSON file to read instead of ``<db>/fusion.json``.

    Returns:
        ``tuned`` is False when the defaults are used (no file, or it was corrupt or stale; then
        ``warning`` says why, as :func:`load_fusion_config` does).
    """
    if isinstance(fusion, FusionConfig):
        return fusion, None, True
    path = Path(fusion) if fusion is not None else side_file(db, FUSION_FILE)
    if fusion is None and not path.is_file():
        return FusionConfig(), None, False
    config, warning = load_fusion_config(path, current_tags)
    return config, warning, warning is None


def load_fusion_config(path: str | SideFile | None, current_tags: Mapping[str, str] | None = None) -> tuple[FusionConfig, str | None]:
    """Read a tuned fusion config, falling back to the defaults when it cannot be trusted.

    Args:
        path: JSON file written by :meth:`FusionConfig.save` (``None`` = use the defaults silently).
        current_tags: ``{model: tag}`` of the models searched now, for the staleness check.

    Returns:
        ``(config, warning)``; ``warning`` is a one-line reason when the defaults were used instead
        of the file, else ``None``. The warning is also logged.
    """
    if path is None:
        return FusionConfig(), None
    p = as_side_file(path)
    reason = None
    try:
        config = FusionConfig.from_dict(json.loads(p.read_text(encoding="utf-8")))
    except FileNotFoundError:
        reason = f"fusion config {p} not found; using default fusion"
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, ValueError, TypeError) as exc:
        reason = f"fusion config {p} is unreadable ({type(exc).__name__}); using default fusion"
    else:
        stale = stale_models(config, current_tags or {})
        if not stale:
            return config, None
        reason = f"fusion config {p} was tuned for other versions of {', '.join(stale)}; using default fusion"
    log.warning(reason)
    return FusionConfig(), reason


@dataclass(frozen=True, slots=True)
class FusedRanking:
    """Fusion result.

    Attributes:
        ranked: ``[(window_id, fused_score)]`` best first.
        per_model: ``{window_id: {model: raw score}}`` for every model that returned the window.
        config: the configuration used.
    """

    ranked: list[tuple[str, float]]
    per_model: dict[str, dict[str, float]]
    config: FusionConfig

    def top(self, k: int) -> list[tuple[str, float]]:
        return self.ranked[:k]


def dedupe_ranked(ranked: Sequence[tuple[str, float]]) -> list[tuple[str, float]]:
    """First occurrence of each window, in order (as fusion and the metrics count them)."""
    seen: set[str] = set()
    out = []
    for wid, score in ranked:
        if wid not in seen:
            seen.add(wid)
            out.append((wid, float(score)))
    return out


def rrf(lists: Mapping[str, Sequence[tuple[str, float]]], config: FusionConfig) -> dict[str, float]:
    """Reciprocal rank fusion scores ``{window_id: sum_m w_m / (rrf_k + rank)}``."""
    fused: dict[str, float] = {}
    for model, ranked in lists.items():
        w = config.weight(model)
        for rank, (wid, _) in enumerate(dedupe_ranked(ranked), start=1):
            fused[wid] = fused.get(wid, 0.0) + w / (config.rrf_k + rank)
    return fused


def zscores(ranked: Sequence[tuple[str, float]]) -> dict[str, float]:
    """``{window_id: (score - mean) / std}`` over one model's list; all zeros without spread."""
    items = dedupe_ranked(ranked)
    if not items:
        return {}
    vals = [s for _, s in items]
    mean = sum(vals) / len(vals)
    std = math.sqrt(sum((v - mean) ** 2 for v in vals) / len(vals))
    if std <= 1e-12:
        return {wid: 0.0 for wid, _ in items}
    return {wid: (s - mean) / std for wid, s in items}


def zscore_fusion(lists: Mapping[str, Sequence[tuple[str, float]]], config: FusionConfig) -> dict[str, float]:
    """Weighted sum of per-model z-scores (divided by temperature).

    A window missing from a model's list gets that model's lowest z minus :data:`MISSING_Z_GAP`.
    """
    per_model = {m: zscores(r) for m, r in lists.items()}
    every = {wid for z in per_model.values() for wid in z}
    fused = {wid: 0.0 for wid in every}
    for model, z in per_model.items():
        if not z:
            continue
        w, t = config.weight(model), config.temperature(model)
        floor = min(z.values()) - MISSING_Z_GAP
        for wid in every:
            fused[wid] += w * z.get(wid, floor) / t
    return fused


def fuse(lists: Mapping[str, Sequence[tuple[str, float]]], config: FusionConfig | None = None) -> FusedRanking:
    """Combine ``{model: [(window_id, score), ...]}`` (each best first) into one ranking.

    Models with weight 0 still report their scores in ``per_model`` but do not move the ranking.
    """
    config = config or FusionConfig()
    scores = rrf(lists, config) if config.method == "rrf" else zscore_fusion(lists, config)
    per_model: dict[str, dict[str, float]] = {}
    for model, ranked in lists.items():
        for wid, s in dedupe_ranked(ranked):
            per_model.setdefault(wid, {})[model] = s
    ranked = sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))
    return FusedRanking(ranked=ranked, per_model=per_model, config=config)
