"""What OCR's gates save: frames OCR'd and OCR CPU seconds on the sample corpus, gate by gate.

(One self-contained script by design: a benchmark is run and read as a single file.)

    .venv/bin/python benchmarks/ocr_gates.py                     # data/sample
    .venv/bin/python benchmarks/ocr_gates.py --folder data/real/media

Each clip is decoded once (2 s windows, the indexer's keyframes); then ``rapidocr`` runs on the
same keyframes three ways: every keyframe (``skip_threshold=-1, region_max=0``), the frame-difference
gate alone (the default: a keyframe that barely differs from the last OCR'd one reuses its reads),
and both gates (``region_max=0.1``: a change confined to a small region that holds no text costs a
crop, not a frame). CPU seconds are this process's (``time.process_time``, all threads), which
other load on the machine changes far less than wall time. The evidence lines of each way are
compared with the first: "same lines" counts the clips whose lines are identical. Quality against
the truth files: ``benchmarks/extractor_quality.py --extractors rapidocr --option rapidocr.region_max=0.1``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import SAMPLE, command_line, machine, table  # noqa: E402

WAYS = {
    "every keyframe": {"skip_threshold": -1.0, "region_max": 0},
    "frame gate (default)": {"region_max": 0},
    "frame + region gates": {"region_max": 0.1},
}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--folder", default=str(SAMPLE))
    args = ap.parse_args(argv)

    from vqa_pipeline.extractors.ocr import RapidOcr
    from vqa_pipeline.indexing.discover import MEDIA_SUFFIXES
    from vqa_pipeline.media.decode import decode
    from vqa_pipeline.media.types import WindowingOptions

    files = sorted(p for p in Path(args.folder).iterdir() if p.suffix.lower() in MEDIA_SUFFIXES)
    media = [m for m in (decode(p, p.stem, WindowingOptions(length_s=2.0, stride_s=2.0)) for p in files) if m.keyframes]
    extractors = {name: RapidOcr(**opts) for name, opts in WAYS.items()}
    for ex in extractors.values():
        ex.load()
        ex.read_frame(media[0].keyframes[0].rgb())  # first-call warm-up outside the timing
    rows, first_lines = [], {}
    for name, ex in extractors.items():
        frames = {"frames_ocr": 0, "frames_region": 0, "frames_skipped": 0}
        same = 0
        c0, t0 = time.process_time(), time.perf_counter()
        for m in media:
            out = ex.extract(m, {})
            for k in frames:
                frames[k] += int(out.stats.get(k, 0))
            lines = [[ln.text for ln in w] for w in out.lines]
            same += first_lines.setdefault(m.video_id, lines) == lines
        cpu, wall = time.process_time() - c0, time.perf_counter() - t0
        rows.append([name, frames["frames_ocr"], frames["frames_region"], frames["frames_skipped"], f"{cpu:.1f}",
                     f"{wall:.1f}", f"{same}/{len(media)}"])
    seconds = sum(m.info.duration_s for m in media)
    print(f"\nmachine: {machine()}")
    print(f"{len(media)} clips with video, {sum(len(m.keyframes) for m in media)} keyframes, {seconds:.0f} s of media")
    print(table(rows, ["way", "full-frame OCR", "region only", "skipped", "CPU s", "wall s", "same lines"]))
    print("\ncommand:", command_line())
    return 0


if __name__ == "__main__":
    sys.exit(main())
