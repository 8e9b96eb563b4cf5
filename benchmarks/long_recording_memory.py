"""Peak memory of `vqa index` on long recordings (10 min, 1 h, 3 h; silence and speech).

(One self-contained script by design: a benchmark is run and read as a single file.)

    .venv/bin/python benchmarks/long_recording_memory.py                      # silence 10m,1h,3h; speech 10m,1h
    .venv/bin/python benchmarks/long_recording_memory.py --cases silence:3h   # one case
    .venv/bin/python benchmarks/long_recording_memory.py --cases speech:10m --no-ray

Recordings are generated cheaply under a temp folder (kept in ``--media-dir`` when given, so a
second run reuses them):

- **silence**: mono 8 kHz FLAC of digital silence (a 3 h file is about 2 MB), the issue's case.
- **speech**: a short espeak-ng passage (about 45 s with pauses between sentences) looped to the
  length, 16 kHz mono FLAC; about 80 % of it is speech, so ASR works on the whole length.
- **video**: H.264 320x240 at 2 fps, a new flat colour every 20 s, with a 500 Hz tone (AAC): the
  keyframe/thumbnail path (OCR and visual stats run on every window).

Each case runs ``python -m vqa_pipeline.cli index FILE --db TMP -q --json`` (the lite profile with
Ray actors, as a user runs it) as a subprocess into a fresh temporary database, from this checkout
(``--repo`` runs another one: the code before a change, for before/after figures). A thread samples
the resident memory (RSS) of the whole process tree every 0.2 s: the CLI process and every
descendant (Ray's GCS, raylet, agents and the extractor actors); the proportional set size (PSS,
which splits shared pages such as Ray's object store between the processes mapping them instead
of counting them once per process) every 1 s. Printed per case: peak tree RSS, peak tree PSS,
the largest processes at the RSS peak, wall time, windows written, and the exact command.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from fractions import Fraction
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import process_tree, pss_bytes  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
PAGE = os.sysconf("SC_PAGE_SIZE")
GIB = 2**30

SPEECH_TEXT = [
    "Welcome to the weekly planning meeting of the robotics team.",
    "First, the battery supplier confirmed delivery of forty packs by next Thursday.",
    "Second, the test track will be closed on Monday for resurfacing.",
    "Maria will present the results of the navigation benchmark after the break.",
    "The new gripper design reduced the failure rate from nine percent to three percent.",
    "Please send your travel requests for the conference in Lisbon before Friday.",
    "We agreed to move the demo for the customer to the twenty second of March.",
]


# ---------------------------------------------------------------------------------------------
# media generation


def _encode_flac(path: Path, chunks, rate: int) -> None:
    """Write mono s16 FLAC from an iterator of int16 arrays (streamed: memory stays small)."""
    import av

    with av.open(str(path), "w", format="flac") as out:
        stream = out.add_stream("flac", rate=rate, layout="mono")
        pts = 0
        for chunk in chunks:
            frame = av.AudioFrame.from_ndarray(chunk.reshape(1, -1), format="s16", layout="mono")
            frame.sample_rate = rate
            frame.pts = pts
            frame.time_base = Fraction(1, rate)
            pts += chunk.size
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)


def _looped(clip: np.ndarray, n: int):
    """``clip`` repeated until ``n`` samples, in blocks (never the whole length in memory)."""
    left = n
    while left > 0:
        yield clip[: min(left, clip.size)]
        left -= clip.size


def make_silence(path: Path, seconds: float, rate: int = 8000) -> None:
    _encode_flac(path, _looped(np.zeros(rate * 10, np.int16), int(seconds * rate)), rate)


def speech_loop_clip(rate: int = 16000) -> np.ndarray:
    """A few spoken sentences with short pauses (espeak-ng), as int16 at ``rate``."""
    import av

    if not shutil.which("espeak-ng"):
        raise SystemExit("espeak-ng is needed for the speech recordings (apt install espeak-ng)")
    parts = []
    with tempfile.TemporaryDirectory() as tmp:
        for i, text in enumerate(SPEECH_TEXT):
            wav = Path(tmp) / f"{i}.wav"
            subprocess.run(["espeak-ng", "-s", "150", "-w", str(wav), text], check=True, capture_output=True)
            with av.open(str(wav)) as c:
                res = av.AudioResampler(format="s16", layout="mono", rate=rate)
                for frame in c.decode(audio=0):
                    for out in res.resample(frame):
                        parts.append(out.to_ndarray().reshape(-1))
                for out in res.resample(None):
                    parts.append(out.to_ndarray().reshape(-1))
            parts.append(np.zeros(int(rate * 0.8), np.int16))  # a pause between sentences
    return np.concatenate(parts)


def make_speech(path: Path, seconds: float, rate: int = 16000) -> None:
    _encode_flac(path, _looped(speech_loop_clip(rate), int(seconds * rate)), rate)


def make_video(path: Path, seconds: float) -> None:
    """H.264 320x240 at 2 fps, a new flat colour every 20 s, with a 500 Hz tone (AAC): the frame path."""
    from vqa_pipeline.corpus import synth

    def frames():
        img = np.empty((240, 320, 3), np.uint8)
        for i in range(int(seconds * 2)):
            t = int(i / 2) // 20 * 20
            img[:] = ((t * 37) % 255, (t * 91) % 255, (t * 53) % 255)
            yield img

    synth.encode_mp4(path, frames(), fps=2.0, audio=synth.tone(500.0, seconds, amp=0.3),
                     x264_options={"preset": "ultrafast"})


DURATIONS = {"10m": 600, "1h": 3600, "3h": 3 * 3600}
MAKERS = {"silence": make_silence, "speech": make_speech, "video": make_video}


def media_for(kind: str, label: str, folder: Path) -> Path:
    path = folder / f"{kind}_{label}.{'mp4' if kind == 'video' else 'flac'}"
    if not path.exists():
        t0 = time.perf_counter()
        tmp = path.with_name(f"tmp_{path.name}")
        MAKERS[kind](tmp, DURATIONS[label])
        tmp.rename(path)
        print(f"# generated {path.name} ({path.stat().st_size / 2**20:.1f} MiB) in {time.perf_counter() - t0:.1f} s",
              file=sys.stderr)
    return path


# ---------------------------------------------------------------------------------------------
# process-tree memory


def tree(root: int) -> list[int]:
    return process_tree(root)


def rss(pid: int) -> int:
    try:
        return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE
    except (OSError, IndexError, ValueError):
        return 0


def pss(pid: int) -> int:
    return pss_bytes(pid)


def name(pid: int) -> str:
    try:
        cmd = [c.decode(errors="replace") for c in Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0") if c]
    except OSError:
        return "?"
    if not cmd:
        return "?"
    if "python" in Path(cmd[0]).name:
        args = [c for c in cmd[1:] if not c.startswith("-")]
        return (" ".join(args[:2]) if args else cmd[0])[:40]
    return Path(cmd[0].split()[0]).name[:40]


class Sampler(threading.Thread):
    def __init__(self, root: int, interval: float = 0.2, pss_every: float = 1.0) -> None:
        super().__init__(daemon=True)
        self.root, self.interval, self.pss_every = root, interval, pss_every
        self.halt = threading.Event()
        self.peak_rss = self.peak_pss = 0
        self.peak_detail: list[tuple[str, int]] = []
        self.peak_at = 0.0  # seconds after the start
        self.samples = 0

    def run(self) -> None:
        last_pss = 0.0
        start = time.monotonic()
        while not self.halt.is_set():
            pids = tree(self.root)
            per = {p: rss(p) for p in pids}
            total = sum(per.values())
            if total > self.peak_rss:
                self.peak_rss = total
                self.peak_detail = sorted(((name(p), v) for p, v in per.items() if v), key=lambda x: -x[1])[:4]
                self.peak_at = time.monotonic() - start
            now = time.monotonic()
            if now - last_pss >= self.pss_every:
                last_pss = now
                self.peak_pss = max(self.peak_pss, sum(pss(p) for p in pids))
            self.samples += 1
            self.halt.wait(self.interval)


# ---------------------------------------------------------------------------------------------


def run_case(media: Path, no_ray: bool, extra: list[str], repo: Path = REPO) -> dict:
    with tempfile.TemporaryDirectory(prefix="vqa-longmem-") as tmp:
        cmd = [sys.executable, "-m", "vqa_pipeline.cli", "index", str(media), "--db", str(Path(tmp) / "db"),
               "-q", "--json", *(["--no-ray"] if no_ray else []), *extra]
        env = {**os.environ, "HF_HUB_OFFLINE": "1"}
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=repo, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
        sampler = Sampler(proc.pid)
        sampler.start()
        out, err = proc.communicate()
        wall = time.perf_counter() - t0
        sampler.halt.set()
        sampler.join()
    result = {"rc": proc.returncode, "wall_s": round(wall, 1), "peak_rss_gib": round(sampler.peak_rss / GIB, 3),
              "peak_pss_gib": round(sampler.peak_pss / GIB, 3), "peak_rss_at_s": round(sampler.peak_at, 1),
              "peak_top": [(n, round(v / GIB, 3)) for n, v in sampler.peak_detail],
              "samples": sampler.samples, "command": shlex.join(cmd)}
    try:
        summary = json.loads(out.decode())
        f = summary["files"][0]
        result.update(windows=f.get("windows"), status=f.get("status"), extractors=f.get("extractors"))
    except (ValueError, IndexError, KeyError):
        result["stderr"] = err.decode(errors="replace")[-800:]
    return result


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cases", default="silence:10m,silence:1h,silence:3h,speech:10m,speech:1h",
                    help="comma-separated KIND:LENGTH, KIND in silence/speech/video, LENGTH in 10m/1h/3h")
    ap.add_argument("--media-dir", type=Path, default=None, help="keep generated recordings here (reused)")
    ap.add_argument("--no-ray", action="store_true", help="pass --no-ray to vqa index")
    ap.add_argument("--json", type=Path, default=None, help="also write the results here")
    ap.add_argument("--repo", type=Path, default=REPO,
                    help="run `vqa index` from this checkout (e.g. the main branch, for before/after figures)")
    ap.add_argument("extra", nargs="*", help="more arguments for vqa index (after --)")
    args = ap.parse_args()
    folder = args.media_dir or Path(tempfile.mkdtemp(prefix="vqa-longmedia-"))
    folder.mkdir(parents=True, exist_ok=True)
    results = []
    for case in args.cases.split(","):
        kind, label = case.split(":")
        media = media_for(kind, label, folder)
        r = run_case(media, args.no_ray, args.extra, args.repo.resolve())
        r["case"] = case
        results.append(r)
        print(json.dumps(r), flush=True)
    if args.media_dir is None:
        shutil.rmtree(folder, ignore_errors=True)
    print()
    print(f"{'case':<12} {'rc':>3} {'windows':>8} {'wall s':>8} {'peak RSS GiB':>13} {'(at s)':>7} {'peak PSS GiB':>13}"
          "  largest at the RSS peak (GiB)")
    for r in results:
        top = ", ".join(f"{n} {v:.2f}" for n, v in r["peak_top"][:3])
        print(f"{r['case']:<12} {r['rc']:>3} {r.get('windows') or 0:>8} {r['wall_s']:>8} {r['peak_rss_gib']:>13.2f} "
              f"{r['peak_rss_at_s']:>7} {r['peak_pss_gib']:>13.2f}  {top}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    print("\n" + shlex.join(getattr(sys, "orig_argv", None) or [sys.executable, *sys.argv]))
    return 0 if all(r["rc"] == 0 for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
