"""Output helpers and the one error type shared by the `vqa` subcommands."""

from __future__ import annotations

import json
import sys


class CliError(Exception):
    """A failure to report as one line, exit code 1."""


def check_db_folder(db) -> None:
    """A ``--db`` that names an existing non-folder is refused before LanceDB says "File exists"."""
    from pathlib import Path

    from vqa_pipeline.store.location import is_uri

    if db is not None and not is_uri(db) and Path(db).exists() and not Path(db).is_dir():
        raise CliError(f"--db must be a folder: {db} is a file")


def print_json(obj) -> None:
    sys.stdout.write(json.dumps(obj, indent=2, ensure_ascii=False) + "\n")
