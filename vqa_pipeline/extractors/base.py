"""The one small protocol every extractor follows.

An extractor takes a decoded file (``DecodedMedia``) plus the outputs of the column groups it
depends on, and returns, for every window, time-coded evidence lines and extra column values
(vectors, tags). The indexer stores them as per-model columns of the ``windows`` table:

- ``{group}_lines``: list<struct<start_s, end_s, text>> per window (the evidence lines),
- ``{group}_model``: the ``model_tag`` that produced the row's values,
- every field in ``fields`` (e.g. ``emb_text`` fixed-size float32 vector).

Extractors never import Ray or Dagster; the same object runs in a test, in the CLI and in a Ray actor.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pyarrow as pa

from vqa_pipeline.media.types import DecodedMedia

Modality = Literal["audio", "video", "text", "audio+video"]
EvidenceKind = Literal["asr", "ocr", "audio", "visual"]


@dataclass(frozen=True, slots=True)
class EvidenceLine:
    """One short, time-coded piece of evidence, e.g. ``[12.0-14.0s] asr: the oven is at 180 degrees``."""

    start_s: float
    end_s: float
    kind: str
    text: str

    def format(self) -> str:
        return f"[{self.start_s:.1f}-{self.end_s:.1f}s] {self.kind}: {self.text}"


@dataclass(slots=True)
class ExtractorOutput:
    """What an extractor produced for one file.

    Attributes:
        lines: per window (aligned with ``media.windows``), the evidence lines it holds. A line
            spanning several windows (OCR text shown for 6 s) appears in each of them.
        columns: extra column values, each a list aligned with ``media.windows`` (``None`` allowed).
        notes: human-readable remarks, e.g. ``"no audio track"``.
        stats: numbers worth reporting, e.g. ``{"frames_ocr": 12, "frames_skipped": 30}``.
        model_tag: what actually ran for this file when it differs from the extractor's configured
            ``model_tag`` (an optional refinement that could not run); stored as the rows'
            ``{group}_model``, with the reason in ``notes``. ``None``: the configured tag.
    """

    lines: list[list[EvidenceLine]]
    columns: dict[str, list] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    stats: dict[str, float] = field(default_factory=dict)
    model_tag: str | None = None

    @classmethod
    def empty(cls, n_windows: int, columns: Sequence[str] = (), note: str | None = None) -> ExtractorOutput:
        return cls(
            lines=[[] for _ in range(n_windows)],
            columns={c: [None] * n_windows for c in columns},
            notes=[note] if note else [],
        )


class Extractor(ABC):
    """Base class: subclasses set the class attributes and implement ``load`` and ``extract``.

    Class attributes:
        name: registry key, e.g. ``"whisper-base"``.
        group: column-group prefix in the windows table, e.g. ``"asr"``; one active extractor per group.
        kind: evidence kind of its lines (``asr``, ``ocr``, ``audio``, ``visual``).
        model_id, version: provenance of the configuration; bumping either makes stored columns
            stale. What actually ran for a file, when it differs, is the output's ``model_tag``.
        modality: what it reads.
        requires: groups whose outputs it consumes (passed to ``extract`` as ``upstream``).
        num_gpus: GPUs a Ray actor asks for (fractions allowed; 0 for CPU models).
        query_columns: vector columns (among ``fields``) that questions search;
            :meth:`embed_query` embeds a question into their space with this instance's model
            (the same checkpoint that wrote them, so the column's ``{group}_model`` tag names the
            question encoder too).
    """

    name: str = ""
    group: str = ""
    kind: str = ""
    model_id: str = ""
    version: str = "1"
    modality: Modality = "video"
    requires: tuple[str, ...] = ()
    num_gpus: float = 0.0
    query_columns: tuple[str, ...] = ()

    def __init__(self, **options) -> None:
        self.options = options

    @property
    def model_tag(self) -> str:
        return f"{self.model_id}@{self.version}"

    def fields(self) -> list[pa.Field]:
        """Extra columns (besides ``{group}_lines`` and ``{group}_model``) this extractor writes."""
        return []

    def availability(self) -> tuple[bool, str]:
        """Whether the model can load here, without loading it; ``(False, reason)`` otherwise."""
        return True, "ok"

    def load(self) -> None:  # noqa: B027 - a no-op for extractors without weights, not abstract
        """Load weights; called once per process/actor before the first ``extract``."""

    def embed_query(self, text: str) -> np.ndarray:
        """``text`` (a question) as a 1-D vector in the space of :attr:`query_columns`."""
        raise TypeError(f"{self.name or type(self).__name__} writes no searchable vector column")

    @abstractmethod
    def extract(self, media: DecodedMedia, upstream: Mapping[str, ExtractorOutput]) -> ExtractorOutput:
        """Evidence and columns for every window of ``media``; must not raise on silent/blank input."""
