"""Lance failures told in our words: one line naming the table (and the file) concerned.

LanceDB raises ``RuntimeError``/``OSError``/``ValueError`` whose text holds Rust source locations
(``/root/.cargo/registry/...rs:1650:12``) and nested wrappers; users get none of that.
Nothing here imports LanceDB.
"""

from __future__ import annotations

import re
from pathlib import Path

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
