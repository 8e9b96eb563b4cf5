"""GPU speed of the full-profile extractors on the sample corpus, with random weights, in one command.

    PYTHONUNBUFFERED=1 python3 benchmarks/gpu_full_profile.py
    python3 benchmarks/gpu_full_profile.py --models clip-vit-b32,videoprism-lvt --keyframe-every 0.25

Self-contained for a bare GPU machine without network: it builds random-weight checkpoints of the
real architectures (open_clip ViT-B-32; LAION-CLAP HTSAT-tiny with a roberta-base-sized text
encoder; VideoPrism LvT base, 16 frames at 288x288) in a temp folder with
``vqa_pipeline.extractors.full.testing``, points the extractors at them through their options,
decodes every file of ``data/sample`` once (PyAV), warms each model up on one file, then times it on
all windows of all files. It prints, per model: load seconds, windows per second, media seconds per
second, peak GPU memory (``torch.cuda.max_memory_allocated``) and the device/precision, then the
exact command line. faster-whisper large-v3 runs only when real weights are found
(``$VQA_WHISPER_MODEL_DIR`` or the HF cache): random Whisper weights would decode garbage at an
unrepresentative speed.

It needs no project install: the repository root is put on ``sys.path``. Python packages it imports:
torch, torchvision, transformers (>= 5.15, for VideoPrism), sentencepiece, tokenizers, safetensors,
timm, scipy, scikit-learn, h5py, numba, pyarrow, pillow, numpy (all in the GPU image), plus, carried
as wheels (Python 3.12, manylinux x86-64, ``--no-deps``): av, open_clip_torch, ftfy, wcwidth,
laion_clap, torchlibrosa, librosa, soxr, soundfile, cffi, pycparser, audioread, decorator, pooch,
platformdirs. Expected run time on an H100: about 1-2 minutes.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _common import SAMPLE, command_line, machine, table  # noqa: E402

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
MODELS = ("clip-vit-b32", "clap-htsat", "videoprism-lvt", "videoprism-tags", "whisper-large-v3")


def decode_corpus(sample: Path, keyframe_every_s: float):
    from vqa_pipeline.indexing.discover import discover
    from vqa_pipeline.media.decode import decode
    from vqa_pipeline.media.hashing import content_hash, video_id_for
    from vqa_pipeline.media.types import WindowingOptions

    opts = WindowingOptions(length_s=2.0, stride_s=2.0, keyframe_every_s=keyframe_every_s)
    out = []
    for f in discover([sample]):
        if f.error:
            continue
        out.append(decode(f.path, video_id_for(content_hash(f.path)), opts))
    return out


def build_checkpoints(root: Path, names: list[str], tiny: bool = False) -> dict[str, dict]:
    """Extractor options per model, pointing at freshly built random-weight checkpoints."""
    from vqa_pipeline.extractors.full import testing

    opts: dict[str, dict] = {}
    if "clip-vit-b32" in names:
        opts["clip-vit-b32"] = {"checkpoint": str(testing.build_clip_checkpoint(root / "clip", tiny=tiny))}
    if "clap-htsat" in names:
        text = testing.build_roberta_dir(root / "roberta", layers=1 if tiny else 12)
        opts["clap-htsat"] = {"checkpoint": str(testing.build_clap_checkpoint(root / "clap", text)),
                              "text_encoder_dir": str(text)}
    if {"videoprism-lvt", "videoprism-tags"} & set(names):
        vp = testing.build_videoprism_checkpoint(root / "videoprism", tiny=tiny, with_tokenizer=True)
        for n in ("videoprism-lvt", "videoprism-tags"):
            opts[n] = {"checkpoint": str(vp)}
    if "whisper-large-v3" in names:
        opts["whisper-large-v3"] = {}
    return opts


def run_one(name: str, options: dict, media: list, device: str) -> list:
    import torch

    from vqa_pipeline.extractors.registry import create_extractor

    ex = create_extractor(name, device=device, **options)
    ok, why = ex.availability()
    if not ok:
        return [name, "-", "-", "-", "-", f"skipped: {why[:70]}"]
    if device.startswith("cuda"):
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
    t0 = time.perf_counter()
    ex.load()
    load_s = time.perf_counter() - t0
    ex.extract(media[0], {})  # warm-up: kernels, autotuning, caches
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    t1 = time.perf_counter()
    windows = 0
    for m in media:
        ex.extract(m, {})
        windows += len(m.windows)
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    dt = time.perf_counter() - t1
    media_s = sum(m.info.duration_s for m in media)
    peak = torch.cuda.max_memory_allocated() / 2**30 if device.startswith("cuda") else 0.0
    model = getattr(ex, "_model", None)
    where = f"{getattr(model, 'device', device)} {str(getattr(model, 'dtype', '') or getattr(model, 'autocast_dtype', '')).replace('torch.', '')}"
    return [name, f"{load_s:.1f}", f"{windows / dt:.1f}", f"{media_s / dt:.1f}", f"{peak:.2f}", where.strip()]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sample", type=Path, default=SAMPLE, help="corpus folder (default data/sample)")
    ap.add_argument("--models", default=",".join(MODELS), help="comma-separated extractor names")
    ap.add_argument("--device", default="cuda", help="cuda (default) or cpu")
    ap.add_argument("--keyframe-every", type=float, default=0.25, help="seconds between keyframes (default 0.25)")
    ap.add_argument("--limit-files", type=int, default=0, help="time only the first N files (0: all)")
    ap.add_argument("--tiny", action="store_true", help="tiny model configs (a quick CPU check of this script)")
    args = ap.parse_args(argv)
    warnings.filterwarnings("ignore")
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    import torch

    names = [n.strip() for n in args.models.split(",") if n.strip()]
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        print("no CUDA device visible; use --device cpu for a (slow) CPU run", file=sys.stderr)
        return 2
    t0 = time.perf_counter()
    media = decode_corpus(args.sample, args.keyframe_every)
    if args.limit_files:
        media = media[: args.limit_files]
    n_windows = sum(len(m.windows) for m in media)
    n_kf = sum(len(m.keyframes) for m in media)
    print(f"decoded {len(media)} files, {n_windows} windows, {n_kf} keyframes in {time.perf_counter() - t0:.1f}s",
          flush=True)
    with tempfile.TemporaryDirectory(prefix="vqa-gpu-bench-") as tmp:
        t1 = time.perf_counter()
        opts = build_checkpoints(Path(tmp), names, tiny=args.tiny)
        print(f"built random-weight checkpoints in {time.perf_counter() - t1:.1f}s", flush=True)
        rows = []
        for name in names:
            try:
                rows.append(run_one(name, opts.get(name, {}), media, args.device))
            except Exception as exc:  # report and go on with the next model
                rows.append([name, "-", "-", "-", "-", f"failed: {type(exc).__name__}: {str(exc)[:80]}"])
            print("  " + "  ".join(rows[-1]), flush=True)
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"
    print()
    print(f"machine: {machine()}; GPU: {gpu}; torch {torch.__version__}")
    print(f"corpus: {args.sample} ({len(media)} files, {n_windows} windows of 2 s, keyframe every "
          f"{args.keyframe_every:g} s); random weights, {'TINY configs' if args.tiny else 'real architectures'}")
    print(table(rows, ["model", "load s", "windows/s", "media s/s", "peak GPU GiB", "device"]))
    print(f"total {time.perf_counter() - t0:.1f}s")
    print(f"command: {command_line()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
