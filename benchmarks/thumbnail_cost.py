"""What the thumbnails extractor costs on the sample corpus: ms per window, share of indexing time,
bytes per window, and the run that adds them to an index made without them.

(One self-contained script by design: a benchmark is run and read as a single file.)

    .venv/bin/python benchmarks/thumbnail_cost.py            # about 2 min on 2 cores
    .venv/bin/python benchmarks/thumbnail_cost.py --json out.json

Three runs, extractors in this process (``--no-ray``: one process, so extractor seconds add up to
the extraction time rather than overlapping), each into a fresh temporary LanceDB:

1. **lite**: the whole lite profile, thumbnails included (what ``vqa index`` now does);
2. **lite without thumbnails**: the profile before thumbnails existed;
3. **upgrade**: run 2's index indexed again with the lite profile: only thumbnails run (the
   path an existing index takes on its next ``vqa index``).

The share is thumbnail extractor seconds over all extractor seconds of run 1, and over run 1's
wall time (decode and writes included). The wall difference between runs 1 and 2 is printed too,
but on a shared 2-core box it is within the noise. Last, the CPU time (``time.process_time``, which
other load on the box hardly changes) of making every window's thumbnail from the decoded keyframes.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from vqa_pipeline.extractors.registry import profile_names  # noqa: E402
from vqa_pipeline.indexing.pipeline import index_paths  # noqa: E402
from vqa_pipeline.store import Store  # noqa: E402

SAMPLE = ROOT / "data" / "sample"


def run(db: Path, extractors: list[str] | None) -> dict:
    store = Store(db)
    t0 = time.perf_counter()
    summary = index_paths([SAMPLE], store, extractors=extractors)
    wall = time.perf_counter() - t0
    failed = [f.path for f in summary.files if f.status == "failed"]
    if failed:
        raise SystemExit(f"files failed to index: {failed}")
    return {"wall_s": wall, "extractor_seconds": dict(summary.extractor_seconds), "store": store}


def cpu_ms_per_thumbnail() -> tuple[float, int]:
    """CPU milliseconds per thumbnail over the corpus's decoded keyframes, and how many were made."""
    from vqa_pipeline.extractors.thumbnails import make_thumbnail, middle_keyframe
    from vqa_pipeline.media.decode import decode
    from vqa_pipeline.media.types import MEDIA_SUFFIXES

    cpu, n = 0.0, 0
    for path in sorted(p for p in SAMPLE.iterdir() if p.suffix in MEDIA_SUFFIXES):
        media = decode(path, path.stem)
        for win in media.windows:
            kf = middle_keyframe(media.keyframes, win.index, win.mid_s)
            if kf is None:
                continue
            t0 = time.process_time()
            make_thumbnail(kf.jpeg)
            cpu += time.process_time() - t0
            n += 1
    return 1000 * cpu / max(n, 1), n


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", type=Path, default=None, help="also write the figures to this file")
    args = ap.parse_args()
    lite = list(profile_names("lite"))
    without = [n for n in lite if n != "thumbnails"]
    with tempfile.TemporaryDirectory(prefix="vqa-thumb-") as tmp:
        full = run(Path(tmp) / "lite", lite)
        base = run(Path(tmp) / "without", without)
        upgrade = run(Path(tmp) / "without", lite)

        table = full["store"].windows
        rows = table.search().select(["thumb_jpeg"]).limit(None).to_arrow().column("thumb_jpeg").to_pylist()
        sizes = [len(b) for b in rows if b]
        n_windows = len(rows)

    cpu_ms, n_cpu = cpu_ms_per_thumbnail()
    thumb_s = full["extractor_seconds"].get("thumbnails", 0.0)
    all_s = sum(full["extractor_seconds"].values())
    out = {
        "windows": n_windows,
        "windows_with_thumbnail": len(sizes),
        "thumbnail_ms_per_window": 1000 * thumb_s / max(len(sizes), 1),
        "thumbnail_cpu_ms_per_window": cpu_ms,
        "thumbnails_timed_for_cpu": n_cpu,
        "bytes_per_thumbnail_mean": sum(sizes) / max(len(sizes), 1),
        "bytes_per_thumbnail_max": max(sizes, default=0),
        "thumbnails_total_bytes": sum(sizes),
        "thumbnail_extractor_s": thumb_s,
        "all_extractors_s": all_s,
        "share_of_extractor_time": thumb_s / all_s if all_s else 0.0,
        "lite_wall_s": full["wall_s"],
        "share_of_wall_time": thumb_s / full["wall_s"],
        "lite_without_thumbnails_wall_s": base["wall_s"],
        "upgrade_run_wall_s": upgrade["wall_s"],
        "upgrade_run_extractors": sorted(upgrade["extractor_seconds"]),
        "extractor_seconds": {k: round(v, 3) for k, v in sorted(full["extractor_seconds"].items())},
    }
    for k, v in out.items():
        print(f"{k:34s} {round(v, 4) if isinstance(v, float) else v}")
    if args.json:
        args.json.write_text(json.dumps(out, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
