"""Speed of the lite extractors on synthetic media (not a test; run by hand).

    HF_HUB_OFFLINE=1 .venv/bin/python -m vqa_pipeline_tests.extractors.bench_extractors [--beams 1 5]

Prints load time and extract time per extractor, as seconds per media second (audio models) or
per keyframe (OCR), best of ``--repeat`` runs, on (a) the 16 s test fixture and (b) 60 s of
continuous espeak-ng speech.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from vqa_pipeline.corpus.synth import mix_in
from vqa_pipeline.extractors.registry import create_extractor
from vqa_pipeline_tests.extractors.conftest import SR, espeak, main_audio, make_media

SENTENCES = [
    "Set the oven to 180 degrees, then wait ten minutes.",
    "Please take the next train from platform nine.",
    "The meeting starts at half past four in the main hall.",
    "Add two cups of flour and a pinch of salt.",
    "Turn left at the second traffic light and park behind the bank.",
    "The museum is closed on Mondays and public holidays.",
]


def continuous_speech(seconds: float = 60.0) -> np.ndarray:
    track = np.zeros(int(seconds * SR), np.float32)
    t, i = 0.5, 0
    while True:
        clip = espeak(SENTENCES[i % len(SENTENCES)])
        if t + len(clip) / SR > seconds - 0.5:
            break
        mix_in(track, clip, t)
        t += len(clip) / SR + 0.4
        i += 1
    return track


def timed(fn, repeat: int):
    best, out = float("inf"), None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--beams", type=int, nargs="*", default=[1, 5])
    args = ap.parse_args()

    fixture = make_media(audio=main_audio())
    speech60 = make_media(video_id="speech60", duration_s=60.0, audio=continuous_speech(), with_video=False)
    results = []

    def report(name, media_name, load_s, best, out, per, unit):
        row = {
            "extractor": name,
            "media": media_name,
            "load_s": round(load_s, 3),
            "extract_s": round(best, 3),
            f"s_per_{unit}": round(best / per, 4),
            "stats": out.stats,
        }
        results.append(row)
        print(json.dumps(row), flush=True)

    for name in ("whisper-base", "whisper-tiny-en"):
        for beam in args.beams:
            ex = create_extractor(name, beam_size=beam)
            t = time.perf_counter()
            ex.load()
            load_s = time.perf_counter() - t
            for mname, m in (("fixture16s", fixture), ("speech60s", speech60)):
                best, out = timed(lambda ex=ex, m=m: ex.extract(m, {}), args.repeat)
                report(f"{name}/beam{beam}", mname, load_s, best, out, m.info.duration_s, "media_s")
                if mname == "speech60s":
                    print("   ", " | ".join(ln.text for lines in out.lines for ln in lines)[:300])

    upstream = {}
    for name in ("rapidocr", "yamnet", "visual-stats"):
        ex = create_extractor(name)
        t = time.perf_counter()
        ex.load()
        load_s = time.perf_counter() - t
        best, out = timed(lambda ex=ex: ex.extract(fixture, {}), args.repeat)
        upstream[ex.group] = out
        if name == "rapidocr":
            report(name, "fixture16s", load_s, best, out, len(fixture.keyframes), "keyframe")
            nos, out2 = timed(lambda name=name: create_extractor(name, skip_threshold=-1.0).extract(fixture, {}),
                              args.repeat)
            report(name + "/no-skip", "fixture16s", 0.0, nos, out2, len(fixture.keyframes), "keyframe")
        else:
            report(name, "fixture16s", load_s, best, out, fixture.info.duration_s, "media_s")
    upstream["asr"] = create_extractor("whisper-base").extract(fixture, {})
    ex = create_extractor("e5-small")
    t = time.perf_counter()
    ex.load()
    load_s = time.perf_counter() - t
    best, out = timed(lambda: ex.extract(fixture, upstream), args.repeat)
    report("e5-small", "fixture16s", load_s, best, out, fixture.info.duration_s, "media_s")


if __name__ == "__main__":
    main()
