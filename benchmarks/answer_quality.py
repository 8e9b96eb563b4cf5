"""Answer quality on a dev set: answer accuracy, citation accuracy, abstention, latency.

For every dev-set question (DESIGN.md format) it calls ``vqa_pipeline.query.ask`` and scores:
answer accuracy, citation accuracy (per question: at least one citation on the right video and
relevant to a gold span) and abstention, as defined once in ``vqa_pipeline/tuning/answers.py``.
Each backend is scored: ``extractive`` (no LLM) and ``local`` (Gemma 3 270M) by default;
``--llm-url URL --llm-model NAME`` adds an OpenAI-compatible endpoint. ``--scope-video`` asks each
question about its own video only (``vqa ask --video``), which separates finding the video from answering.
A question's kind comes from its optional ``kind`` key, else from the ``--kinds`` sidecar. When the dev
set's lines carry a ``split`` key (data/real), the tables are repeated per split; ``--split NAME`` asks
only that split's questions.

Usage:
    .venv/bin/vqa index data/sample --db /tmp/vqa-sample          # once
    .venv/bin/python benchmarks/answer_quality.py --db /tmp/vqa-sample [--devset data/sample/devset.jsonl]
    .venv/bin/python benchmarks/answer_quality.py --db /tmp/realdb --devset data/real/devset.jsonl [--split heldout]
    .venv/bin/python benchmarks/answer_quality.py --db X --devset data/real/devset.jsonl --rescore answers.jsonl
        # today's scoring of the answers an older commit wrote with --out (before/after with one scorer)
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
import warnings
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import SAMPLE, command_line, machine  # noqa: E402


def load_devset(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def score(items: list[dict], answers: list[dict]) -> dict:
    """The package's definitions (vqa_pipeline.tuning.answers), as this table's numbers."""
    from vqa_pipeline.tuning.answers import aggregate, score_json

    agg = aggregate(score_json(a, item) for item, a in zip(items, answers))
    return {
        "answer_acc": agg.answer_accuracy or 0.0,
        "citation_acc": agg.citation_accuracy or 0.0,
        "abstain_absent": agg.absent_abstained or 0.0,
        "abstain_wrongly": agg.abstained_wrongly or 0.0,
        "answerable": agg.n_answerable,
        "absent": agg.n_absent,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--db", type=Path, required=True)
    ap.add_argument("--devset", type=Path, default=SAMPLE / "devset.jsonl")
    ap.add_argument("--kinds", type=Path, default=SAMPLE / "devset_kinds.json",
                    help="optional id -> kind map for a per-kind breakdown")
    ap.add_argument("--split", help="only the questions whose 'split' key is this (e.g. heldout, dev)")
    ap.add_argument("--backends", default="extractive,local")
    ap.add_argument("--llm-url")
    ap.add_argument("--llm-model")
    ap.add_argument("--llm-timeout", type=float, default=300.0,
                    help="seconds per endpoint request (a small CPU server needs long ones)")
    ap.add_argument("--llm-rerank", action="store_true",
                    help="with --llm-url: also run the endpoint with the chat model's re-rank (backend 'endpoint+rerank')")
    ap.add_argument("--scope-video", action="store_true",
                    help="ask each question about its own video only (as `vqa ask --video NAME`), not the whole index")
    ap.add_argument("--out", type=Path, help="write every answer as JSON lines here")
    ap.add_argument("--rescore", type=Path, metavar="ANSWERS",
                    help="score the answers of an earlier --out file (e.g. from an older commit) instead of asking")
    args = ap.parse_args()
    if args.llm_rerank and not args.llm_url:
        ap.error("--llm-rerank needs --llm-url (a chat endpoint)")
    warnings.filterwarnings("ignore")
    from vqa_pipeline.answer.llm import OpenAIChat
    from vqa_pipeline.query import ask

    items = load_devset(args.devset)
    if args.split:
        items = [item for item in items if item.get("split") == args.split]
        if not items:
            ap.error(f"no question has split {args.split!r}")
    kinds = json.loads(args.kinds.read_text()) if args.kinds and args.kinds.exists() else {}
    kinds = {item["id"]: item.get("kind") or kinds.get(item["id"], "?") for item in items}
    subsets = {"all": list(range(len(items)))}
    for split in sorted({item["split"] for item in items if "split" in item}):
        subsets[split] = [i for i, item in enumerate(items) if item.get("split") == split]
    if len(subsets) == 2:  # one split only: "all" says it already
        subsets = {"all": subsets["all"]}
    backends = [b for b in args.backends.split(",") if b]
    if args.llm_url:
        backends.append("endpoint")
        if args.llm_rerank:
            backends.append("endpoint+rerank")
    earlier: dict[str, dict[str, dict]] = {}
    if args.rescore:
        for line in args.rescore.read_text().splitlines():
            if line.strip():
                rec = json.loads(line)
                earlier.setdefault(rec["backend"], {})[rec["id"]] = rec  # the last run of a question wins
        backends = [b for b in backends if b in earlier] or sorted(earlier)
    rows = ["| backend | questions | answer acc. | citation acc. | abstains when absent | abstains wrongly | p50 s | p95 s |",
            "|---|---|---|---|---|---|---|---|"]
    per_kind_rows = []
    for backend in backends:
        answers, times = [], []
        if args.rescore:
            missing = [item["id"] for item in items if item["id"] not in earlier[backend]]
            if missing:
                ap.error(f"{args.rescore} has no {backend} answer for {', '.join(missing[:5])}")
            answers = [earlier[backend][item["id"]] for item in items]
            times = [float("nan")] * len(items)
        else:
            kw = {"extractive_only": True} if backend == "extractive" else {}
            if backend.startswith("endpoint"):
                chat = OpenAIChat(args.llm_url, args.llm_model or "", timeout_s=args.llm_timeout)
                kw = {"backend": chat, "llm_rerank": backend == "endpoint+rerank"}
            ask("warm up", db=args.db, **kw)  # model loads are not part of the latency
            for i, item in enumerate(items, 1):
                t0 = time.perf_counter()
                scope = {"videos": [item["video"]]} if args.scope_video else {}
                a = ask(item["question"], db=args.db, **scope, **kw).to_json()
                times.append(time.perf_counter() - t0)
                answers.append(a)
                print(f"\r{backend}: {i}/{len(items)}", end="", file=sys.stderr)
            print(file=sys.stderr)
        for subset, idx in subsets.items():
            sub_items, sub_answers = [items[i] for i in idx], [answers[i] for i in idx]
            sub_times = sorted(times[i] for i in idx)
            s = score(sub_items, sub_answers)
            p95 = sub_times[min(len(sub_times) - 1, int(round(0.95 * (len(sub_times) - 1))))]
            name = backend if len(subsets) == 1 else f"{backend} ({subset})"
            rows.append(f"| {name} | {len(idx)} | {s['answer_acc']:.2f} | {s['citation_acc']:.2f} | {s['abstain_absent']:.2f} "
                        f"({s['absent']} q.) | {s['abstain_wrongly']:.2f} | {statistics.median(sub_times):.2f} | {p95:.2f} |")
            if set(kinds.values()) != {"?"}:
                groups = defaultdict(list)
                for item, a in zip(sub_items, sub_answers):
                    groups[kinds[item["id"]]].append((item, a))
                for kind, pairs in sorted(groups.items()):
                    ks = score([p[0] for p in pairs], [p[1] for p in pairs])
                    shown = (f"{ks['abstain_absent']:.2f} abstain" if kind == "absent"
                             else f"{ks['answer_acc']:.2f} / {ks['citation_acc']:.2f}")
                    per_kind_rows.append(f"| {name} | {kind} | {len(pairs)} | {shown} |")
        if args.out and not args.rescore:
            with open(args.out, "a") as f:
                for item, a in zip(items, answers):
                    f.write(json.dumps({"backend": backend, "id": item["id"], **a}) + "\n")
    print("\n".join(rows))
    if per_kind_rows:
        print("\n| backend | kind | questions | answer / citation acc. |\n|---|---|---|---|")
        print("\n".join(per_kind_rows))
    print(f"\nmachine: {machine()}\ncommand: {command_line()}")


if __name__ == "__main__":
    main()
