"""Dagster resources: where the corpus and the index live, and where extractors run."""

from __future__ import annotations

import os
from pathlib import Path

import dagster as dg
from pydantic import Field

from vqa_pipeline.config import default_db_dir
from vqa_pipeline.media.types import WindowingOptions

ENV_SOURCE_DIR = "VQA_SOURCE_DIR"
DEFAULT_SOURCE_DIR = "data/sample"


class VqaSettings(dg.ConfigurableResource):
    """Corpus, index and windowing settings shared by the assets, the sensor and the schedule."""

    source_dir: str = Field(
        default_factory=lambda: os.environ.get(ENV_SOURCE_DIR, DEFAULT_SOURCE_DIR),
        description="Folder scanned for videos and audio (recursive). Env: VQA_SOURCE_DIR.",
    )
    db_dir: str = Field(
        default_factory=lambda: str(default_db_dir()), description="LanceDB folder. Env: VQA_DB / VQA_HOME."
    )
    window_s: float = Field(default=2.0, description="Window length in seconds (1-8).")
    stride_s: float = Field(default=2.0, description="Window stride in seconds (<= window_s).")
    profile: str = Field(default="lite", description="Extractor profile: lite or full.")

    def store(self, create: bool = True):
        from vqa_pipeline.store import Store

        return Store(self.db_dir, create=create)

    def windowing(self) -> WindowingOptions:
        return WindowingOptions(length_s=self.window_s, stride_s=self.stride_s)

    def source_path(self) -> Path:
        return Path(self.source_dir).absolute()

    def cache_dir(self) -> Path:
        # Beside the database, so two corpora with two databases never share cache entries.
        return Path(self.db_dir).absolute().parent / "decoded"


class ExtractionRuntime(dg.ConfigurableResource):
    """Where extractors run: Ray actor pools (local or a cluster) or this process."""

    use_ray: bool = Field(default=True, description="Run extractors as Ray actors (False: in the run's process).")
    ray_address: str | None = Field(
        default_factory=lambda: os.environ.get("VQA_RAY_ADDRESS") or None,
        description="Ray cluster address; unset starts a local Ray. Env: VQA_RAY_ADDRESS.",
    )
    num_cpus_per_actor: float = Field(default=0.0, description="CPUs each extractor actor reserves.")

    def runner(self):
        from vqa_pipeline.indexing.runners import InlineRunner

        if not self.use_ray:
            return InlineRunner()
        from vqa_pipeline.indexing.ray_runner import RayOptions, RayRunner

        return RayRunner(RayOptions(address=self.ray_address, num_cpus_per_actor=self.num_cpus_per_actor))
