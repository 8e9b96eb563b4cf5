"""A real PostgreSQL server for a test: initdb in a temporary folder, started on a free 127.0.0.1 port.

Debian's server binaries live in /usr/lib/postgresql/<version>/bin (the ``postgresql`` package, which
``scripts/setup.sh`` installs). PostgreSQL refuses to run as root, so as root the server runs as
``nobody`` (``setpriv``), in a folder of its own under /tmp (pytest's tmp_path is private to root).
Password authentication is on over TCP, so the connection settings are really checked.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from vqa_pipeline_tests.needs import missing, require_tool

START_TIMEOUT_S = 120


@dataclass(frozen=True)
class PostgresServer:
    host: str
    port: int
    user: str
    password: str
    db: str

    def dagster_env(self) -> dict[str, str]:
        """The DAGSTER_PG_* settings deploy/dagster-postgres.yaml reads."""
        return {"DAGSTER_PG_HOST": self.host, "DAGSTER_PG_PORT": str(self.port), "DAGSTER_PG_USER": self.user,
                "DAGSTER_PG_PASSWORD": self.password, "DAGSTER_PG_DB": self.db}


def pg_bin() -> Path:
    """The folder of initdb/pg_ctl (the newest Debian version); skips (fails under CI) without one."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parts[-3]) if
                   p.parts[-3].isdigit() else 0)
    if found:
        return found[-1].parent
    return Path(require_tool("initdb", "Debian: apt-get install postgresql; scripts/setup.sh installs it as root"
                             )).resolve().parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _as_server_user() -> tuple[list[str], int, int]:
    """The command prefix that runs PostgreSQL as a user it accepts, and that user's uid/gid."""
    if os.geteuid() != 0:
        return [], os.getuid(), os.getgid()
    setpriv = require_tool("setpriv", "util-linux: runs the server as 'nobody' (PostgreSQL refuses root)")
    try:
        nobody = pwd.getpwnam("nobody")
    except KeyError:
        missing("no 'nobody' user to run PostgreSQL as (it refuses to run as root)")
    return ([setpriv, f"--reuid={nobody.pw_uid}", f"--regid={nobody.pw_gid}", "--clear-groups", "--"],
            nobody.pw_uid, nobody.pw_gid)


@contextmanager
def postgres_server(db: str = "dagster", user: str = "vqa", password: str = "vqa-test-pw") -> Iterator[PostgresServer]:
    """A running server with database ``db`` owned by ``user``; stopped and removed afterwards."""
    import psycopg2

    bindir = pg_bin()
    prefix, uid, gid = _as_server_user()
    base = Path(tempfile.mkdtemp(prefix="vqa-pg-", dir="/tmp"))
    try:
        data, sock, pwfile = base / "data", base / "sock", base / "pw"
        sock.mkdir()
        pwfile.write_text(password + "\n")
        for p in (base, sock, pwfile):
            os.chown(p, uid, gid)

        def run(*cmd: str) -> None:
            out = subprocess.run([*prefix, *cmd], capture_output=True, text=True, timeout=START_TIMEOUT_S)
            assert out.returncode == 0, f"{cmd[0]} failed: {(out.stderr or out.stdout)[-2000:]}"

        run(str(bindir / "initdb"), "-D", str(data), "-U", user, f"--pwfile={pwfile}", "--auth-local=trust",
            "--auth-host=scram-sha-256", "-E", "UTF8", "--no-locale", "--no-sync")
        port = free_port()
        opts = f"-c listen_addresses=127.0.0.1 -p {port} -k {sock} -c fsync=off -c full_page_writes=off"
        run(str(bindir / "pg_ctl"), "-D", str(data), "-o", opts, "-l", str(base / "server.log"), "-w",
            "-t", str(START_TIMEOUT_S), "start")
        try:
            conn = psycopg2.connect(host="127.0.0.1", port=port, user=user, password=password, dbname="postgres")
            conn.autocommit = True
            with conn.cursor() as cur:
                cur.execute(f'CREATE DATABASE "{db}"')
            conn.close()
            yield PostgresServer("127.0.0.1", port, user, password, db)
        finally:
            subprocess.run([*prefix, str(bindir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"],
                           capture_output=True, timeout=START_TIMEOUT_S)
    finally:
        shutil.rmtree(base, ignore_errors=True)
