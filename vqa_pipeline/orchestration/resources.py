"""Dagster resources: where the corpus and the index live, where extractors run, how tuning runs.

Nothing here reads the environment when it is imported. The settings that differ per machine
default to ``dg.EnvVar``s, resolved when a run or a sensor tick starts; because they are the
fields' own defaults, a run that overrides another field in its run config (Dagster then rebuilds
the resource from its class defaults) still gets them. Each deployment is a dict of resources
with the same keys (``RESOURCES_LOCAL``, ``RESOURCES_CLUSTER``); ``definitions.py`` picks one by
``VQA_DEPLOYMENT``, and ``scripts/dagster.sh`` exports the local defaults.

Environment variables:
    VQA_SOURCE_DIR: the folder the sensor watches.
    VQA_DB: the LanceDB folder, or a URI (``s3://...``) on a cluster.
    VQA_PROFILE: extractor profile, ``lite`` or ``full``.
    VQA_DEVSET: dev-set file(s) of the evaluation assets (``os.pathsep``-separated).
    VQA_RAY_ADDRESS: the Ray cluster; required by the ``cluster`` deployment (``local`` starts a
        Ray per run, or joins this address when it is set: ``scripts/dagster.sh dev`` sets it to a
        Ray it keeps up for the session, see ``shared_ray``).
"""

import os
from pathlib import Path
from tempfile import gettempdir
from typing import Literal

import dagster as dg
from pydantic import Field

from vqa_pipeline.config import state_dir
from vqa_pipeline.media.types import WindowingOptions
from vqa_pipeline.orchestration.assets.adapters import AdapterSettings
from vqa_pipeline.store.location import is_uri

ENV_DEPLOYMENT = "VQA_DEPLOYMENT"
ENV_SOURCE_DIR = "VQA_SOURCE_DIR"
ENV_DB = "VQA_DB"
ENV_PROFILE = "VQA_PROFILE"
ENV_DEVSET = "VQA_DEVSET"
ENV_RAY_ADDRESS = "VQA_RAY_ADDRESS"


class VqaSettings(dg.ConfigurableResource):
    """Corpus, index and windowing settings shared by the assets, the sensor and the schedule."""

    source_dir: str = Field(default=dg.EnvVar(ENV_SOURCE_DIR), description="Folder scanned for videos and audio "
                            f"(recursive). Default: env {ENV_SOURCE_DIR}.")
    db_dir: str = Field(default=dg.EnvVar(ENV_DB), description=f"LanceDB folder or URI. Default: env {ENV_DB}.")
    profile: str = Field(default=dg.EnvVar(ENV_PROFILE), description="Extractor profile: lite or full; the "
                         "extractor assets of groups it does not use are skipped. Default: env "
                         f"{ENV_PROFILE}.")
    window_s: float = Field(default=2.0, description="Window length in seconds (1-8).")
    stride_s: float = Field(default=2.0, description="Window stride in seconds (<= window_s).")
    decode_cache_dir: str | None = Field(default=None, description="Where decoded media waits for the extractor "
                                         "assets (default: `decoded` beside a local database folder, else a "
                                         "temporary folder).")

    def store(self, create: bool = True):
        from vqa_pipeline.store import Store

        # Each write waits for the database's writer lock (a `vqa index` run holds it throughout).
        return Store(self.db_dir, create=create, writer="dagster run")

    def windowing(self) -> WindowingOptions:
        return WindowingOptions(length_s=self.window_s, stride_s=self.stride_s)

    def source_path(self) -> Path:
        return Path(self.source_dir).absolute()

    def cache_dir(self) -> Path:
        if self.decode_cache_dir:
            return Path(self.decode_cache_dir).absolute()
        if is_uri(self.db_dir):  # an object store: the cache only has to outlive one run
            return Path(gettempdir()) / "vqa-decoded"
        # Beside the database, so two corpora with two databases never share cache entries.
        return Path(self.db_dir).absolute().parent / "decoded"


class ExtractionRuntime(dg.ConfigurableResource):
    """Where extractors run: Ray actor pools (local or a cluster) or this process."""

    use_ray: bool = Field(default=True, description="Run extractors as Ray actors (False: in the run's process).")
    ray_address: str | None = Field(default=None, description="Ray cluster address; unset starts a local Ray "
                                    f"per run (or joins {ENV_RAY_ADDRESS} when that is set).")
    num_cpus_per_actor: float = Field(default=0.0, description="CPUs each extractor actor reserves (0 lets every "
                                      "extractor share a small machine).")
    keep_actors: bool = Field(default=True, description="On a Ray that outlives the run (an address is set): "
                              "leave the extractor actors, models loaded, for the next run instead of loading "
                              "every model again per run.")

    def address(self) -> str | None:
        return self.ray_address or os.environ.get(ENV_RAY_ADDRESS) or None

    def runner(self):
        from vqa_pipeline.indexing.runners import InlineRunner

        if not self.use_ray:
            return InlineRunner()
        from vqa_pipeline.indexing.ray_runner import RayOptions, RayRunner

        address = self.address()
        return RayRunner(RayOptions(address=address, num_cpus_per_actor=self.num_cpus_per_actor,
                                    shared_actors=self.keep_actors and address is not None))


class ClusterRuntime(ExtractionRuntime):
    """Extractors on a Ray cluster; each actor reserves a CPU (the runner deals the actors over the nodes)."""

    ray_address: str | None = Field(default=dg.EnvVar(ENV_RAY_ADDRESS), description="Ray cluster address "
                                    f"(``ray://head:10001``, ``auto``). Default: env {ENV_RAY_ADDRESS}.")
    num_cpus_per_actor: float = Field(default=1.0, description="CPUs each extractor actor reserves.")
    # Actors that reserve a CPU each would hold the cluster's CPUs between runs.
    keep_actors: bool = Field(default=False, description="Leave the extractor actors up for the next run.")


class TuningSettings(dg.ConfigurableResource):
    """Dev sets, the Optuna study and the report of the evaluation assets."""

    devset_path: str = Field(default=dg.EnvVar(ENV_DEVSET), description="Dev-set file(s) (JSON Lines, DESIGN.md "
                             f"format), {os.pathsep}-separated. Default: env {ENV_DEVSET}.")
    skip_unknown: bool = Field(default=False, description="Skip questions naming videos that are not indexed "
                               "(default: fail with the list of them).")
    trials: int = Field(default=200, description="Optuna trials (a resumed study runs only the missing ones).")
    k: int = Field(default=10, description="Objective: mean nDCG@k on the dev split.")
    seed: int = Field(default=0, description="TPE sampler seed.")
    heldout_fraction: float = Field(default=0.3, description="Share of each video's questions held out from tuning.")
    cv_folds: int = Field(default=5, description="Cross-validation folds for the report's estimate of the tuning "
                          "procedure (0: none).")
    answers: Literal["auto", "off"] = Field(default="auto", description="Answer and citation accuracy in the "
                                            "report: auto = when an LLM backend is available; off = never.")
    llm_url: str | None = Field(default=None, description="OpenAI-compatible endpoint for the answers "
                                "(default: the local Gemma 3 270M when installed).")
    llm_model: str | None = Field(default=None, description="Model name at llm_url.")
    optuna_storage: str | None = Field(default=None, description="Optuna storage URL (default: "
                                       "sqlite:///<state>/optuna.db).")
    report_dir: str | None = Field(default=None, description="Where the report files go (default <state>/reports).")

    def devset_files(self) -> list[str]:
        return [p for p in self.devset_path.split(os.pathsep) if p]

    def options(self):
        from vqa_pipeline.tuning.study import TuneOptions

        return TuneOptions(trials=self.trials, k=self.k, seed=self.seed, heldout_fraction=self.heldout_fraction,
                           storage=self.optuna_storage)

    def on_unknown(self) -> Literal["error", "skip"]:
        return "skip" if self.skip_unknown else "error"

    def reports_path(self) -> Path:
        return Path(self.report_dir) if self.report_dir else state_dir() / "reports"

    def backend(self):
        """The answer backend, or ``None`` when answers are off or no backend can run here."""
        if self.answers == "off":
            return None
        from vqa_pipeline.answer.llm import make_backend

        backend = make_backend(self.llm_url, self.llm_model)
        ok, _ = backend.availability()
        return backend if ok else None


# One machine: a Ray started per run (all cores shared by the extractors), a local LanceDB folder.
RESOURCES_LOCAL: dict[str, dg.ConfigurableResource] = {
    "settings": VqaSettings(),
    "runtime": ExtractionRuntime(),
    "tuning": TuningSettings(),
    "adapter_settings": AdapterSettings(),
}

# A Ray cluster, and a LanceDB URI every node can reach (VQA_DB); the Dagster instance (Postgres)
# comes from the dagster.yaml in DAGSTER_HOME.
RESOURCES_CLUSTER: dict[str, dg.ConfigurableResource] = {
    "settings": VqaSettings(),
    "runtime": ClusterRuntime(),
    "tuning": TuningSettings(),
    "adapter_settings": AdapterSettings(),
}

DEPLOYMENTS: dict[str, dict[str, dg.ConfigurableResource]] = {"local": RESOURCES_LOCAL, "cluster": RESOURCES_CLUSTER}


def deployment_resources(name: str) -> dict[str, dg.ConfigurableResource]:
    """The resources of a deployment (``local`` or ``cluster``).

    Raises:
        KeyError: an unknown name (the message lists the known ones).
    """
    try:
        return DEPLOYMENTS[name]
    except KeyError:
        raise KeyError(f"unknown deployment {name!r} ({ENV_DEPLOYMENT}); known: {', '.join(DEPLOYMENTS)}") from None
