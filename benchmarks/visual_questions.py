"""Visual questions per facet, from the answers ``benchmarks/answer_quality.py --out`` wrote.

The visual dev set (``data/real/devset_visual.jsonl``) tags each question with a ``facet``:
presence, count, when, object, colour, action. For a "when does X first appear?" question the
scorer's answer text is only the thing's name (timecodes are not part of an answer, DESIGN.md), so
the time is judged by the citation: the **strict** column counts a ``when`` answer right only when its
citation is relevant too; for the other facets strict = answer correct.

Usage:
    .venv/bin/python benchmarks/visual_questions.py --devset data/real/devset_visual.jsonl \
        before=/tmp/before.jsonl after=/tmp/after.jsonl
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path


def strict_ok(facet: str, answer_ok: bool, citation_ok: bool) -> bool:
    return answer_ok and (citation_ok or facet != "when")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--devset", type=Path, default=Path("data/real/devset_visual.jsonl"))
    ap.add_argument("runs", nargs="+", metavar="LABEL=ANSWERS", help="answers files written by answer_quality.py --out")
    args = ap.parse_args()
    from vqa_pipeline.tuning.answers import score_json

    items = [json.loads(x) for x in args.devset.read_text().splitlines() if x.strip()]
    print("| run | backend | facet | questions | answer acc. | citation acc. | strict |\n|---|---|---|---|---|---|---|")
    for run in args.runs:
        label, _, path = run.partition("=")
        by_backend: dict[str, dict[str, dict]] = defaultdict(dict)
        for line in Path(path).read_text().splitlines():
            if line.strip():
                rec = json.loads(line)
                by_backend[rec["backend"]][rec["id"]] = rec
        for backend, answers in by_backend.items():
            groups: dict[str, list[tuple[bool, bool, bool]]] = defaultdict(list)
            for item in items:
                if item["id"] not in answers:
                    continue
                s = score_json(answers[item["id"]], item)
                row = (s.answer_ok, s.citation_ok, strict_ok(item.get("facet", ""), s.answer_ok, s.citation_ok))
                groups[item.get("facet", "?")].append(row)
                groups["all"].append(row)
            for facet in sorted(groups, key=lambda f: (f == "all", f)):
                rows = groups[facet]
                n = len(rows)
                acc = [sum(r[k] for r in rows) / n for k in range(3)]
                print(f"| {label} | {backend} | {facet} | {n} | {acc[0]:.2f} | {acc[1]:.2f} | {acc[2]:.2f} |")


if __name__ == "__main__":
    main()
