"""Output helpers and the one error type shared by the `vqa` subcommands."""

from __future__ import annotations

import json
import sys


class CliError(Exception):
    """A failure to report as one line, exit code 1."""


def print_json(obj) -> None:
    sys.stdout.write(json.dumps(obj, indent=2, ensure_ascii=False) + "\n")
