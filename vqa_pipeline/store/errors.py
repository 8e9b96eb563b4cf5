"""Lance failures told in our words: one line naming the table (and the file) concerned.

LanceDB raises ``RuntimeError``/``OSError``/``ValueError`` whose text holds Rust source locations
(``/root/.cargo/registry/...rs:1650:12``) and nested wrappers; users get none of that.
Nothing here imports LanceDB.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from vqa_pipeline.store.location import is_uri

_LANCE_MARKERS = ("lance error", "lanceerror", "lance_", "lance-io", ".lance", "_versions", "_indices", "lance file",
                  "invalid magic")
_CORRUPT = re.compile(r"invalid magic|does not appear to be a lance file|file size is too small|unexpected eof|"
                      r"corrupt|invalid (?:protobuf|manifest)|failed to decode|out of range for slice", re.IGNORECASE)
_NOT_FOUND = re.compile(r"Not found:\s*(?:Wrapped error:\s*Not found:\s*)*(/?[^,\s]+)")
_TABLE_IN_PATH = re.compile(r"([A-Za-z0-9_\-]+)\.lance(?:/|$)")
_NOISE = re.compile(r"(,\s*)?/(?:root|rustc|home|usr)/\S*\.rs:\d+:\d+|LanceError\(\w+\):|lance error:|"
                    r"Generic \S+ error:|Wrapped error:|N/A error:")


def is_lance_error(exc: BaseException) -> bool:
    """Whether ``exc`` came from LanceDB's storage layer (not from our own checks)."""
    if not isinstance(exc, (RuntimeError, OSError, ValueError)):
        return False
    text = str(exc).lower()
    return any(m in text for m in _LANCE_MARKERS) or ".rs:" in text


def is_lost_file(exc: BaseException) -> bool:
    """A Lance failure because a file the table refers to is gone (a damaged table)."""
    return is_lance_error(exc) and _NOT_FOUND.search(str(exc)) is not None


def is_damage(exc: BaseException) -> bool:
    """A Lance failure because a file of the table is gone or holds garbage: the table needs a repair."""
    return is_lost_file(exc) or (is_lance_error(exc) and _CORRUPT.search(str(exc)) is not None)


def _relative(path: str, db: str | Path | None) -> str:
    if db is not None:
        root = str(Path(db).expanduser().absolute()).lstrip("/")
        p = path.lstrip("/")
        if p.startswith(root + "/"):
            return p[len(root) + 1:]
    return path


def plain_reason(exc: BaseException) -> str:
    """The gist of a Lance message with build paths and wrapper words removed (at most 160 characters)."""
    text = " ".join(_NOISE.sub(" ", str(exc)).split()).strip(" ,:")
    return text[:160] or type(exc).__name__


def describe(exc: BaseException, db: str | Path | None = None, table: str | None = None) -> str:
    """One line for a failed read or write of a table: which table (and file), and for a lost file what to run."""
    text = str(exc)
    missing = _NOT_FOUND.search(text)
    name = table
    if name is None:
        m = _TABLE_IN_PATH.search(missing.group(1) if missing else text)
        name = m.group(1) if m else None
    where = f" in {db}" if db is not None else ""
    subject = f"the '{name}' table{where}" if name else f"the index{where}"
    if not missing:
        hint = "; run `vqa index --repair PATH...` or see `vqa doctor --db`" if is_damage(exc) else ""
        return f"{subject}: {plain_reason(exc)}{hint}"
    return (f"{subject} cannot be read (file {_relative(missing.group(1), db)} is missing); "
            "run `vqa index --repair PATH...` or see `vqa doctor --db`")


# -- object stores -------------------------------------------------------------------------------
_DENIED = re.compile(r"InvalidAccessKeyId|SignatureDoesNotMatch|AccessDenied|InvalidToken|ExpiredToken|"
                     r"UnrecognizedClientException|status: 403", re.IGNORECASE)
_NO_BUCKET = re.compile(r"NoSuchBucket", re.IGNORECASE)
_NO_DDB_TABLE = re.compile(r"ResourceNotFoundException|Requested resource not found", re.IGNORECASE)
_UNREACHABLE = re.compile(r"tcp connect error|Connection ?refused|connection reset|ConnectionReset|"
                          r"error sending request|operation timed out|TimedOut|dispatch failure|broken pipe|"
                          r"connection closed|IncompleteMessage|kind: Connect|HttpError", re.IGNORECASE)
_HOST = re.compile(r"uri: Some\((https?://[^/\s)]+)")


def raise_object_store_error(exc: BaseException, db: str | Path | None, error: Callable[[str], Exception]) -> None:
    """Raise ``error(reason)``, one line, when ``exc`` is a failure to talk to the object store
    holding ``db`` (:func:`object_store_reason`); else return, for the caller's own handling.

    Example:
        >>> try:                                            # doctest: +SKIP
        ...     table = connection.open_table("windows")
        ... except (OSError, RuntimeError) as exc:
        ...     raise_object_store_error(exc, db, StoreError)
        ...     raise
    """
    reason = object_store_reason(exc, db)
    if reason is not None:
        raise error(reason) from None


def object_store_reason(exc: BaseException, db: str | Path | None) -> str | None:
    """One line for a failure to talk to the object store holding ``db`` (credentials refused, no
    such bucket, server unreachable), naming the bucket; ``None`` when ``exc`` is something else."""
    from urllib.parse import urlsplit

    if db is None or not is_uri(db):
        return None
    text = str(exc)
    split = urlsplit(str(db))
    bucket = split.netloc
    where = f"bucket '{bucket}' ({split.scheme}://{bucket}{split.path})"
    if _DENIED.search(text):
        return (f"the object store refused the credentials for {where}; check AWS_ACCESS_KEY_ID and "
                "AWS_SECRET_ACCESS_KEY (and AWS_ENDPOINT_URL)")
    if _NO_BUCKET.search(text):
        return f"{where}: the bucket does not exist; create it first"
    if _NO_DDB_TABLE.search(text) and "ddb" in split.scheme:
        return f"{where}: the DynamoDB commit table named in the URI (ddbTableName) does not exist; create it first"
    if _UNREACHABLE.search(text):
        host = _HOST.search(text)
        at = f" at {host.group(1)}" if host else ""
        return f"cannot reach the object store{at} holding {where}: the server did not answer"
    return None
