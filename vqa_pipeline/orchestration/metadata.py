"""What the Dagster UI shows for a video: its file name beside the content hash, rounded figures,
pictures inline and a few evidence lines, built once here so every asset reads the same way."""

from __future__ import annotations

import base64
import math
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import dagster as dg

SIGNIFICANT_DIGITS = 4
EVIDENCE_PREVIEW_LINES = 12


def rounded(value: float, digits: int = SIGNIFICANT_DIGITS) -> float:
    """``value`` to ``digits`` significant digits (0.8123456 -> 0.8123, 1234.567 -> 1235.0)."""
    value = float(value)
    if value == 0 or not math.isfinite(value):
        return value
    return round(value, digits - 1 - math.floor(math.log10(abs(value))))


def rounded_floats(metadata: Mapping[str, Any]) -> dict[str, Any]:
    """``metadata`` with every plain float rounded (other values, and ``MetadataValue``s, kept)."""
    return {k: rounded(v) if isinstance(v, float) else v for k, v in metadata.items()}


def file_names(paths: Iterable[str | Path]) -> str:
    """The file names of a video's sources, as a tag or metadata value: ``a.mp4`` or ``a.mp4, b.mp4``."""
    return ", ".join(dict.fromkeys(Path(p).name for p in paths))


def file_metadata(row: Mapping | None, paths: Sequence[str | Path] = ()) -> dict[str, Any]:
    """``file`` (name), ``path`` and ``duration_s`` of a video, first in every per-video asset's metadata.

    Args:
        row: the video's record in the ``videos`` table (``None`` before it is recorded).
        paths: the files this run was given, used when the record has no sources yet.
    """
    row = row or {}
    sources = [str(p) for p in (row.get("sources") or [])] or [str(p) for p in paths]
    if row.get("source") and str(row["source"]) not in sources:
        sources.insert(0, str(row["source"]))
    out: dict[str, Any] = {"file": file_names(sources) or "(unknown)"}  # Dagster's raw metadata values
    if sources:
        out["path"] = dg.MetadataValue.path(sources[0])
    out["duration_s"] = rounded(float(row.get("duration_s") or 0.0))
    return out


def image_markdown(png: bytes, title: str) -> dg.MarkdownMetadataValue:
    """A PNG shown inline by the asset page (a data URI in markdown), not only as a path on the server."""
    data = base64.b64encode(png).decode("ascii")
    return dg.MetadataValue.md(f"![{title}](data:image/png;base64,{data})")


def _escape(text: str) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def evidence_preview(lines: Sequence[Mapping], limit: int = EVIDENCE_PREVIEW_LINES) -> dg.MarkdownMetadataValue:
    """The first ``limit`` evidence lines (``{start, end, kind, text}``, as ``vqa evidence`` lists them) as a
    markdown table, and how many more there are."""
    if not lines:
        return dg.MetadataValue.md("_no evidence lines yet_")
    rows = ["| time | kind | line |", "|---|---|---|"]
    for ln in lines[:limit]:
        rows.append(f"| {float(ln['start']):.1f}-{float(ln['end']):.1f} s | {ln['kind']} | {_escape(ln['text'])} |")
    if len(lines) > limit:
        rows.append(f"\n... and {len(lines) - limit} more (`vqa evidence <file>` lists them all)")
    return dg.MetadataValue.md("\n".join(rows))
