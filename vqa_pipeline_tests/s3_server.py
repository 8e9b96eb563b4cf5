"""A real S3-compatible server on 127.0.0.1 for the tests: moto's server (S3 and DynamoDB) in a
subprocess, reached through a TCP relay the test can cut and restore.

Cutting the relay is the server going away as a client sees it (connections refused or dropped
mid-request) while moto keeps its buckets in memory, so a later run finds the state the outage left.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from vqa_pipeline_tests.needs import missing, require_module

REGION = "us-east-1"
COMMIT_TABLE = "vqa-commits"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def moto_command() -> list[str]:
    """``moto_server`` beside this Python (the dev extra installs it), else skip (fail under CI)."""
    require_module("moto", "moto[server] is not installed (pip install -e '.[dev]')")
    exe = Path(sys.executable).parent / "moto_server"
    if exe.exists():
        return [str(exe)]
    found = shutil.which("moto_server")
    if found is None:
        missing("moto_server is not on PATH (pip install -e '.[dev]')")
    return [found]


class Relay:
    """A TCP relay from a port of ours to ``target``; :meth:`cut` drops every connection and stops
    listening, :meth:`restore` listens again on the same port."""

    def __init__(self, target: int) -> None:
        self.target = target
        self.port = free_port()
        self._conns: list[socket.socket] = []
        self._lock = threading.Lock()
        self._listener: socket.socket | None = None
        self.restore()

    def restore(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def cut(self) -> None:
        listener, self._listener = self._listener, None
        if listener is not None:
            listener.close()
        with self._lock:
            conns, self._conns = self._conns, []
        for c in conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            c.close()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target))
            except OSError:
                client.close()
                continue
            with self._lock:
                self._conns += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass


@dataclass
class S3Server:
    """A running moto server: ``endpoint`` (through the relay), ``env`` for the `vqa` command."""

    proc: subprocess.Popen
    port: int
    relay: Relay
    access_key: str = "testing"
    secret_key: str = "testing"
    buckets: list[str] = field(default_factory=list)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.relay.port}"

    @property
    def direct(self) -> str:
        """The server itself, not through the relay (the test's own checks during an outage)."""
        return f"http://127.0.0.1:{self.port}"

    def env(self, **extra: str) -> dict[str, str]:
        return {"AWS_ACCESS_KEY_ID": self.access_key, "AWS_SECRET_ACCESS_KEY": self.secret_key,
                "AWS_REGION": REGION, "AWS_ENDPOINT_URL": self.endpoint,
                "AWS_ENDPOINT_URL_DYNAMODB": self.endpoint, "VQA_S3_RETRIES": "2",
                "VQA_S3_RETRY_TIMEOUT": "10", **extra}

    def client(self, service: str):
        import boto3

        return boto3.client(service, endpoint_url=self.direct, region_name=REGION,
                            aws_access_key_id=self.access_key, aws_secret_access_key=self.secret_key)

    def create_bucket(self, name: str) -> str:
        self.client("s3").create_bucket(Bucket=name)
        self.buckets.append(name)
        return name

    def create_commit_table(self, name: str = COMMIT_TABLE) -> str:
        """The DynamoDB table LanceDB's ``s3+ddb://`` commits go through (its documented key schema)."""
        self.client("dynamodb").create_table(
            TableName=name,
            KeySchema=[{"AttributeName": "base_uri", "KeyType": "HASH"},
                       {"AttributeName": "version", "KeyType": "RANGE"}],
            AttributeDefinitions=[{"AttributeName": "base_uri", "AttributeType": "S"},
                                  {"AttributeName": "version", "AttributeType": "N"}],
            BillingMode="PAY_PER_REQUEST")
        return name

    def keys(self, bucket: str, prefix: str = "") -> list[str]:
        s3 = self.client("s3")
        out: list[str] = []
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            out += [o["Key"] for o in page.get("Contents", [])]
        return out

    def stop(self) -> None:
        self.relay.cut()
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def start_s3_server(log: Path, auth_after: int | None = None) -> S3Server:
    """Start moto's server on a free port (``auth_after``: check credentials after that many
    requests, as moto's ``INITIAL_NO_AUTH_ACTION_COUNT``; ``None``: accept any)."""
    cmd = moto_command()
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    if auth_after is not None:
        env["INITIAL_NO_AUTH_ACTION_COUNT"] = str(auth_after)
    out = open(log, "ab")  # noqa: SIM115 - the server's log outlives this function
    proc = subprocess.Popen([*cmd, "-H", "127.0.0.1", "-p", str(port)], stdout=out, stderr=subprocess.STDOUT,
                            env=env)
    deadline = time.monotonic() + 60
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise RuntimeError(f"moto_server did not start; see {log}") from None
            time.sleep(0.2)
    return S3Server(proc, port, Relay(port))
