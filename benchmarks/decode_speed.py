"""Decode-and-window speed: the media layer alone (PyAV decode once, windows, keyframes, audio).

Usage:
    .venv/bin/python benchmarks/decode_speed.py [PATH ...] [--window 2] [--keyframe-every 2] [--runs 3]

Defaults to the sample corpus. Prints media seconds per wall second per file and in total (best of
``--runs``), then the command line.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import SAMPLE, command_line, machine  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("paths", nargs="*", default=[str(SAMPLE)])
    ap.add_argument("--window", type=float, default=2.0)
    ap.add_argument("--keyframe-every", type=float, default=2.0)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    from vqa_pipeline.indexing.discover import discover
    from vqa_pipeline.media.decode import decode
    from vqa_pipeline.media.types import WindowingOptions

    opts = WindowingOptions(length_s=args.window, stride_s=args.window, keyframe_every_s=args.keyframe_every)
    rows = ["| file | media s | windows | keyframes | decode s (best) | media s / wall s |", "|---|---|---|---|---|---|"]
    total_media = total_wall = 0.0
    for f in discover(args.paths):
        if f.error:
            continue
        best = float("inf")
        for _ in range(args.runs):
            t0 = time.perf_counter()
            m = decode(f.path, "bench", opts)
            best = min(best, time.perf_counter() - t0)
        total_media += m.info.duration_s
        total_wall += best
        rows.append(f"| {f.path.name} | {m.info.duration_s:.1f} | {len(m.windows)} | {len(m.keyframes)} | "
                    f"{best:.3f} | {m.info.duration_s / best:.0f} |")
    rows.append(f"| **all** | {total_media:.1f} | | | {total_wall:.3f} | **{total_media / total_wall:.0f}** |")
    print("\n".join(rows))
    print(f"\nmachine: {machine()}\ncommand: {command_line()}")


if __name__ == "__main__":
    main()
