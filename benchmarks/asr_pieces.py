"""ASR on one long speech track: one stream, pieces cut at pauses, faster-whisper's batched pipeline.

The pieces two ways: each detecting its language (before issue 13's follow-up) and the language
detected once per file by the extractor's probe, every piece then heard in it (what the pipeline does).

(One self-contained script by design: a benchmark is run and read as a single file.)

    .venv/bin/python benchmarks/asr_pieces.py              # a 91 s espeak-ng track made here
    .venv/bin/python benchmarks/asr_pieces.py --wav FILE   # any file PyAV reads

whisper-base int8, greedy, word timestamps, 1 thread (``--threads``). Prints the CPU seconds of
this process (less sensitive to other load than wall time) and the words of each way.
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import command_line, machine, table  # noqa: E402

SENTENCES = [
    "The next train to the harbour leaves from platform nine at half past four.",
    "Please keep your ticket ready for the inspector on the upper deck.",
    "Our museum opens at ten in the morning and closes at six in the evening.",
    "The blue gallery on the second floor shows paintings of old sailing ships.",
    "Dissolve twenty grams of salt in one hundred millilitres of warm water.",
    "Stir the solution slowly until every crystal has disappeared completely.",
    "Revenue for the third quarter grew by eleven percent compared with last year.",
    "The board expects the new factory in Lisbon to open next spring.",
    "Turn left after the bakery and walk straight on until you see the lighthouse.",
    "The guided tour lasts about forty minutes and costs eight euros per person.",
    "Remember to switch off your phone before the concert begins.",
    "The library keeps a collection of maps drawn by the first settlers.",
    "Lunch will be served in the garden if the weather stays dry.",
    "Our engineers replaced the old pumps with quieter electric models.",
    "The final bus back to the city centre departs at eleven fifteen.",
    "Children under twelve travel free when they are with an adult.",
    "The festival closes on Sunday with fireworks over the river.",
    "Please return all borrowed helmets to the desk by the main entrance.",
    "The harbour master checks every boat before it leaves the marina.",
    "Thank you for listening and enjoy the rest of your visit.",
]
GAPS_S = [0.6, 0.5, 0.8, 0.45, 0.7, 2.6, 0.5, 0.9, 0.6, 0.5, 0.7, 0.6, 2.4, 0.5, 0.8, 0.6, 0.5, 0.7, 0.6, 0.5, 1.0]


def make_track(path: Path):
    import numpy as np

    from vqa_pipeline.corpus import synth

    parts = []
    for gap, text in zip(GAPS_S, SENTENCES):
        parts += [np.zeros(int(gap * synth.SR), np.float32),
                  synth.speech(text, voice=None, speed_wpm=160, peak=0.8, fade_ms=0).astype(np.float32)]
    parts.append(np.zeros(int(GAPS_S[-1] * synth.SR), np.float32))
    audio = np.concatenate(parts)
    audio += (np.random.default_rng(0).standard_normal(audio.size) * 1e-4).astype(np.float32)
    synth.write_audio(path, audio)


def read_audio(path: Path):
    import av
    import numpy as np

    with av.open(str(path)) as c:
        rs = av.AudioResampler(format="flt", layout="mono", rate=16000)
        out = [g.to_ndarray().reshape(-1) for f in c.decode(audio=0) for g in rs.resample(f)]
    return np.concatenate(out)


def cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--wav")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args(argv)
    from faster_whisper import BatchedInferencePipeline, WhisperModel

    from vqa_pipeline.extractors import asr, models

    path = Path(args.wav) if args.wav else Path(tempfile.mkdtemp(prefix="vqa-asr-")) / "track.wav"
    if not args.wav:
        make_track(path)
    audio = read_audio(path)
    tight = asr.speech_chunks(audio)
    pieces = asr.plan_pieces(tight, audio.size)
    model = WhisperModel(str(models.whisper_base_dir()), device="cpu", compute_type="int8",
                         cpu_threads=args.threads, local_files_only=True)
    opts = {"language": None, "beam_size": 1, "word_timestamps": True}

    def words(segments):
        return [w.word for s in segments for w in (s.words or ()) if w.word.strip()]

    ex = asr.WhisperBase(cpu_threads=args.threads)  # the extractor's own code: probe, then the pieces
    ex.load()
    parts = [asr.AsrPart(i, p, tuple(tight)) for i, p in enumerate(pieces)]

    def pieces_detect_once():
        language, _ = ex.detect_language(audio, parts[0].chunks)
        return [w["word"] for p in parts for w in ex.transcribe(audio, p.chunks, language=language)[0]]

    ways = {
        "one stream (before)": lambda: words(asr.transcribe_speech(
            model, audio, asr.transcription_chunks(tight, audio.size), condition_on_previous_text=False, **opts)[0]),
        f"{len(pieces)} pieces, one after another": lambda: [w for p in pieces for w in words(asr.transcribe_speech(
            model, audio, p, condition_on_previous_text=False, **opts)[0])],
        f"{len(pieces)} pieces, language detected once (after)": pieces_detect_once,
        "BatchedInferencePipeline, batch 4": lambda: words(BatchedInferencePipeline(model).transcribe(
            audio, batch_size=4, **opts)[0]),
    }
    rows, got_by = [], []
    for name, run in ways.items():
        c, t = cpu(), time.perf_counter()
        got = run()
        same = ["-" if not got_by else ("same" if got == got_by[0] else "differ"),
                "-" if len(got_by) < 2 else ("same" if got == got_by[1] else "differ")]
        rows.append([name, f"{cpu() - c:.2f}", f"{time.perf_counter() - t:.1f}", len(got), *same])
        got_by.append(got)
    print(f"\nmachine: {machine()}; {audio.size / 16000:.1f} s of audio, pieces of "
          f"{[round(sum(c['end'] - c['start'] for c in p) / 16000, 1) for p in pieces]} s; {args.threads} thread(s)")
    print(table(rows, ["way", "CPU s", "wall s", "words", "words vs one stream", "vs pieces each detecting"]))
    print("\ncommand:", command_line())
    return 0


if __name__ == "__main__":
    sys.exit(main())
