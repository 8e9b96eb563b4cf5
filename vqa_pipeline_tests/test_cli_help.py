"""`vqa --help` and every subcommand's help name no file that does not exist, and say what the
profiles are in plain words."""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from pathlib import Path

import pytest

from vqa_pipeline.cli import build_parser

REPO = Path(__file__).resolve().parents[1]
EXTENSIONS = ("md", "json", "jsonl", "db", "yaml", "yml", "py", "sh", "toml", "gguf", "txt", "csv", "mp4", "wav")
_PATH = re.compile(r"^(?:~|\.{1,2})?/?[\w.-]+(?:/[\w.-]*)+$|^[\w.-]+\.(?:" + "|".join(EXTENSIONS) + r")$")
_PLACEHOLDER = re.compile(r"[$<>{}*]|://|\.\.\.|(?:^|/)[A-Z][A-Z_]+(?:/|$)")
_ROUTE = re.compile(r"^/(?:api|media)(?:/|$)")  # vqa serve's URL paths, not files


def path_tokens(text: str) -> list[str]:
    """Tokens of a help text that name a file or folder, placeholders (``<db>/fusion.json``,
    ``$VQA_HOME/lance``, ``PATH``) left out."""
    tokens = (t.strip("()[]{},;:'\"`").rstrip(".") for t in text.split())
    return [t for t in tokens if t and _PATH.match(t) and not _PLACEHOLDER.search(t) and not _ROUTE.match(t)]


def missing_paths(text: str) -> list[str]:
    return [t for t in path_tokens(text) if not (REPO / t.lstrip("./")).exists() and not Path(t).is_absolute()
            or Path(t).is_absolute() and not Path(t).exists()]


def all_helps() -> dict[str, str]:
    parser = build_parser()
    helps = {"vqa": parser.format_help()}
    for action in parser._subparsers._group_actions:  # the one subcommand group
        assert isinstance(action, argparse._SubParsersAction)
        for name, sub in action.choices.items():
            helps[f"vqa {name}"] = sub.format_help()
    return helps


def test_the_checker_finds_a_missing_file_and_leaves_placeholders_alone():
    text = ("see docs/NO_SUCH_GUIDE.md and data/sample/devset.jsonl, writes <db>/fusion.json, "
            "keeps $VQA_HOME/optuna.db; nDCG@10, Recall@5/10; PATH... (see README.md); gone.yaml")
    assert path_tokens(text) == ["docs/NO_SUCH_GUIDE.md", "data/sample/devset.jsonl", "README.md", "gone.yaml"]
    assert missing_paths(text) == ["docs/NO_SUCH_GUIDE.md", "gone.yaml"]


def test_every_help_text_names_only_files_that_exist():
    helps = all_helps()
    assert {"vqa", "vqa index", "vqa search", "vqa ask", "vqa doctor", "vqa eval", "vqa tune"} <= set(helps)
    missing = {cmd: bad for cmd, text in helps.items() if (bad := missing_paths(text))}
    assert not missing, f"help texts name files that do not exist: {missing}"
    # the check looked at something: a file the help does name
    assert "data/sample/devset.jsonl" in path_tokens(helps["vqa eval"])


def test_help_names_no_folder_of_this_machine():
    # the default database is described, not resolved (a resolved path need not exist)
    for cmd, text in all_helps().items():
        assert str(Path.cwd() / ".vqa") not in " ".join(text.split()), cmd


def test_profiles_are_explained_in_plain_words():
    text = " ".join(all_helps()["vqa index"].split())
    assert "lite (default): the bundled CPU models, nothing downloaded" in text
    assert "full: adds larger models meant for a GPU" in text and "seed" not in text


@pytest.mark.parametrize("command", ["search", "ask", "doctor"])
def test_help_runs_as_a_command(command):
    out = subprocess.run([sys.executable, "-m", "vqa_pipeline.cli", command, "--help"], capture_output=True,
                         text=True, timeout=120, cwd=REPO)
    assert out.returncode == 0 and out.stdout.startswith(f"usage: vqa {command}") and out.stderr == ""
    assert "-v, --verbose" in out.stdout
    assert not missing_paths(out.stdout)


def test_search_and_ask_say_what_they_do():
    """Both have a description, and each one's --k speaks of that command only."""
    helps = all_helps()
    for cmd, says in (("search", "Search the indexed windows for QUESTION"),
                      ("ask", "Answer QUESTION from the indexed evidence")):
        text = " ".join(helps[f"vqa {cmd}"].split())
        assert says in text
        k_help = text.split("--k K ", 1)[1].split(" --video", 1)[0]
        assert f"default {10 if cmd == 'search' else 5}" in k_help
    assert "ask" not in helps["vqa search"].split("--k K", 1)[1].split("--video", 1)[0]
