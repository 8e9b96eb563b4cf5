"""Indexing speed on the sample corpus: media seconds per wall second, time per extractor, peak memory.

(One self-contained script by design: a benchmark is run and read as a single file.)

    .venv/bin/python benchmarks/index_speed.py              # Ray actors (what `vqa index` uses)
    .venv/bin/python benchmarks/index_speed.py --no-ray     # extractors in this process
    .venv/bin/python benchmarks/index_speed.py --repeat 3   # the corpus 3 times (remuxed copies)
    .venv/bin/python benchmarks/index_speed.py --media-set real-speech --no-speech   # real recordings

``--media-set`` picks the corpus of the cold and warm runs: ``sample`` (default; data/sample, the
mixed set: speech, slides, scenes, sounds) or ``real-speech`` (the real recordings under
data/real/media that are mostly speech, :data:`REAL_SPEECH`; ``scripts/fetch_real_media.sh``
writes that folder).

Every run indexes into a fresh temporary LanceDB with the lite profile:

1. **cold**: Ray start-up (timed on its own) and a first run over the corpus; models load in their
   actors on first use. This is what one `vqa index` on a new machine costs.
2. **warm**: the same corpus into another fresh DB in the same Ray session (same actors, models
   loaded): the steady-state throughput, without start-up and model loading.
3. **speech**: a speech-heavy file, made by cutting every truth speech span out of the sample clips
   and concatenating them into one WAV (about 90 % speech), indexed warm into another fresh DB.
   This is the ASR worst case; the sample clips are only about 40 % speech.

``--repeat N`` indexes the corpus N times per run: the originals plus N-1 copies remuxed with PyAV
(packets copied, a different ``title`` tag, so the bytes and content hash differ and nothing is
deduplicated) under a temp folder.

Memory: a thread samples the resident memory of the whole process tree (this driver plus every
descendant: Ray's GCS, raylet, and actor workers) every 0.2 s, with psutil where it can be imported
(Ray vendors it) else from /proc; the proportional set size (PSS, shared pages split between the
processes that map them; RSS double-counts Ray's shared object store) every 1 s.
Extractor seconds are ``IndexSummary.extractor_seconds``: time inside each extractor's jobs (model
load included on first use); with Ray the extractors run side by side, so they can add up to more
than the wall time.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import SAMPLE, command_line, machine, model_tags, process_tree, pss_bytes, table, truth_files  # noqa: E402

PAGE = os.sysconf("SC_PAGE_SIZE")
TICK = os.sysconf("SC_CLK_TCK")
NCPU = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
SR = 16000

# The real recordings in data/real/media that are mostly speech (data/real/README.md, DATA.md):
# read books, a phone call, a speech, read commands, a man talking to camera.
REAL_MEDIA = SAMPLE.parent / "real" / "media"
REAL_SPEECH = (
    "austen_sense_and_sensibility_ch1.mp4",  # LibriVox reading, 30 s
    "jfk_inaugural_1961.mp4",  # the inaugural passage, 12 s
    "pocketsphinx_card_calls.wav",  # LibriVox utterances, 9.5 s
    "pocketsphinx_robot_commands.wav",  # 8 s
    "psychopy_jwpIntro.mp4",  # a man talking to camera, 5.8 s
    "pyannote_sample_call.wav",  # two-speaker phone call, 30 s
    "shakespeare_sonnet1_reading.mp4",  # a sonnet read aloud, 54 s
)


# ---------------------------------------------------------------------------------------------
# process-tree memory


def _psutil():
    try:
        import psutil
    except ImportError:
        try:
            import psutil
            import ray  # noqa: F401  (puts its vendored psutil on sys.path)
        except ImportError:
            return None
    return psutil


class TreeSampler:
    """Samples RSS (every ``interval`` s) and PSS (every ``pss_every`` s) of this process and its descendants."""

    def __init__(self, interval: float = 0.2, pss_every: float = 1.0) -> None:
        self._thread = threading.Thread(target=self._loop, daemon=True, name="tree-sampler")
        self.interval, self.pss_every = interval, pss_every
        self.root = os.getpid()
        self.ps = _psutil()
        self.backend = "psutil" if self.ps else "/proc"
        self._halt = threading.Event()
        self._lock = threading.Lock()
        self.samples = 0
        self.cpu_seen: dict[int, float] = {}  # pid -> cumulative user+system CPU seconds, last seen
        self.pid_peak: dict[int, int] = {}  # pid -> peak RSS over the whole benchmark
        self.pid_name: dict[int, str] = {}
        self._cpu_base: dict[int, float] = {}
        self._reset_marks()

    def _reset_marks(self) -> None:
        self.peak_rss = self.peak_pss = 0
        self.peak_procs = 0
        self.peak_detail: list[tuple[str, int]] = []

    def mark(self) -> dict:
        """Peaks and CPU seconds since the last mark, then start a new period."""
        self.sample(with_pss=False)
        with self._lock:
            out = {"peak_rss": self.peak_rss, "peak_pss": self.peak_pss, "peak_procs": self.peak_procs,
                   "peak_detail": self.peak_detail,
                   "tree_cpu_s": sum(v - self._cpu_base.get(p, 0.0) for p, v in self.cpu_seen.items()),
                   "cpu_by_pid": {p: v - self._cpu_base.get(p, 0.0) for p, v in self.cpu_seen.items()}}
            self._cpu_base = dict(self.cpu_seen)
            self._reset_marks()
        return out

    # -- one sample
    def _descendants(self) -> list[int]:
        if self.ps:
            try:
                return [self.root] + [p.pid for p in self.ps.Process(self.root).children(recursive=True)]
            except self.ps.Error:
                return [self.root]
        return process_tree(self.root)

    @staticmethod
    def _name(pid: int) -> str:
        try:
            cmd = [c.decode(errors="replace") for c in Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0") if c]
            if not cmd:
                return "?"
            name = cmd[0]
            if "python" in Path(name.split()[0]).name:  # python [-u] [-m] script.py ... -> script.py
                args = [c for c in cmd[1:] if not c.startswith("-")]
                name = args[0] if args else name
            name = name.split()[0] if name.startswith("/") else name
            return (Path(name).name if name.startswith("/") else name)[:40]
        except OSError:
            return "?"

    @staticmethod
    def _rss(pid: int) -> int:
        try:
            return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE
        except (OSError, IndexError, ValueError):
            return 0

    @staticmethod
    def _cpu(pid: int) -> float | None:
        try:
            f = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            return (int(f[11]) + int(f[12])) / TICK  # utime, stime
        except (OSError, IndexError, ValueError):
            return None

    @staticmethod
    def _pss(pid: int) -> int:
        return pss_bytes(pid)

    def sample(self, with_pss: bool) -> None:
        pids = self._descendants()
        rss = {pid: self._rss(pid) for pid in pids}
        total = sum(rss.values())
        pss = sum(self._pss(pid) for pid in pids) if with_pss else 0
        cpu = {pid: self._cpu(pid) for pid in pids}
        with self._lock:
            self.cpu_seen.update({p: v for p, v in cpu.items() if v is not None})
            for p, v in rss.items():
                if v > self.pid_peak.get(p, 0):
                    self.pid_peak[p] = v
                if p not in self.pid_name:
                    self.pid_name[p] = self._name(p)
            self.samples += 1
            if total > self.peak_rss:
                self.peak_rss = total
                self.peak_procs = sum(1 for v in rss.values() if v)
                self.peak_detail = sorted(((self._name(p), v) for p, v in rss.items() if v), key=lambda x: -x[1])
            self.peak_pss = max(self.peak_pss, pss)

    def start(self) -> None:
        self._thread.start()

    def _loop(self) -> None:
        last_pss = 0.0
        while not self._halt.is_set():
            now = time.monotonic()
            with_pss = now - last_pss >= self.pss_every
            if with_pss:
                last_pss = now
            self.sample(with_pss)
            self._halt.wait(self.interval)

    def stop(self) -> None:
        self._halt.set()
        self._thread.join(timeout=5)


def cpu_times() -> tuple[float, float]:
    """(busy, total) jiffies of the whole machine."""
    vals = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = vals[3] + (vals[4] if len(vals) > 4 else 0)
    return sum(vals) - idle, sum(vals)


# ---------------------------------------------------------------------------------------------
# corpus preparation


def remux(src: Path, dst: Path, title: str) -> None:
    """Copy the packets of ``src`` into ``dst`` with a different title tag (different bytes, same media)."""
    import av

    with av.open(str(src)) as inp, av.open(str(dst), "w") as out:
        out.metadata["title"] = title
        smap = {}
        for s in inp.streams:
            if s.type in ("video", "audio"):
                smap[s.index] = out.add_stream_from_template(s)
        for pkt in inp.demux(*[inp.streams[i] for i in smap]):
            if pkt.dts is None:
                continue
            pkt.stream = smap[pkt.stream.index]
            out.mux(pkt)


def decode_audio(path: Path):
    """16 kHz mono float32 samples of a file's audio track (None when it has none)."""
    import av
    import numpy as np

    with av.open(str(path)) as c:
        if not c.streams.audio:
            return None
        rs = av.AudioResampler(format="flt", layout="mono", rate=SR)
        chunks = []
        for frame in c.decode(audio=0):
            for f in rs.resample(frame):
                chunks.append(f.to_ndarray().reshape(-1))
        for f in rs.resample(None):
            chunks.append(f.to_ndarray().reshape(-1))
    return np.concatenate(chunks) if chunks else np.zeros(0, np.float32)


def speech_heavy_wav(truths: list[dict], dst: Path, pad: float = 0.15, gap: float = 0.3) -> dict:
    """Cut every truth speech span (with ``pad`` s either side) out of the clips into one WAV."""
    import numpy as np

    from vqa_pipeline.corpus.synth import write_audio

    parts, speech_s = [], 0.0
    silence = np.zeros(int(gap * SR), np.float32)
    for t in truths:
        if not t.get("has_audio") or not t.get("speech"):
            continue
        audio = decode_audio(Path(t["path"]))
        if audio is None:
            continue
        for s in t["speech"]:
            a, b = max(0, int((s["start"] - pad) * SR)), min(audio.size, int((s["end"] + pad) * SR))
            parts += [audio[a:b], silence]
            speech_s += s["end"] - s["start"]
    track = np.concatenate(parts) if parts else np.zeros(SR, np.float32)
    write_audio(dst, track)
    duration = track.size / SR
    return {"path": str(dst), "duration_s": round(duration, 3), "speech_s": round(speech_s, 3),
            "speech_share": round(speech_s / duration, 3) if duration else 0.0}


def real_speech_folder(tmp: Path) -> Path:
    """A folder of links to the :data:`REAL_SPEECH` recordings (indexed like any folder)."""
    missing = [n for n in REAL_SPEECH if not (REAL_MEDIA / n).is_file()]
    if missing:
        raise SystemExit(f"index_speed: {REAL_MEDIA} lacks {', '.join(missing)} (run scripts/fetch_real_media.sh)")
    d = tmp / "real_speech"
    d.mkdir(parents=True)
    for n in REAL_SPEECH:
        (d / n).symlink_to((REAL_MEDIA / n).resolve())
    return d


def corpus_paths(sample: Path, repeat: int, tmp: Path) -> list[str]:
    """The sample folder, plus ``repeat - 1`` folders of remuxed copies of its media files."""
    from vqa_pipeline.indexing.discover import MEDIA_SUFFIXES

    paths = [str(sample)]
    media = sorted(p.resolve() for p in sample.iterdir() if p.is_file() and p.suffix.lower() in MEDIA_SUFFIXES)
    for k in range(1, repeat):
        d = tmp / f"copy{k}"
        d.mkdir(parents=True)
        for p in media:
            remux(p, d / p.name, f"vqa benchmark copy {k}")
        paths.append(str(d))
    return paths


# ---------------------------------------------------------------------------------------------
# runs


def one_run(label: str, paths: list[str], db: Path, runner, sampler: TreeSampler, window: float) -> dict:
    from vqa_pipeline.indexing.pipeline import index_paths
    from vqa_pipeline.media.types import WindowingOptions
    from vqa_pipeline.store import Store

    store = Store(db)
    sampler.mark()
    c0 = cpu_times()
    t0 = time.perf_counter()
    summary = index_paths(paths, store, WindowingOptions(length_s=window, stride_s=window), profile="lite",
                          runner=runner)
    wall = time.perf_counter() - t0
    c1 = cpu_times()
    mem = sampler.mark()
    decode_s = sum((v.get("decode_s") or 0.0) for v in store.video_records().values())
    failed = [f"{f.path}: {f.error}" for f in summary.failed]
    ex_failed = sorted({f"{k}: {v}" for f in summary.files for k, v in f.extractors.items() if v.startswith("failed")})
    return {
        "label": label,
        "files": len(summary.files),
        "indexed": summary.count("indexed"),
        "failed": failed,
        "extractor_failures": ex_failed,
        "missing_extractors": summary.missing_extractors,
        "media_s": summary.media_seconds,
        "wall_s": wall,
        "summary_s": summary.seconds,
        "extractor_s": dict(summary.extractor_seconds),
        "decode_s": decode_s,
        "models": model_tags(store),
        "cpu_busy": (c1[0] - c0[0]) / max(1, c1[1] - c0[1]),
        "own_cpu": mem["tree_cpu_s"] / (wall * NCPU) if wall else 0.0,
        **mem,
    }


def actor_pids(runner) -> dict[int, str]:
    """pid -> extractor name of each Ray actor (best effort; empty for the inline runner)."""
    pools = getattr(runner, "_pools", None)
    if not pools:
        return {}
    import ray

    out = {}
    for name, pool in pools.items():
        for actor in pool:
            try:
                out[ray.get(actor.__ray_call__.remote(lambda self: os.getpid()), timeout=30)] = name
            except Exception:  # noqa: BLE001 - an older Ray without __ray_call__, a dead actor
                pass
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--no-ray", action="store_true", help="run extractors in this process (InlineRunner)")
    ap.add_argument("--ray-address", default=None, help="Ray cluster address (default: start a local Ray)")
    ap.add_argument("--threads", type=int, default=None,
                    help="threads per extractor (Ray: threads_per_actor, default 1; --no-ray: the extractors' own default)")
    ap.add_argument("--repeat", type=int, default=1, help="index the corpus N times per run (remuxed copies)")
    ap.add_argument("--sample", default=str(SAMPLE))
    ap.add_argument("--media-set", choices=("sample", "real-speech"), default="sample",
                    help="corpus of the cold and warm runs: the mixed sample corpus or the real speech recordings")
    ap.add_argument("--window", type=float, default=2.0)
    ap.add_argument("--no-speech", action="store_true", help="skip the speech-heavy run")
    ap.add_argument("--no-warm", action="store_true", help="only the cold run")
    ap.add_argument("--json", help="write every number to this file")
    ap.add_argument("--keep", action="store_true", help="keep the temp folder (DBs, copies, speech WAV)")
    args = ap.parse_args(argv)
    if args.repeat < 1:
        ap.error("--repeat must be >= 1")

    sample = Path(args.sample).resolve()
    truths = truth_files(sample)
    tmp = Path(tempfile.mkdtemp(prefix="vqa-speed-"))
    sampler = TreeSampler()
    sampler.start()
    runs: list[dict] = []
    info: dict = {"machine": machine(), "command": command_line(), "mode": "inline" if args.no_ray else "ray",
                  "repeat": args.repeat, "memory_backend": sampler.backend, "media_set": args.media_set}
    runner = None
    try:
        t = time.perf_counter()
        corpus = real_speech_folder(tmp) if args.media_set == "real-speech" else sample
        paths = corpus_paths(corpus, args.repeat, tmp / "copies")
        info["prepare_copies_s"] = round(time.perf_counter() - t, 3)
        speech = None
        if not args.no_speech:
            speech = speech_heavy_wav(truths, tmp / "speech_heavy.wav")
            info["speech_file"] = speech

        sampler.mark()
        t = time.perf_counter()
        if args.no_ray:
            from vqa_pipeline.indexing.runners import InlineRunner

            opts = {}
            if args.threads:
                opts = {n: {"threads": args.threads} for n in ("whisper-base", "rapidocr", "yamnet", "visual-stats", "e5-small")}
            runner = InlineRunner(opts)
        else:
            from vqa_pipeline.indexing.ray_runner import RayOptions, RayRunner

            runner = RayRunner(RayOptions(address=args.ray_address, threads_per_actor=args.threads or 1))
        info["runner_start_s"] = time.perf_counter() - t
        info["runner_start_mem"] = sampler.mark()

        runs.append(one_run("cold", paths, tmp / "db_cold", runner, sampler, args.window))
        info["actor_pids"] = actor_pids(runner)
        if not args.no_warm:
            runs.append(one_run("warm", paths, tmp / "db_warm", runner, sampler, args.window))
        if speech:
            runs.append(one_run("speech", [speech["path"]], tmp / "db_speech", runner, sampler, args.window))
    finally:
        try:
            if runner is not None:
                runner.close()
        finally:
            sampler.stop()
            if not args.keep:
                shutil.rmtree(tmp, ignore_errors=True)
        info["peak_overall_rss"] = max([r["peak_rss"] for r in runs] + [info.get("runner_start_mem", {}).get("peak_rss", 0)])
        info["peak_overall_pss"] = max([r["peak_pss"] for r in runs] + [info.get("runner_start_mem", {}).get("peak_pss", 0)])
        info["samples"] = sampler.samples
        if args.keep:
            print(f"kept {tmp}")
    info["runs"] = runs
    info["processes"] = process_table(sampler, info.get("actor_pids", {}), runs)
    for r in runs:
        r.pop("cpu_by_pid", None)
    print_report(info)
    if args.json:
        Path(args.json).write_text(json.dumps(info, indent=2, default=str) + "\n")
        print(f"wrote {args.json}")
    print()
    print("command:", info["command"])
    return 0 if runs and not any(r["failed"] for r in runs) else 1


def process_table(sampler: TreeSampler, actors: dict[int, str], runs: list[dict]) -> list[dict]:
    """Peak RSS and CPU seconds per run of each process (Ray actors named by their extractor)."""
    me = os.getpid()
    rows: dict[str, dict] = {}
    for pid, peak in sampler.pid_peak.items():
        if pid == me:
            label = "driver (this process)"
        elif pid in actors:
            label = f"actor {actors[pid]}"
        else:
            label = sampler._name(pid) if Path(f"/proc/{pid}").exists() else sampler.pid_name.get(pid, "?")
            label = label if label != "?" else sampler.pid_name.get(pid, "?")
        row = rows.setdefault(label, {"process": label, "n": 0, "peak_rss": 0, "cpu": {r["label"]: 0.0 for r in runs}})
        row["n"] += 1
        row["peak_rss"] += peak  # several processes of one name: sum of their peaks
        for r in runs:
            row["cpu"][r["label"]] += r.get("cpu_by_pid", {}).get(pid, 0.0)
    return sorted(rows.values(), key=lambda r: -r["peak_rss"])


def gib(n: int) -> str:
    return f"{n / 2**30:.2f}"


def print_report(info: dict) -> None:
    runs = info["runs"]
    start = info.get("runner_start_s", 0.0)
    print(f"\nmachine: {info['machine']}")
    print(f"mode: {info['mode']}, corpus {info.get('media_set', 'sample')} x{info['repeat']}, memory sampled from {info['memory_backend']} "
          f"({info['samples']} samples)")
    if runs and runs[0].get("models"):
        print("models: " + "; ".join(f"{g} {', '.join(t)}" for g, t in runs[0]["models"].items()))
    if info.get("speech_file"):
        sp = info["speech_file"]
        print(f"speech-heavy file: {sp['duration_s']:.1f}s, {100 * sp['speech_share']:.0f}% speech "
              f"(every truth speech span of the sample clips, concatenated)")
    rows = []
    label = "Ray start-up" if info["mode"] == "ray" else "runner set-up"
    m = info.get("runner_start_mem", {})
    rows.append([label, "-", "-", f"{start:.1f}", "-", "-", "-", "-", "-", "-", gib(m.get("peak_rss", 0)),
                 gib(m["peak_pss"]) if m.get("peak_pss") else "-", m.get("peak_procs", "-")])
    for r in runs:
        ex_sum = sum(r["extractor_s"].values())
        rows.append([r["label"], f"{r['indexed']}/{r['files']}", f"{r['media_s']:.0f}", f"{r['wall_s']:.1f}",
                     f"{r['media_s'] / r['wall_s']:.2f}" if r["wall_s"] else "-", f"{ex_sum:.1f}", f"{r['decode_s']:.1f}",
                     f"{r['tree_cpu_s'] / r['media_s']:.3f}" if r["media_s"] else "-",
                     f"{100 * r['own_cpu']:.0f}%", f"{100 * max(0.0, r['cpu_busy'] - r['own_cpu']):.0f}%",
                     gib(r["peak_rss"]), gib(r["peak_pss"]), r["peak_procs"]])
    cold = next((r for r in runs if r["label"] == "cold"), None)
    if cold:
        total = start + cold["wall_s"]
        rows.append(["cold incl. start-up", "", f"{cold['media_s']:.0f}", f"{total:.1f}",
                     f"{cold['media_s'] / total:.2f}", "", "", "", "", "", "", "", ""])
    print()
    print(table(rows, ["run", "files", "media s", "wall s", "media s / wall s", "extractor s", "decode s", "CPU s/media s", "CPU ours",
                       "CPU others", "peak RSS GiB", "peak PSS GiB", "procs"]))
    print(f"CPU s/media s: CPU seconds of the whole process tree per media second (hardly changed by other load); "
          f"CPU ours: that CPU time / (wall x {NCPU} cores); CPU others: the rest of the machine's busy time in the "
          "same period (other jobs on the box: wall times are pessimistic when this is high)")

    names = sorted({n for r in runs for n in r["extractor_s"]},
                   key=lambda n: -max(r["extractor_s"].get(n, 0.0) for r in runs))
    rows = []
    for n in names:
        row = [n]
        for r in runs:
            s = r["extractor_s"].get(n, 0.0)
            tot = sum(r["extractor_s"].values()) or 1.0
            row += [f"{s:.1f}", f"{100 * s / tot:.0f}%", f"{s / r['media_s']:.3f}" if r["media_s"] else "-"]
        rows.append(row)
    head = ["extractor"]
    for r in runs:
        head += [f"{r['label']} s", "share", "s/media s"]
    print()
    print(table(rows, head))
    if cold and len(runs) > 1 and runs[1]["label"] == "warm":
        load = {n: cold["extractor_s"].get(n, 0.0) - runs[1]["extractor_s"].get(n, 0.0) for n in names}
        print("cold - warm extractor seconds (model loading, first-call warm-up): "
              + ", ".join(f"{n} {v:+.1f}" for n, v in load.items()))
    procs = [p for p in info.get("processes", []) if p["peak_rss"] > 20 * 2**20 or sum(p["cpu"].values()) > 0.5]
    if procs:
        print()
        print(table(
            [[p["process"] + (f" (x{p['n']})" if p["n"] > 1 else ""), f"{p['peak_rss'] / 2**20:.0f}",
              *[f"{p['cpu'].get(r['label'], 0.0):.1f}" for r in runs]] for p in procs],
            ["process", "peak RSS MiB", *[f"{r['label']} CPU s" for r in runs]]))
        print("(each process's own peak; they need not coincide, so the column sums to more than the tree peak)")
    peak = max(runs, key=lambda r: r["peak_rss"]) if runs else None
    if peak and peak["peak_detail"]:
        print(f"\nlargest processes at the peak RSS ({peak['label']} run): "
              + ", ".join(f"{name} {v / 2**20:.0f} MiB" for name, v in peak["peak_detail"][:8]))
    print(f"peak of the whole process tree over the benchmark: RSS {gib(info['peak_overall_rss'])} GiB, "
          f"PSS {gib(info['peak_overall_pss'])} GiB")
    for r in runs:
        if r["cpu_busy"] - r["own_cpu"] > 0.10:
            print(f"WARNING ({r['label']}): other processes kept {100 * (r['cpu_busy'] - r['own_cpu']):.0f}% of the "
                  "machine's CPU busy during this run; its timing is pessimistic")
        for f in r["failed"] + r["extractor_failures"]:
            print(f"WARNING ({r['label']}): {f}")
        if r["missing_extractors"]:
            print(f"WARNING ({r['label']}): extractors not available: {r['missing_extractors']}")


if __name__ == "__main__":
    sys.exit(main())
