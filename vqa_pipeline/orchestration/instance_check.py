"""Before a Dagster process starts: does the instance's Postgres answer? One line says why not.

Dagster connects to the storage of ``$DAGSTER_HOME/dagster.yaml`` only once it is up, and a Postgres
that is down or misnamed then surfaces as a retry loop and a SQLAlchemy traceback. ``scripts/dagster.sh``
runs this check first (``python -m vqa_pipeline.orchestration.instance_check``): for a ``storage:
postgres`` instance it opens one connection (a few seconds at most) and prints, on failure, a single line
naming the server, the database and the file. Other instances (sqlite) pass without a check.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

CONNECT_TIMEOUT_S = 5
_FIELDS = {"hostname": "host", "port": "port", "username": "user", "password": "password", "db_name": "dbname"}


class InstanceError(Exception):
    """The instance's storage cannot be used (the message is the one line to show)."""


def _value(raw: Any, env: Mapping[str, str], where: str) -> str:
    """A setting of dagster.yaml: a literal, or ``{env: NAME}`` read from ``env``."""
    if isinstance(raw, Mapping) and "env" in raw:
        name = str(raw["env"])
        if not env.get(name):
            raise InstanceError(f"{name} is not set ({where} reads it)")
        return env[name]
    return "" if raw is None else str(raw)


def postgres_settings(config_file: Path, env: Mapping[str, str] = os.environ) -> dict[str, str] | None:
    """psycopg2 connection settings of the instance in ``config_file``; ``None`` when it is not on Postgres."""
    try:
        config = yaml.safe_load(config_file.read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise InstanceError(f"cannot read {config_file}: {getattr(exc, 'strerror', None) or exc}") from None
    pg = (config.get("storage") or {}).get("postgres") if isinstance(config, Mapping) else None
    if not isinstance(pg, Mapping):
        return None
    if "postgres_url" in pg:
        return {"dsn": _value(pg["postgres_url"], env, str(config_file))}
    db = pg.get("postgres_db") or {}
    out = {key: _value(db[name], env, str(config_file)) for name, key in _FIELDS.items() if name in db}
    out.setdefault("port", "5432")
    return out


def _where(settings: Mapping[str, str]) -> str:
    if "dsn" in settings:
        return "the Postgres of postgres_url"
    return f"Postgres at {settings.get('host', 'localhost')}:{settings['port']} (database {settings.get('dbname', '?')})"


def _reason(exc: Exception) -> str:
    """psycopg2's message, cut to its cause: ``connection refused``, ``database "x" does not exist``."""
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    first = lines[0] if lines else type(exc).__name__
    if "failed: " in first:
        first = first.rsplit("failed: ", 1)[1]
    first = first.removeprefix("FATAL:").strip()
    return first[:1].lower() + first[1:]


def check_postgres(settings: Mapping[str, str], config_file: Path, timeout_s: int = CONNECT_TIMEOUT_S) -> None:
    """Open and close one connection; raises ``InstanceError`` (one line) when the server does not let us in."""
    try:
        import psycopg2
    except ImportError:
        raise InstanceError(f"{config_file} keeps Dagster's storage in Postgres, but psycopg2 is not installed "
                            "(pip install -e '.[postgres]' and dagster-postgres; scripts/setup.sh does both)") from None
    kwargs = {k: v for k, v in settings.items() if k != "dsn"}
    try:
        conn = psycopg2.connect(settings.get("dsn", ""), connect_timeout=timeout_s, **kwargs)
    except psycopg2.Error as exc:
        raise InstanceError(f"the Dagster instance's {_where(settings)} is not reachable: {_reason(exc)}; start it, "
                            f"or fix the DAGSTER_PG_* settings that {config_file} reads") from None
    conn.close()


def check_instance(home: Path) -> None:
    """Check the instance of ``DAGSTER_HOME`` = ``home`` (no dagster.yaml: Dagster's defaults, nothing to check)."""
    config_file = home / "dagster.yaml"
    if not config_file.is_file():
        return
    settings = postgres_settings(config_file)
    if settings is not None:
        check_postgres(settings, config_file)


def main() -> int:
    home = os.environ.get("DAGSTER_HOME")
    if not home:
        print("error: DAGSTER_HOME is not set", file=sys.stderr)
        return 2
    try:
        check_instance(Path(home))
    except InstanceError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
