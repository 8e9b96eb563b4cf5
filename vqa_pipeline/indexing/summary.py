"""What an indexing run did, per file and in total, for the terminal and for `--json`."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field


@dataclass(slots=True)
class FileOutcome:
    """What happened to one file in a run.

    ``status``: ``indexed`` (new or changed, decoded now), ``unchanged``, ``duplicate`` (same
    content as another indexed file), ``failed`` (with ``error``), ``removed`` (recorded under an
    indexed folder but gone from disk).
    """

    path: str
    video_id: str
    status: str
    error: str = ""
    windows: int = 0
    duration_s: float = 0.0
    extractors: dict[str, str] = field(default_factory=dict)  # name -> ok | skipped | failed: reason
    notes: list[str] = field(default_factory=list)


@dataclass(slots=True)
class IndexSummary:
    db: str
    profile: str
    files: list[FileOutcome] = field(default_factory=list)
    seconds: float = 0.0
    media_seconds: float = 0.0
    extractor_seconds: dict[str, float] = field(default_factory=dict)
    missing_extractors: dict[str, str] = field(default_factory=dict)
    repairs: list[str] = field(default_factory=list)  # one line per repair made before indexing
    ray_nodes: dict[str, list[str]] = field(default_factory=dict)  # extractor -> Ray node ids it ran on

    def count(self, status: str) -> int:
        return sum(1 for f in self.files if f.status == status)

    @property
    def failed(self) -> list[FileOutcome]:
        return [f for f in self.files if f.status == "failed"]

    def to_json(self) -> dict:
        return {
            "db": self.db,
            "profile": self.profile,
            "seconds": round(self.seconds, 3),
            "media_seconds": round(self.media_seconds, 3),
            "counts": {s: self.count(s) for s in ("indexed", "unchanged", "duplicate", "failed", "removed")},
            "extractor_seconds": {k: round(v, 3) for k, v in self.extractor_seconds.items()},
            "missing_extractors": self.missing_extractors,
            "repairs": list(self.repairs),
            "files": [asdict(f) for f in self.files],
            **({"ray_nodes": self.ray_nodes} if self.ray_nodes else {}),
        }


def summary_lines(summary: IndexSummary) -> list[str]:
    """Human-readable summary for the terminal."""
    out = [f"repaired: {line}" for line in summary.repairs]
    for f in summary.files:
        extra = ""
        if f.status == "failed":
            extra = f": {f.error}"
        elif f.windows:
            extra = f" ({f.windows} windows, {f.duration_s:.1f}s)"
        line = f"{f.status:9s} {f.path}{extra}"
        fails = {k: v for k, v in f.extractors.items() if v.startswith("failed")}
        if fails:
            line += " | " + "; ".join(f"{k} {v}" for k, v in fails.items())
        if f.notes:
            line += " | " + "; ".join(f.notes)
        out.append(line)
    c = {s: summary.count(s) for s in ("indexed", "unchanged", "duplicate", "failed", "removed")}
    speed = f", {summary.media_seconds / summary.seconds:.1f}x realtime" if summary.media_seconds and summary.seconds else ""
    out.append(
        f"{len(summary.files)} files: {c['indexed']} indexed, {c['unchanged']} unchanged, "
        f"{c['duplicate']} duplicate, {c['failed']} failed"
        + (f", {c['removed']} removed (gone from disk)" if c["removed"] else "")
        + f" in {summary.seconds:.1f}s{speed} -> {summary.db}"
    )
    tally: dict[str, dict[str, int]] = {}
    for f in summary.files:
        for name, result in f.extractors.items():
            word = result.split(" ")[0].rstrip(":")
            tally.setdefault(name, {"ok": 0, "skipped": 0, "failed": 0})[word if word in ("skipped", "failed") else "ok"] += 1
    if tally:
        out.append("extractors: " + "; ".join(
            f"{n} {t['ok']} ran, {t['skipped']} skipped (up to date)" + (f", {t['failed']} failed" if t["failed"] else "")
            for n, t in tally.items()))
    for name, why in summary.missing_extractors.items():
        out.append(f"extractor {name} not available: {why}")
    return out


def dumps(summary: IndexSummary) -> str:
    return json.dumps(summary.to_json(), indent=2, ensure_ascii=False)
