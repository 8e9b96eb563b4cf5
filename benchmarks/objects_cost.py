"""What the lite object detector (NanoDet, ``nanodet``) costs per file: frames run, frames skipped as
unchanged, seconds, and the real-time factor of the extractor alone; also the decoding time and
the shot frames the decoder kept for the detectors (0 on code from before shot frames existed).
``*_cpu_s``: CPU seconds of this process (on a shared, loaded box they vary less than wall time).

Usage:
    python -m benchmarks.objects_cost FILE...      # e.g. the real clips of data/real/media
"""

from __future__ import annotations

import argparse
import json
import time

from vqa_pipeline.extractors.objects import Objects
from vqa_pipeline.media.decode import decode


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="+")
    args = parser.parse_args()
    ex = Objects()
    ex.load()
    total_media = total_s = total_decode = total_cpu = total_decode_cpu = 0.0
    for path in args.files:
        t0, c0 = time.perf_counter(), time.process_time()
        media = decode(path, "bench")
        decode_s, decode_cpu = time.perf_counter() - t0, time.process_time() - c0
        total_decode += decode_s
        total_decode_cpu += decode_cpu
        t0, c0 = time.perf_counter(), time.process_time()
        out = ex.extract(media, {})
        dt, cpu = time.perf_counter() - t0, time.process_time() - c0
        total_cpu += cpu
        total_media += media.info.duration_s
        total_s += dt
        seen = sorted({label for labels in out.columns["objects_labels"] if labels for label in labels})
        print(json.dumps({"file": path.rsplit("/", 1)[-1], "media_s": round(media.info.duration_s, 2),
                          "windows": len(media.windows), "decode_s": round(decode_s, 3),
                          "decode_cpu_s": round(decode_cpu, 3), "detector_cpu_s": round(cpu, 3),
                          "keyframes": len(media.keyframes), "shots_decoded": len(getattr(media, "shot_frames", [])),
                          **out.stats, "classes": seen}))
    print(json.dumps({"media_s": round(total_media, 2), "seconds": round(total_s, 3),
                      "x_real_time": round(total_media / max(total_s, 1e-9), 1), "decode_s": round(total_decode, 3),
                      "detector_cpu_s": round(total_cpu, 3), "decode_cpu_s": round(total_decode_cpu, 3)}))


if __name__ == "__main__":
    main()
