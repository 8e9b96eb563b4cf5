"""Training the lite adapters on 2 cores, and the three-way comparison on held-out feature questions.

(One self-contained script by design: a benchmark is run and read as a single file.)

    nice .venv/bin/python benchmarks/adapter_training.py                  # target: <= 20 min on 2 cores
    nice .venv/bin/python benchmarks/adapter_training.py --steps 100 --limit 60 --devset-limit 0   # quick look

Steps:

1. the generated adapter corpus (``--clips`` seeded 8 s clips, indexed lite in this process; reused
   from ``--home`` when present, so only the first run pays for it);
2. the data set: feature questions (which sound, speech/sound/silence, which colour, scene cut) of
   every window, the giving-away evidence line withheld, split by video;
3. training (the bundled Gemma 3 270M frozen; adapter ``--kind`` on ``--modality``): steps/s, peak
   memory (RSS), the loss curve (first / last 10 steps' mean, and the PNG);
4. the same held-out questions answered three ways: the LLM without soft tokens, a linear probe on
   the same features, the LLM with the adapter;
5. with ``--devset-limit`` > 0: the sample dev set answered through ``ask`` with text evidence alone
   and with text evidence + soft tokens (the sample corpus indexed lite into ``--home``/sample).

Prints the figures, the machine, the load average before and after, and this command.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("RAY_ADDRESS", "local")

from benchmarks._common import command_line, machine  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--home", type=Path, default=ROOT / ".vqa" / "adapter_corpus",
                    help="corpus, index and outputs (default .vqa/adapter_corpus, git-ignored)")
    ap.add_argument("--clips", type=int, default=48)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--modality", default="audio,visual")
    ap.add_argument("--kind", default="mlp", choices=["mlp", "resampler", "xattn"])
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--tokens", type=int, default=8)
    ap.add_argument("--balance", action=argparse.BooleanOptionalAction, default=False,
                    help="batches drawn evenly over question kind, then answer")
    ap.add_argument("--schedule", default="constant", choices=["constant", "cosine"])
    ap.add_argument("--minutes", type=float, default=0.0, help="stop training after this long (0: run all steps)")
    ap.add_argument("--devset-db", type=Path, default=None,
                    help="an index of data/sample to use for the dev set (default: index it into --home/sample_lance)")
    ap.add_argument("--limit", type=int, default=None, help="held-out questions scored (default: all)")
    ap.add_argument("--devset-limit", type=int, default=64, help="dev-set questions compared (0: skip)")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--json", type=Path, default=None, help="also write the figures here")
    ap.add_argument("--no-index", action="store_true",
                    help="use the corpus index as it stands (another process may still be indexing it)")
    args = ap.parse_args()

    from vqa_pipeline.adapters.dataset import build_dataset, prepare_corpus
    from vqa_pipeline.adapters.decoder import load_decoder
    from vqa_pipeline.adapters.evaluate import markdown_table
    from vqa_pipeline.adapters.route import evaluate_on, train_on
    from vqa_pipeline.adapters.window_features import parse_modalities

    out: dict = {"machine": machine(), "load_before": os.getloadavg(), "command": command_line()}
    t0 = time.perf_counter()
    if args.no_index:
        from vqa_pipeline.adapters.dataset import corpus_paths

        media, lance = corpus_paths(args.home)
    else:
        media, lance = prepare_corpus(args.home, args.clips, args.seed)
    out["corpus_s"] = round(time.perf_counter() - t0, 1)
    modalities = parse_modalities(args.modality)
    ds = build_dataset(lance, [media / "truth"], modalities, seed=args.seed)
    out["dataset"] = ds.summary()
    print(f"data set: {json.dumps(out['dataset'])}", flush=True)

    t1 = time.perf_counter()
    decoder = load_decoder(None, args.device)
    out["decoder_load_s"] = round(time.perf_counter() - t1, 1)
    folder = args.home / f"bench_{args.kind}_{'_'.join(modalities)}_{args.steps}"

    def progress(step: int, total: int, loss: float) -> None:
        if step % max(1, total // 10) == 0 or step == total:
            print(f"  step {step}/{total} loss {loss:.4f} ({time.perf_counter() - t2:.0f} s)", flush=True)

    t2 = time.perf_counter()
    training = train_on(ds, decoder, folder, steps=args.steps, kind=args.kind, k_tokens=args.tokens, lr=args.lr,
                        batch_size=args.batch, seed=args.seed, progress=progress, balance=args.balance,
                        schedule=args.schedule, max_seconds=args.minutes * 60)
    out["training"] = training.summary()
    out["training"]["loss_curve_png"] = str(folder / "loss.png")
    print(f"training: {json.dumps(out['training'])}", flush=True)

    t3 = time.perf_counter()
    report = evaluate_on(ds, decoder, training_bridge(folder, decoder), specs_for(folder), limit=args.limit)
    out["heldout"] = {k: report[k] for k in ("n", "accuracy", "by_kind", "goals", "seconds")}
    out["eval_s"] = round(time.perf_counter() - t3, 1)
    print(markdown_table(report))
    print(f"goals: {json.dumps(report.get('goals'))}", flush=True)

    if args.devset_limit:
        from vqa_pipeline.adapters.ask_route import devset_comparison
        from vqa_pipeline.indexing.pipeline import index_paths
        from vqa_pipeline.store.tables import Store

        sample_db = args.devset_db or args.home / "sample_lance"
        if args.devset_db is None:
            index_paths([ROOT / "data" / "sample"], Store(sample_db), profile="lite")
        bridge, specs = training_bridge(folder, decoder), specs_for(folder)
        dev = devset_comparison(sample_db, ROOT / "data" / "sample" / "devset.jsonl", decoder, bridge, specs,
                                limit=args.devset_limit)
        out["devset"] = dev
        print(f"dev set: {json.dumps(dev)}", flush=True)
    out["total_s"] = round(time.perf_counter() - t0, 1)
    out["load_after"] = os.getloadavg()
    print(f"machine: {out['machine']}; load average before {out['load_before']}, after {out['load_after']}")
    print(f"command: {out['command']}")
    print(f"total {out['total_s']} s")
    if args.json:
        args.json.write_text(json.dumps(out, indent=2) + "\n")
    return 0


def training_bridge(folder: Path, decoder):
    from vqa_pipeline.adapters.checkpoint import load_adapter

    bridge, _, _ = load_adapter(folder / "adapter.safetensors", device=decoder.device)
    return bridge


def specs_for(folder: Path):
    from vqa_pipeline.adapters.checkpoint import load_adapter

    return load_adapter(folder / "adapter.safetensors")[1]


if __name__ == "__main__":
    raise SystemExit(main())
