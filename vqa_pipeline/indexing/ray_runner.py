"""Extraction on Ray: one actor pool per extractor, models loaded once per actor.

Decoded media is put in the object store once per file (once per segment of a long file: the store
carries bounded pieces, never a whole long track) and shared by every extractor's actor, so nothing
is decoded twice. GPU models ask for ``num_gpus`` (fractions allowed).

On a cluster of several nodes the media therefore never has to be on a node's disk: the driver (the
`vqa index` or Dagster run process) reads and decodes the files and Ray ships the decoded arrays to
whichever node an actor runs on. The actors are dealt out over the live nodes in turn, and an actor
whose node dies is restarted on a live node, where Ray runs its unfinished tasks again
(``max_restarts``/``max_task_retries``): a task's result only reaches the driver once, so a retried
task neither loses nor duplicates a window. The media stays available because the driver owns it and
its primary copy lives on the driver's node.

An extractor whose work splits into pieces (``plan_parts``: ASR) gets one actor per CPU of the cluster (up to
:data:`MAX_PIECE_ACTORS`), one thread each, and each job goes to its least busy actor: a long file
alone spreads its pieces over the cores, many files keep one actor each busy.

An actor that dies for good (its restarts spent: out of memory, a model's segfault) is replaced on its
own, in its slot of the pool; the other actors keep their jobs and loaded models. A piece whose actor
died runs once more on the pool (:data:`PIECE_RETRIES`): one piece lost would fail the whole file's ASR.
Only a dead actor (``RayActorError``) is replaced: a result Ray fails to return for another reason fails
that job alone. A shared actor's replacement takes its name once Ray has freed it.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from vqa_pipeline.indexing.heap import release_free_memory
from vqa_pipeline.indexing.runners import ExtractionJob, ExtractionResult, LoadedExtractors, one_line, run_job
from vqa_pipeline.verbosity import is_verbose

log = logging.getLogger(__name__)

ENV_RAY_ADDRESS = "VQA_RAY_ADDRESS"
# Actors of a piece-splitting extractor (ASR): each holds its own model (whisper-base: ~250 MB).
MAX_PIECE_ACTORS = 4


@dataclass(frozen=True, slots=True)
class RayOptions:
    """Where and how extraction actors run.

    Attributes:
        address: Ray cluster address (``auto``, ``ray://host:10001``); ``None`` starts a local Ray.
        actors_per_extractor: pool size per extractor.
        num_cpus_per_actor: CPUs an actor reserves; 0 lets every extractor run side by side on a
            small machine (the models' own thread pools share the cores).
        num_gpus: extractor name -> GPUs per actor (overrides the extractor's own default).
        threads_per_actor: intra-op threads of each actor's model (the ``threads`` extractor option).
        piece_actors: pool size of extractors that split a file into pieces (``plan_parts``);
            ``None``: the cluster's CPUs, at most :data:`MAX_PIECE_ACTORS` (never below
            ``actors_per_extractor``), when actors reserve no CPU or GPU; else ``actors_per_extractor``.
        shared_actors: on a Ray that outlives this process (``address`` set): named, detached actors that
            a later run with the same settings reuses, models already loaded; ``close`` leaves them
            running (they stop with that Ray). Off: the actors are this runner's own.
    """

    address: str | None = None
    actors_per_extractor: int = 1
    num_cpus_per_actor: float = 0.0
    num_gpus: Mapping[str, float] = field(default_factory=dict)
    threads_per_actor: int = 1
    extractor_options: Mapping[str, dict] = field(default_factory=dict)
    shared_actors: bool = False
    piece_actors: int | None = None


SHARED_NAMESPACE = "vqa-extractors"
# An actor lost with its node (or killed by the OS) comes back this many times on a live node, and its
# unfinished tasks run again there; a model that crashes its process every time fails after that.
ACTOR_RESTARTS = 2
# A piece (``job.part``) whose actor died for good is submitted again this many times, to the pool's
# other actors or the dead one's replacement; a whole-file job reports the crash as before.
PIECE_RETRIES = 1
# What the driver and a shared actor exchange (jobs, parts, results); part of a shared actor's name, so a
# detached actor started before a change here is never reused. 2: ASR language probe parts.
ACTOR_PROTOCOL = 2
# How long a replaced shared actor's name may stay taken after the kill before its replacement gets a new one.
NAME_FREE_S = 30.0


def shared_actor_name(name: str, opts: Mapping, threads: int, num_cpus: float, gpus: float, index: int, *,
                      model_tag: str) -> str:
    """The name of a shared actor: one per extractor, settings, model and package version, so a run with
    other settings, or after an upgrade, never reuses an actor holding another model."""
    import hashlib
    import json

    from vqa_pipeline import __version__

    key = json.dumps([name, dict(opts), threads, num_cpus, gpus, model_tag, __version__, ACTOR_PROTOCOL],
                     sort_keys=True, default=str)
    return f"{name}-{hashlib.sha1(key.encode()).hexdigest()[:10]}-{index}"


def ensure_ray(address: str | None = None) -> None:
    """Connect to (or start) Ray once per process, quietly."""
    import warnings

    import ray

    if ray.is_initialized():
        return
    # Ray starts its processes with fork+exec; lancedb warns about fork even though exec follows.
    warnings.filterwarnings("ignore", message="lancedb fork support is experimental")
    # A local cluster with token auth (Ray's default) is what we want; its notice is noise here.
    logging.getLogger("ray._private.authentication.authentication_token_setup").setLevel(logging.ERROR)
    # "local" rather than None: ray.init(None) joins the cluster named in /tmp/ray/ray_current_cluster,
    # which any `ray start` on the machine writes and leaves behind, stale, when that Ray stops.
    address = address or os.environ.get(ENV_RAY_ADDRESS) or os.environ.get("RAY_ADDRESS") or "local"
    ray.init(
        address=address,
        include_dashboard=False,
        log_to_driver=is_verbose(),  # `vqa -v`: the workers' output and Ray's start-up lines too
        configure_logging=True,
        logging_level=logging.INFO if is_verbose() else logging.WARNING,
        ignore_reinit_error=True,
    )


class _ExtractorActor:
    """Holds one loaded extractor; created remotely via ``ray.remote``."""

    def __init__(self, name: str, options: dict, threads: int) -> None:
        os.environ["OMP_NUM_THREADS"] = str(threads)
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
        self.name = name
        self.loaded = LoadedExtractors({name: {"threads": threads, **options}})

    def __repr__(self) -> str:
        return f"extractor {self.name}"  # Ray's log prefix for this actor's process: which model it holds

    def run(self, media, upstream, part=None) -> ExtractionResult:
        # ``media`` arrives resolved from the shared object-store copy.
        import ray

        try:
            result = run_job(self.loaded, ExtractionJob(self.name, media, upstream, part))
            result.node = ray.get_runtime_context().get_node_id()
            return result
        finally:
            release_free_memory()  # a long recording's segments one after another: no creeping heap


class RayRunner:
    """Runs extraction jobs on Ray actor pools (one pool per extractor, created on first use)."""

    def __init__(self, options: RayOptions | None = None, on_start=None) -> None:
        self.options = options or RayOptions()
        self._on_start = on_start
        # the ray module and the remote actor class, set by _start() (ray is imported lazily)
        self._ray: Any = None
        self._remote_cls: Any = None
        self._pools: dict[str, list] = {}
        self._rr: dict[str, int] = {}
        self._busy: dict[str, list[int]] = {}  # extractor -> jobs in flight per actor of its pool
        self._pending: dict = {}  # ObjectRef -> (job, index of its actor in the pool, that actor, tries so far)
        self._spawn: dict[str, tuple] = {}  # extractor -> (options, GPUs, model tag) its actors are made with
        self.replaced: dict[str, int] = {}  # extractor -> actors replaced after they died for good
        self._media_refs: dict[int, tuple] = {}  # id(media) -> (ObjectRef, jobs using it)
        self.nodes: dict[str, set[str]] = {}  # extractor -> the Ray node ids its results came from
        self._placed = 0  # actors placed so far (they take the live nodes in turn)

    def _start(self) -> None:
        """Start (or connect to) Ray on first use, so runs with nothing to extract skip it."""
        if self._ray is not None:
            return
        import ray

        if self._on_start is not None:
            self._on_start()
        ensure_ray(self.options.address)
        self._ray = ray
        self._remote_cls = ray.remote(_ExtractorActor)

    def _pick(self, name: str):
        """The least busy actor of the extractor's pool (round robin among equals) and its index; the
        pool is started on first use."""
        pool, busy = self._pool(name), self._busy[name]
        self._rr[name] = (self._rr[name] + 1) % len(pool)
        i = min(range(len(pool)), key=lambda k: (busy[k], (k - self._rr[name]) % len(pool)))
        return pool[i], i

    def _pool(self, name: str) -> list:
        self._start()
        if name not in self._pools:
            from vqa_pipeline.extractors.registry import create_extractor, get_extractor_class

            gpus = self.options.num_gpus.get(name, get_extractor_class(name).num_gpus)
            if gpus and not self._ray.cluster_resources().get("GPU"):
                log.warning("extractor %s asks for %s GPU but the Ray cluster has none; running on CPU", name, gpus)
                gpus = 0
            opts = dict(self.options.extractor_options.get(name, {}))
            o = self.options
            # the configured model's tag (building the extractor loads nothing; only load() does)
            tag = create_extractor(name, **opts).model_tag if o.shared_actors else ""
            n = max(1, o.actors_per_extractor)
            if hasattr(get_extractor_class(name), "plan_parts") and (
                    o.piece_actors or (not gpus and not o.num_cpus_per_actor)):
                # More actors only where they reserve nothing (or the caller sized the pool): actors that
                # each hold a CPU or a GPU share could starve the other extractors' actors, or never start.
                cpus = int(self._ray.cluster_resources().get("CPU", 1))
                n = max(n, o.piece_actors or min(MAX_PIECE_ACTORS, max(1, cpus)))
            self._spawn[name] = (opts, gpus, tag)
            self._pools[name] = [self._new_actor(name, i) for i in range(n)]
            self._rr[name] = 0
            self._busy[name] = [0] * n
        return self._pools[name]

    def _shared_name(self, name: str, i: int) -> str:
        opts, gpus, tag = self._spawn[name]
        o = self.options
        return shared_actor_name(name, opts, o.threads_per_actor, o.num_cpus_per_actor, gpus, i, model_tag=tag)

    def _new_actor(self, name: str, i: int, actor_name: str | None = None):
        """Actor ``i`` of the extractor's pool (the settings :meth:`_pool` worked out); ``actor_name``:
        a shared actor's name other than slot ``i``'s own."""
        opts, gpus, tag = self._spawn[name]
        o = self.options
        placement: dict = {"num_cpus": o.num_cpus_per_actor, "num_gpus": gpus,
                           "scheduling_strategy": self._next_node(),
                           "max_restarts": ACTOR_RESTARTS, "max_task_retries": ACTOR_RESTARTS}
        if o.shared_actors:
            # The running actor of an earlier run when there is one: its model is loaded.
            placement.update(name=actor_name or self._shared_name(name, i),
                             namespace=SHARED_NAMESPACE, lifetime="detached", get_if_exists=True)
        return self._remote_cls.options(**placement).remote(name, opts, o.threads_per_actor)

    def _replace(self, name: str, i: int, dead) -> None:
        """A fresh actor in slot ``i`` for one that died for good (unless the pool was closed or already
        replaced it); the pool's other actors keep running."""
        pool = self._pools.get(name)
        if pool is None or i >= len(pool) or pool[i] is not dead:
            return
        actor_name = None
        if self.options.shared_actors:
            self._ray.kill(dead)
            actor_name = self._free_name(self._shared_name(name, i), dead)
        pool[i] = self._new_actor(name, i, actor_name)
        self.replaced[name] = self.replaced.get(name, 0) + 1

    def _free_name(self, actor_name: str, dead) -> str:
        """``actor_name`` once the dead actor no longer holds it (``get_if_exists`` would hand back the dead
        one), or a new name when it stays taken: the name frees only when Ray has recorded the death.
        The name may meanwhile belong to another driver's replacement of the same actor: that one is used."""
        import time
        import uuid

        deadline = time.monotonic() + NAME_FREE_S
        while time.monotonic() < deadline:
            try:
                holder = self._ray.get_actor(actor_name, namespace=SHARED_NAMESPACE)
            except ValueError:  # no live actor by that name
                return actor_name
            if holder._actor_id != dead._actor_id:
                return actor_name
            time.sleep(0.1)
        fresh = f"{actor_name}-{uuid.uuid4().hex[:8]}"
        log.warning("shared actor %s: its name is still taken after it died; its replacement is %s", actor_name, fresh)
        return fresh

    def _next_node(self):
        """Where the next actor goes: the live nodes in turn (one node's cores are not all a cluster has).

        A soft preference: a node that cannot host the actor (no free CPU now, or dead when the
        actor restarts) lets Ray place it elsewhere. Ray's own ``SPREAD`` put every actor of a run on
        one of two nodes here, because the actors are created one by one as their first jobs come.
        """
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        nodes = sorted(n["NodeID"] for n in self._ray.nodes() if n["Alive"])
        if len(nodes) < 2:
            return "DEFAULT"
        self._placed += 1
        # _spill_on_unavailable (Ray's own, private): go elsewhere rather than wait for a full node, whose
        # actors hold their CPUs as long as they live.
        return NodeAffinitySchedulingStrategy(nodes[(self._placed - 1) % len(nodes)], soft=True,
                                              _spill_on_unavailable=True)

    def submit(self, job: ExtractionJob) -> None:
        self._start()
        # One object-store copy of the decoded media per video, shared by all of its jobs.
        key = id(job.media)
        if key not in self._media_refs:
            self._media_refs[key] = (self._ray.put(job.media), 0)
        ref, users = self._media_refs[key]
        self._media_refs[key] = (ref, users + 1)
        self._send(job, ref, tries=0)

    def _send(self, job: ExtractionJob, media_ref, tries: int) -> None:
        actor, i = self._pick(job.extractor)
        self._busy[job.extractor][i] += 1
        self._pending[actor.run.remote(media_ref, job.upstream, job.part)] = (job, i, actor, tries)

    def wait_one(self) -> ExtractionResult:
        ray = self._ray
        while True:
            done, _ = ray.wait(list(self._pending), num_returns=1)
            job, i, actor, tries = self._pending.pop(done[0])
            busy = self._busy.get(job.extractor)
            if busy is not None and i < len(busy):
                busy[i] = max(0, busy[i] - 1)
            key = id(job.media)
            ref, users = self._media_refs[key]
            try:
                result = ray.get(done[0])
            except ray.exceptions.RayActorError as exc:  # died for good (restarts spent: out of memory, a segfault)
                self._replace(job.extractor, i, actor)
                if job.part is not None and tries < PIECE_RETRIES:
                    log.warning("extractor %s: a worker died on a piece of %s; running that piece again (%s)",
                                job.extractor, job.media.video_id, one_line(exc))
                    self._send(job, ref, tries + 1)  # still counted among the media's users
                    continue
                result = ExtractionResult(job.extractor, job.media.video_id, None,
                                          error=f"worker crashed: {one_line(exc)}", segment=job.media.segment,
                                          part_index=-1 if job.part is None else job.part.index)
            except Exception as exc:  # noqa: BLE001 - the result did not come back (lost, unreadable): the actor lives on
                result = ExtractionResult(job.extractor, job.media.video_id, None, error=one_line(exc),
                                          segment=job.media.segment,
                                          part_index=-1 if job.part is None else job.part.index)
            if users <= 1:
                del self._media_refs[key]  # lets Ray free the media once no job needs it
            else:
                self._media_refs[key] = (ref, users - 1)
            if result.node:
                self.nodes.setdefault(result.extractor, set()).add(result.node)
            return result

    def pending(self) -> int:
        return len(self._pending)

    def close(self) -> None:
        if self._ray is None:
            return
        if not self.options.shared_actors:
            for pool in self._pools.values():
                for actor in pool:
                    self._ray.kill(actor)
        self._pools.clear()
        self._busy.clear()
        self._spawn.clear()
