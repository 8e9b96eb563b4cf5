"""Where an index lives: a local folder or an object-store URI (``s3://bucket/prefix``).

Everything that needs to know the difference asks a :class:`DbLocation`, not the string: whether
the writer lock (a file lock) and the file-system shortcuts apply (:attr:`DbLocation.is_local`),
the storage options LanceDB connects with (from the environment, :func:`storage_options`), and
where the small files beside the tables (``fusion.json``, ``reranker.json``) are read and written
(:meth:`DbLocation.side_file`).

Object stores: ``s3://bucket/prefix``, and ``s3+ddb://bucket/prefix?ddbTableName=TABLE`` for
several writers at once (LanceDB then commits through a DynamoDB table, which a plain S3 bucket
cannot do safely). The settings come from the usual AWS variables:

=============================  =====================================================================
``AWS_ACCESS_KEY_ID``,         credentials (``AWS_SESSION_TOKEN`` too, if any)
``AWS_SECRET_ACCESS_KEY``
``AWS_REGION``                 region (default ``us-east-1`` when an endpoint is set)
``AWS_ENDPOINT_URL``           an S3-compatible server (MinIO, moto, Ceph, ...); ``http://`` allows
                               plain HTTP (``AWS_ALLOW_HTTP=true`` does too)
``AWS_ENDPOINT_URL_DYNAMODB``  the DynamoDB endpoint of ``s3+ddb://`` (``DYNAMODB_ENDPOINT`` too)
``VQA_S3_RETRIES``,            how often, and for how many seconds at most, a failed request is
``VQA_S3_RETRY_TIMEOUT``       retried before the command gives up (default 3 and 30)
=============================  =====================================================================

Nothing here imports LanceDB.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TypeAlias
from urllib.parse import urlsplit

OBJECT_SCHEMES = ("s3", "s3+ddb", "gs", "az", "abfs")
DEFAULT_RETRIES = "3"
DEFAULT_RETRY_TIMEOUT_S = "30"


def is_uri(db: str | Path) -> bool:
    """Whether ``db`` names an object store (or any URI) rather than a folder: the one test of it
    (:attr:`DbLocation.is_local` is its negation)."""
    return "://" in str(db)


def as_db(value: str | Path) -> str | Path:
    """A database given by the user: a URI kept as typed (``Path`` would turn ``s3://b`` into
    ``s3:/b``), else a path. The type of ``--db`` options."""
    return str(value) if is_uri(value) else Path(value)


@dataclass(frozen=True, slots=True)
class DbLocation:
    """An index's location: :attr:`uri` as LanceDB takes it, and what can be done there."""

    uri: str

    @classmethod
    def of(cls, db: str | Path | DbLocation) -> DbLocation:
        if isinstance(db, DbLocation):
            return db
        return cls(str(db))

    @property
    def is_local(self) -> bool:
        return not is_uri(self.uri)

    @property
    def path(self) -> Path:
        """The folder (local databases only)."""
        if not self.is_local:
            raise ValueError(f"{self.uri} is not a local folder")
        return Path(self.uri)

    @property
    def scheme(self) -> str:
        return urlsplit(self.uri).scheme if not self.is_local else ""

    @property
    def bucket(self) -> str:
        return urlsplit(self.uri).netloc if not self.is_local else ""

    @property
    def prefix(self) -> str:
        """The key prefix inside the bucket (no leading or trailing ``/``)."""
        return urlsplit(self.uri).path.strip("/") if not self.is_local else ""

    @property
    def commit_lock(self) -> bool:
        """Whether concurrent writers are coordinated by LanceDB (``s3+ddb://``) instead of our file lock."""
        return self.scheme == "s3+ddb"

    def storage_options(self) -> dict[str, str]:
        return storage_options(self.uri)

    def connect(self):
        """A LanceDB connection (imports LanceDB)."""
        import lancedb

        if self.is_local:
            return lancedb.connect(self.uri)
        return lancedb.connect(self.uri, storage_options=self.storage_options())

    def side_file(self, name: str) -> SideFile:
        """``name`` beside the tables: ``<folder>/name`` or the object ``<prefix>/name``."""
        if self.is_local:
            return Path(self.uri) / name
        return ObjectFile(self, name)

    def __str__(self) -> str:
        return self.uri


def side_file(db: str | Path, name: str) -> SideFile:
    """Shorthand for ``DbLocation.of(db).side_file(name)``."""
    return DbLocation.of(db).side_file(name)


def _env(*names: str) -> str | None:
    for name in names:
        value = os.environ.get(name)
        if value:
            return value
    return None


def storage_options(uri: str) -> dict[str, str]:
    """LanceDB's storage options for ``uri`` from the environment (see the module docstring)."""
    if not is_uri(uri):
        return {}
    opts: dict[str, str] = {
        "client_max_retries": os.environ.get("VQA_S3_RETRIES") or DEFAULT_RETRIES,
        "client_retry_timeout": os.environ.get("VQA_S3_RETRY_TIMEOUT") or DEFAULT_RETRY_TIMEOUT_S,
    }
    if not urlsplit(uri).scheme.startswith("s3"):
        return opts
    endpoint = _env("AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL", "AWS_ENDPOINT")
    pairs = {"aws_access_key_id": _env("AWS_ACCESS_KEY_ID"), "aws_secret_access_key": _env("AWS_SECRET_ACCESS_KEY"),
             "aws_session_token": _env("AWS_SESSION_TOKEN"),
             "region": _env("AWS_REGION", "AWS_DEFAULT_REGION") or ("us-east-1" if endpoint else None),
             "endpoint": endpoint,
             "dynamodb_endpoint": _env("AWS_ENDPOINT_URL_DYNAMODB", "DYNAMODB_ENDPOINT")}
    opts.update({k: v for k, v in pairs.items() if v})
    allow = (_env("AWS_ALLOW_HTTP") or "").lower() in ("1", "true", "yes")
    if allow or (endpoint or "").startswith("http://"):
        opts["allow_http"] = "true"
    return opts


class ObjectFile:
    """A small object beside the tables of an object-store index (read and written whole)."""

    def __init__(self, location: DbLocation, name: str) -> None:
        self.location = location
        self.name = name

    @property
    def key(self) -> str:
        return "/".join(p for p in (self.location.bucket, self.location.prefix, self.name) if p)

    def __str__(self) -> str:
        scheme = self.location.scheme.split("+")[0]
        return f"{scheme}://{self.key}"

    def __repr__(self) -> str:
        return f"ObjectFile({str(self)!r})"

    def _fs(self):
        return object_filesystem(self.location)

    def is_file(self) -> bool:
        from pyarrow import fs

        try:
            return self._fs().get_file_info(self.key).type == fs.FileType.File
        except OSError:
            return False

    def exists(self) -> bool:
        return self.is_file()

    def read_text(self, encoding: str = "utf-8") -> str:
        with self._fs().open_input_stream(self.key) as f:
            return f.read().decode(encoding)

    def write_text(self, data: str, encoding: str = "utf-8") -> int:
        raw = data.encode(encoding)
        with self._fs().open_output_stream(self.key) as f:  # one PUT: readers see the old or the new object
            f.write(raw)
        return len(raw)

    def unlink(self, missing_ok: bool = False) -> None:
        try:
            self._fs().delete_file(self.key)
        except FileNotFoundError:
            if not missing_ok:
                raise


SideFile: TypeAlias = Path | ObjectFile
"""A small file beside the tables (``fusion.json``, ...): a local path or an object."""


def as_side_file(path: str | SideFile) -> SideFile:
    """``path`` as a file to read or write: an :class:`ObjectFile` as it is, anything else a ``Path``."""
    return path if isinstance(path, ObjectFile) else Path(path)


def object_filesystem(location: DbLocation):
    """A pyarrow file system for the location's bucket, with the same settings LanceDB gets."""
    from pyarrow import fs

    if not location.scheme.startswith("s3"):
        raise ValueError(f"files beside the tables are not supported on {location.scheme}:// yet")
    opts = location.storage_options()
    endpoint = opts.get("endpoint")
    kwargs: dict = {"region": opts.get("region") or "us-east-1"}
    if endpoint:
        split = urlsplit(endpoint)
        kwargs["endpoint_override"] = split.netloc or endpoint
        kwargs["scheme"] = split.scheme or "https"
    if opts.get("aws_access_key_id"):
        kwargs.update(access_key=opts["aws_access_key_id"], secret_key=opts.get("aws_secret_access_key"),
                      session_token=opts.get("aws_session_token"))
    kwargs["retry_strategy"] = fs.AwsStandardS3RetryStrategy(max_attempts=int(opts["client_max_retries"]) + 1)
    kwargs["connect_timeout"] = 5.0
    kwargs["request_timeout"] = float(opts["client_retry_timeout"])
    return fs.S3FileSystem(**kwargs)


__all__ = ["DbLocation", "ObjectFile", "SideFile", "as_db", "as_side_file", "is_uri", "side_file", "storage_options"]
