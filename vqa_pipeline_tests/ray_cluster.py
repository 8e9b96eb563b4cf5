"""A real multi-node Ray cluster on this one machine, for the tests: a head and worker nodes, each
started with `ray start --block` in a process group of its own, with its own temp dir, CPUs and
custom resource, and no dashboard.

Every address is explicit (the head's GCS port, ``--address`` for the workers): a bare ``ray.init()``
or ``ray start`` on this machine would follow /tmp/ray/ray_current_cluster, which other Rays leave
behind, stale. Only this cluster's own process groups are ever signalled.

Worker nodes get their own node IP on the loopback net (127.0.0.2, ...), so a driver on this
machine always attaches to the head node, as a driver on the head machine of a real cluster does,
and killing a worker node never takes the driver's object store with it.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from vqa_pipeline.orchestration.shared_ray import (
    SharedRayError,
    _die_with_parent,
    _free_port,
    _ray_cli,
    _stop,
    _wait_started,
    auth_env,
)

START_TIMEOUT_S = 240.0  # two cores shared with other work: a node can take a minute to come up
REPO_ROOT = Path(__file__).resolve().parents[1]


@dataclass(slots=True)
class Node:
    name: str  # the node's custom resource, e.g. ``vqa_head`` (one unit of it)
    proc: subprocess.Popen
    temp_dir: Path
    ip: str
    node_id: str = ""

    def running_tasks(self) -> list[str]:
        """Titles of this node's processes now running an actor task (Ray sets ``ray::Class.method``)."""
        out = subprocess.run(["ps", "-o", "args=", "--sid", str(self.proc.pid)], capture_output=True, text=True)
        return [line for line in out.stdout.splitlines() if line.startswith("ray::") and "." in line.split()[0]]

    def actor_logs(self) -> str:
        """What this node's worker processes wrote (Ray names an actor's process in its log)."""
        return "".join(p.read_text(errors="replace") for p in self.temp_dir.glob("session_*/logs/worker-*.out"))


@dataclass
class LocalRayCluster:
    """Start with :meth:`start_head`, then :meth:`add_worker`; :meth:`stop` ends every node."""

    root: Path
    num_cpus: int = 1
    env: dict[str, str] = field(default_factory=dict)  # what a driver needs: address and auth token
    nodes: list[Node] = field(default_factory=list)
    address: str = ""

    def _start(self, name: str, ip: str, *args: str) -> Node:
        # Ray gives a node 30 s (fixed) to register; on a busy 2-core machine that can pass: try again.
        for attempt in range(3):
            try:
                return self._start_once(name, ip, *args)
            except SharedRayError:
                node = self.nodes.pop()
                _stop(node.proc)
                shutil.rmtree(node.temp_dir, ignore_errors=True)
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def _start_once(self, name: str, ip: str, *args: str) -> Node:
        temp_dir = Path(tempfile.mkdtemp(prefix=f"vqa-{name}-", dir="/tmp"))  # Ray's socket paths stay short
        log_path = temp_dir / "ray-start.log"
        cmd = [_ray_cli(), "start", "--block", *args, f"--node-ip-address={ip}", f"--num-cpus={self.num_cpus}",
               f"--resources={json.dumps({name: 1})}", "--object-store-memory=200000000",
               "--disable-usage-stats", f"--temp-dir={temp_dir}"]
        # The nodes' worker processes import this checkout's vqa_pipeline, and load models offline.
        env = {**os.environ, **self.env, "PYTHONPATH": os.pathsep.join([str(REPO_ROOT), os.environ.get("PYTHONPATH", "")]),
               "HF_HUB_OFFLINE": "1"}
        env.pop("RAY_ADDRESS", None)
        with log_path.open("w") as log:
            proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                                    preexec_fn=_die_with_parent, env=env)
        node = Node(name, proc, temp_dir, ip)
        self.nodes.append(node)
        _wait_started(proc, log_path, START_TIMEOUT_S)
        return node

    def start_head(self) -> Node:
        port = _free_port()
        self.env = {**auth_env(), "RAY_ADDRESS": f"127.0.0.1:{port}", "VQA_RAY_ADDRESS": f"127.0.0.1:{port}"}
        self.address = f"127.0.0.1:{port}"
        return self._start("vqa_head", "127.0.0.1", "--head", f"--port={port}", "--include-dashboard=false")

    def add_worker(self, name: str) -> Node:
        ip = f"127.0.0.{len(self.nodes) + 1}"
        node = self._start(name, ip, f"--address={self.address}")
        self.node_ids()  # fills node_id, and waits until the head counts the new node
        return node

    def node_ids(self) -> dict[str, str]:
        """Custom resource name -> node id of each live node, asked of the cluster by a driver."""
        code = ("import json, sys, ray; ray.init(address=sys.argv[1], include_dashboard=False, logging_level='ERROR'); "
                "print(json.dumps({r: n['NodeID'] for n in ray.nodes() if n['Alive'] "
                "for r in n['Resources'] if r.startswith('vqa_')}))")
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            out = subprocess.run([sys.executable, "-c", code, self.address], capture_output=True, text=True, timeout=START_TIMEOUT_S,
                                 env={**os.environ, **self.env})
            ids = json.loads(out.stdout.strip().splitlines()[-1]) if out.returncode == 0 else {}
            if all(n.name in ids for n in self.nodes if n.proc.poll() is None) or time.monotonic() > deadline:
                break
            time.sleep(1.0)
        for n in self.nodes:
            n.node_id = ids.get(n.name, n.node_id)
        return ids

    def kill(self, node: Node) -> None:
        """The node dies as a machine would: SIGKILL to its raylet, object store and workers at once."""
        os.killpg(node.proc.pid, signal.SIGKILL)
        node.proc.wait(30)

    def stop(self) -> None:
        for node in reversed(self.nodes):  # workers first, then the head
            _stop(node.proc)
            shutil.rmtree(node.temp_dir, ignore_errors=True)
