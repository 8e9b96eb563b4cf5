"""The retrieval report: per-model and fused scores against baselines, a table and a bar chart.

Systems compared (each on the held-out split, the dev split and all answerable questions):

- every single retriever on its own (each vector column, and BM25 alone);
- ``lancedb_hybrid_rrf``: LanceDB's own hybrid search (``emb_text`` + BM25, ``RRFReranker`` K=60);
- ``rrf_unweighted``: RRF over every retriever, all weights 1, ``rrf_k`` 60;
- ``fused_default``: the untuned :class:`FusionConfig` defaults;
- ``fused_tuned``: the stored, tuned config (when there is one).

Metrics: nDCG@10, Recall@5, Recall@10, MRR. Answer and citation accuracy and abstention
(:mod:`vqa_pipeline.tuning.answers`) are added when an answer backend is given. The chart is drawn with
matplotlib (the ``tune`` extra) on its Agg canvas.

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
from vqa_pipeline.tuning.evaluate import RankingCache, evaluate_lists
from vqa_pipeline.tuning.splits import Split

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


_COLORS = {"ndcg@10": "#1f77b4", "recall@5": "#ff7f0e", "recall@10": "#2ca02c", "mrr": "#9467bd"}
PLOT_WIDTH_PX = 900
PLOT_DPI = 100


def render_plot(report: RetrievalReport, split: str = "heldout"):
    """A horizontal grouped bar chart (one group per system, one bar per metric) as a matplotlib ``Figure``.

    The figure is ``PLOT_WIDTH_PX`` pixels wide at ``PLOT_DPI`` and drawn on the Agg canvas (no
    display, no pyplot state), so it renders the same in a test, a Dagster run or a headless server.
    """
    import numpy as np
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    systems = [s for s in report.systems if split in s.scores]
    height_in = 1.4 + 0.55 * max(len(systems), 1)
    fig = Figure(figsize=(PLOT_WIDTH_PX / PLOT_DPI, height_in), dpi=PLOT_DPI)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    bar_h = 0.8 / len(METRICS)
    ys = np.arange(len(systems))
    for j, m in enumerate(METRICS):
        vals = [max(0.0, min(1.0, s.scores[split][m])) for s in systems]
        bars = ax.barh(ys - 0.4 + (j + 0.5) * bar_h, vals, height=bar_h * 0.9, color=_COLORS[m], label=m)
        ax.bar_label(bars, labels=[f"{v:.3f}" for v in vals], padding=2, fontsize=7)
    ax.set_yticks(ys, [s.name for s in systems], fontsize=9)
    ax.invert_yaxis()  # first system on top
    ax.set_xlim(0.0, 1.08)
    ax.xaxis.grid(True, color="#e1e1e1")
    ax.set_axisbelow(True)
    title = {"heldout": "held-out split", "dev": "dev split", "all": "whole dev set"}.get(split, split)
    ax.set_title(f"Retrieval on the {title} ({report.n.get(split, 0)} questions)", loc="left", fontsize=11)
    ax.legend(ncols=len(METRICS), loc="lower left", bbox_to_anchor=(0.0, 1.06), fontsize=8, frameon=False)
    fig.subplots_adjust(left=0.22, right=0.97, top=1 - 0.75 / height_in, bottom=0.35 / height_in)
    return fig


def write_plot(report: RetrievalReport, path: str | Path, split: str = "heldout") -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    render_plot(report, split).savefig(path, format="png", dpi=PLOT_DPI)
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
