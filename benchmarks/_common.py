"""Helpers shared by the benchmark scripts (not a test module; no dependencies beyond the project)."""

from __future__ import annotations

import json
import os
import platform
import shlex
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "data" / "sample"


def command_line() -> str:
    """The exact command line of this process (interpreter included)."""
    argv = getattr(sys, "orig_argv", None) or [sys.executable, *sys.argv]
    return shlex.join(argv)


def machine() -> str:
    """One line: CPU model, cores this process may use, memory, GPU if any, date."""
    cpu = platform.machine()  # platform.processor() would fork `uname`
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - non-Linux
        cores = os.cpu_count() or 0
    mem = ""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                mem = f", {int(line.split()[1]) / 2**20:.0f} GiB RAM"
                break
    except OSError:
        pass
    return f"{cpu}, {cores} cores{mem}, {gpu_name()}, Python {platform.python_version()}, {time.strftime('%Y-%m-%d')}"


def gpu_name() -> str:
    """``GPU: <names>`` from nvidia-smi, or ``no GPU``."""
    import shutil
    import subprocess

    if not shutil.which("nvidia-smi"):
        return "no GPU"
    try:
        out = subprocess.run(["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"], capture_output=True,
                             text=True, timeout=15, check=True).stdout.split("\n")
    except (OSError, subprocess.SubprocessError):
        return "no GPU (nvidia-smi failed)"
    names = [n.strip() for n in out if n.strip()]
    return f"GPU: {', '.join(names)}" if names else "no GPU"


def truth_files(sample: Path, clips: list[str] | None = None) -> list[dict]:
    """Truth dicts of the sample corpus (with ``path`` added), sorted by clip name."""
    out = []
    for tf in sorted((sample / "truth").glob("*.json")):
        t = json.loads(tf.read_text())
        if clips and t["clip"] not in clips and Path(t["clip"]).stem not in clips:
            continue
        t["path"] = str((sample / t["clip"]).resolve())
        out.append(t)
    return out


def table(rows: list[list], header: list[str], align: str | None = None) -> str:
    """A plain fixed-width text table; ``align`` is one of ``l``/``r`` per column (default: first left)."""
    cells = [[str(c) for c in header]] + [[str(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    align = align or ("l" + "r" * (len(header) - 1))
    out = []
    for k, r in enumerate(cells):
        out.append("  ".join(c.ljust(w) if a == "l" else c.rjust(w) for c, w, a in zip(r, widths, align)).rstrip())
        if k == 0:
            out.append("  ".join("-" * w for w in widths))
    return "\n".join(out)


def pct(num: float, den: float) -> str:
    return f"{100.0 * num / den:.1f}%" if den else "-"


def model_tags(store) -> dict[str, list[str]]:
    """group -> the distinct model tags in a store's extraction records (what produced the columns)."""
    tags: dict[str, set] = {}
    for rec in store.extraction_records().values():
        tags.setdefault(rec.group, set()).add(rec.model_tag or rec.extractor)
    return {g: sorted(v) for g, v in sorted(tags.items())}


def process_tree(root: int) -> list[int]:
    """``root`` and every process below it, from ``/proc`` (Linux)."""
    children: dict[int, list[int]] = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            stat = Path(f"/proc/{d}/stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(d))
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(children.get(pid, []))
    return out


def pss_bytes(pid: int) -> int:
    """A process's proportional set size (shared pages split among their users), 0 when unknown."""
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1]) * 1024
    except (OSError, IndexError, ValueError):
        pass
    return 0
