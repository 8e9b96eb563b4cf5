"""The retrieval report: per-model and fused scores against baselines, a table and a bar chart.

Systems compared (each on the held-out split, the dev split and all answerable questions):

- every single retriever on its own (each vector column, and BM25 alone);
- ``lancedb_hybrid_rrf``: LanceDB's own hybrid search (``emb_text`` + BM25, ``RRFReranker`` K=60);
- ``rrf_unweighted``: RRF over every retriever, all weights 1, ``rrf_k`` 60;
- ``fused_default``: the untuned :class:`FusionConfig` defaults;
- ``fused_tuned``: the stored, tuned config (when there is one).

Metrics: nDCG@10, Recall@5, Recall@10, MRR. Answer and citation accuracy and abstention
(:mod:`vqa_pipeline.tuning.answers`) are added when an answer backend is given. The chart is drawn with Pillow (no plotting library needed).

Example:
    >>> report = build_report(cache, split, tuned=config)
    >>> print(markdown_table(report))
    >>> write_plot(report, Path(".vqa/reports/retrieval_report.png"))
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from vqa_pipeline.retrieval.fuse import FusionConfig, fuse
from vqa_pipeline.retrieval.metrics import QueryMetrics
from vqa_pipeline.tuning.evaluate import Progress, RankingCache, evaluate_lists
from vqa_pipeline.tuning.study import Split

METRICS = ("ndcg@10", "recall@5", "recall@10", "mrr")
HYBRID_SYSTEM = "lancedb_hybrid_rrf"
UNWEIGHTED_RRF = FusionConfig("rrf", weights={}, rrf_k=60.0)
SPLITS = ("heldout", "dev", "all")


def metrics_dict(m: QueryMetrics) -> dict[str, float]:
    return {"ndcg@10": m.ndcg[10], "recall@5": m.recall[5], "recall@10": m.recall[10], "mrr": m.mrr}


@dataclass(frozen=True, slots=True)
class SystemScores:
    """One row of the report: a system's mean metrics per split (``{split: {metric: value}}``)."""

    name: str
    kind: str  # "single", "baseline" or "fused"
    description: str
    scores: dict[str, dict[str, float]]


@dataclass(slots=True)
class RetrievalReport:
    """Everything the report shows.

    Attributes:
        systems: one row per system, in display order.
        n: questions per split (``{"heldout": 18, "dev": 39, "all": 57}``).
        tuned: the tuned config (``None`` when none is stored or it was not usable).
        tuning: the stored tuning record (scores, trials, study), if any.
        answers: answer/citation accuracy, when computed.
        notes: remarks (stale config, split mismatch, skipped questions).
    """

    systems: list[SystemScores]
    n: dict[str, int]
    tuned: FusionConfig | None = None
    tuning: dict | None = None
    answers: dict | None = None
    notes: list[str] = field(default_factory=list)

    def row(self, name: str) -> SystemScores | None:
        return next((s for s in self.systems if s.name == name), None)

    def best_single(self, split: str = "heldout", metric: str = "ndcg@10") -> SystemScores:
        singles = [s for s in self.systems if s.kind == "single" and split in s.scores]
        return max(singles, key=lambda s: s.scores[split][metric])

    def to_json(self) -> dict:
        return {
            "n": dict(self.n),
            "systems": [{"name": s.name, "kind": s.kind, "description": s.description, "scores": s.scores}
                        for s in self.systems],
            "tuned_config": self.tuned.to_dict() if self.tuned else None,
            "tuning": self.tuning,
            "answers": self.answers,
            "notes": list(self.notes),
        }


def _systems(cache: RankingCache, tuned: FusionConfig | None) -> list[tuple[str, str, str, Callable]]:
    out: list[tuple[str, str, str, Callable]] = []
    for m in cache.models:
        out.append((m, "single", f"{m} alone ({cache.model_tags.get(m, '?')})",
                    lambda q, m=m: q.lists.get(m, ())))
    if any(q.hybrid for q in cache.questions):
        out.append((HYBRID_SYSTEM, "baseline", "LanceDB hybrid search: emb_text + BM25, RRFReranker(K=60)",
                    lambda q: q.hybrid))
    out.append(("rrf_unweighted", "baseline", "RRF over every retriever, weights 1, rrf_k 60",
                lambda q: fuse(q.lists, UNWEIGHTED_RRF).ranked))
    default = FusionConfig()
    out.append(("fused_default", "fused", f"untuned defaults ({default.method}, weights {dict(default.weights)})",
                lambda q: fuse(q.lists, default).ranked))
    if tuned is not None:
        out.append(("fused_tuned", "fused", f"tuned ({tuned.method})", lambda q: fuse(q.lists, tuned).ranked))
    return out


def build_report(cache: RankingCache, split: Split, tuned: FusionConfig | None = None,
                 tuning: dict | None = None, notes: Sequence[str] = ()) -> RetrievalReport:
    """Score every system on each split of ``cache``."""
    parts = {"heldout": cache.subset(split.heldout), "dev": cache.subset(split.dev), "all": cache}
    systems = []
    for name, kind, desc, pick in _systems(cache, tuned):
        scores = {}
        for part, sub in parts.items():
            if sub.questions:
                scores[part] = metrics_dict(evaluate_lists(sub, pick)[1])
        systems.append(SystemScores(name, kind, desc, scores))
    return RetrievalReport(systems, {p: len(s.questions) for p, s in parts.items()}, tuned, tuning,
                           notes=list(notes))


# ----------------------------------------------------------------------------------------------
# Rendering


def _fmt(v: float | None) -> str:
    return "-" if v is None else f"{v:.3f}"


def markdown_table(report: RetrievalReport, split: str = "heldout") -> str:
    """A markdown table of every system's metrics on ``split`` (plus nDCG@10 on the others)."""
    others = [s for s in SPLITS if s != split]
    head = (["system"] + [f"{m} ({split})" for m in METRICS] + [f"ndcg@10 ({o})" for o in others])
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for s in report.systems:
        cells = [f"`{s.name}`"]
        cells += [_fmt(s.scores.get(split, {}).get(m)) for m in METRICS]
        cells += [_fmt(s.scores.get(o, {}).get("ndcg@10")) for o in others]
        lines.append("| " + " | ".join(cells) + " |")
    n = report.n
    lines.append("")
    lines.append(f"Questions: held-out {n.get('heldout', 0)}, dev {n.get('dev', 0)}, all {n.get('all', 0)} "
                 "(answerable questions whose relevant spans cover an indexed window).")
    return "\n".join(lines)


def answers_markdown(answers: dict | None) -> str:
    if not answers:
        return "Answer accuracy: not computed (no LLM backend available, or disabled)."
    return (f"Answers ({answers['backend']}, tuned fusion, {answers['seconds']} s): answer accuracy "
            f"{_fmt(answers['answer_accuracy'])} and citation accuracy {_fmt(answers['citation_accuracy'])} over "
            f"{answers['n_answerable']} answerable questions (abstained wrongly on {_fmt(answers['abstained_wrongly'])}); "
            f"abstained on {_fmt(answers['absent_abstained'])} of {answers['n_absent']} absent questions.")


_COLORS = {"ndcg@10": (31, 119, 180), "recall@5": (255, 127, 14), "recall@10": (44, 160, 44), "mrr": (148, 103, 189)}


def _font(size: int):
    from PIL import ImageFont

    for name in ("DejaVuSans.ttf", "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"):
        try:
            return ImageFont.truetype(name, size)
        except OSError:
            continue
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # pragma: no cover - Pillow without FreeType
        return ImageFont.load_default()


def render_plot(report: RetrievalReport, split: str = "heldout"):
    """A horizontal grouped bar chart (one group per system, one bar per metric) as a PIL image."""
    from PIL import Image, ImageDraw

    systems = [s for s in report.systems if split in s.scores]
    bar_h, gap, left, right, top = 11, 14, 190, 70, 58
    group_h = bar_h * len(METRICS) + gap
    width, plot_w = 900, 900 - 190 - 70
    height = top + group_h * len(systems) + 40
    img = Image.new("RGB", (width, height), "white")
    d = ImageDraw.Draw(img)
    f_title, f_label, f_small = _font(16), _font(13), _font(11)
    title = {"heldout": "held-out split", "dev": "dev split", "all": "whole dev set"}.get(split, split)
    d.text((10, 8), f"Retrieval on the {title} ({report.n.get(split, 0)} questions)", fill="black", font=f_title)
    x = left
    for m in METRICS:  # legend
        d.rectangle([x, 34, x + 12, 46], fill=_COLORS[m])
        d.text((x + 16, 33), m, fill="black", font=f_small)
        x += 100
    for tick in range(0, 11, 2):
        tx = left + plot_w * tick / 10
        d.line([tx, top - 4, tx, height - 30], fill=(225, 225, 225))
        d.text((tx - 8, height - 26), f"{tick / 10:.1f}", fill="black", font=f_small)
    for i, s in enumerate(systems):
        y0 = top + i * group_h
        d.text((10, y0 + bar_h * len(METRICS) / 2 - 8), s.name, fill="black", font=f_label)
        for j, m in enumerate(METRICS):
            v = max(0.0, min(1.0, s.scores[split][m]))
            y = y0 + j * bar_h
            d.rectangle([left, y, left + plot_w * v, y + bar_h - 2], fill=_COLORS[m])
            d.text((left + plot_w * v + 4, y - 2), f"{v:.3f}", fill="black", font=f_small)
    d.line([left, top - 4, left, height - 30], fill="black")
    return img


def write_plot(report: RetrievalReport, path: str | Path, split: str = "heldout") -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    render_plot(report, split).save(path, format="PNG", optimize=True)
    return path


def write_report(report: RetrievalReport, folder: str | Path) -> dict[str, Path]:
    """Write ``retrieval_report.{json,md,png}`` into ``folder``; returns the paths."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    png = write_plot(report, folder / "retrieval_report.png")
    md = folder / "retrieval_report.md"
    md.write_text("# Retrieval report\n\n" + markdown_table(report) + "\n\n" + answers_markdown(report.answers)
                  + "\n\n![retrieval report](retrieval_report.png)\n", encoding="utf-8")
    js = folder / "retrieval_report.json"
    js.write_text(json.dumps(report.to_json(), indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return {"png": png, "md": md, "json": js}
