"""What a trained adapter answers on the held-out feature questions: per kind, the true answers,
the adapter's answers, and its wrong ones (``truth->answer``), from batched greedy decoding.

    nice .venv/bin/python benchmarks/adapter_errors.py .vqa/adapter_corpus .vqa/adapter_corpus/bench_mlp_audio_visual_200

(``home``: a corpus folder with ``lance/`` and ``media/truth/``; ``adapter``: a folder or ``.safetensors``.)
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("home", type=Path)
    ap.add_argument("adapter", type=Path)
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args()

    from vqa_pipeline.adapters.checkpoint import load_adapter
    from vqa_pipeline.adapters.dataset import build_dataset
    from vqa_pipeline.adapters.decoder import load_decoder
    from vqa_pipeline.adapters.feature_questions import predicted_choice
    from vqa_pipeline.adapters.infer import answers_with_adapter
    from vqa_pipeline.adapters.route import MAX_ANSWER_TOKENS, adapter_path, specs_of

    bridge, specs, _ = load_adapter(adapter_path(args.adapter))
    ds = build_dataset(args.home / "lance", [args.home / "media" / "truth"], tuple(s.name for s in specs))
    qs = ds.split("heldout")
    decoder = load_decoder(None, args.device)
    replies = answers_with_adapter(decoder, bridge, specs_of(ds), [dict(ds.of(q)) for q in qs], [q.prompt for q in qs],
                                   max_new_tokens=MAX_ANSWER_TOKENS, batch_size=16)
    picked = [predicted_choice(r, q.choices) for q, r in zip(qs, replies)]
    out: dict = {"n": len(qs), "accuracy": round(sum(p == q.answer for p, q in zip(picked, qs)) / len(qs), 3),
                 "not_a_choice": sum(p is None for p in picked), "by_kind": {}}
    for kind in sorted({q.kind for q in qs}):
        rows = [(q, p, r) for q, p, r in zip(qs, picked, replies) if q.kind == kind]
        out["by_kind"][kind] = {
            "n": len(rows), "accuracy": round(sum(p == q.answer for q, p, _ in rows) / len(rows), 3),
            "truth": dict(collections.Counter(q.answer for q, _, _ in rows)),
            "answered": dict(collections.Counter(p or f"(not a choice: {r.strip()[:20]!r})" for _, p, r in rows)),
            "wrong": dict(collections.Counter(f"{q.answer}->{p}" for q, p, _ in rows if p != q.answer)),
        }
    print(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
