"""The media layer reads only regular files: hashing, probing and decoding refuse a FIFO or a device
by its kind instead of blocking on it or reading it for ever."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from vqa_pipeline.media.decode import decode, probe
from vqa_pipeline.media.filekind import regular_file_problem
from vqa_pipeline.media.hashing import content_hash
from vqa_pipeline.media.types import MediaError, WindowingOptions

pytestmark = pytest.mark.skipif(not Path("/dev/zero").exists() or not hasattr(os, "mkfifo"),
                                reason="needs /dev/zero and FIFOs (POSIX)")


def _within(seconds: float, fn, *args) -> BaseException | None:
    """Run ``fn(*args)`` in a daemon thread: its exception, or a test failure if it is still running."""
    box: dict = {}

    def work():
        try:
            fn(*args)
        except BaseException as exc:  # noqa: BLE001 - handed to the test
            box["exc"] = exc

    t = threading.Thread(target=work, daemon=True)
    t.start()
    t.join(seconds)
    if t.is_alive():
        pytest.fail(f"{fn.__name__} blocked on {args[0]}")
    return box.get("exc")


@pytest.fixture()
def specials(tmp_path):
    os.mkfifo(tmp_path / "pipe.mp4")
    (tmp_path / "zero.mp4").symlink_to("/dev/zero")
    (tmp_path / "to-pipe.mp4").symlink_to(tmp_path / "pipe.mp4")
    return {
        tmp_path / "pipe.mp4": "not a regular file: FIFO",
        tmp_path / "zero.mp4": "not a regular file: character device",
        tmp_path / "to-pipe.mp4": "not a regular file: FIFO",
    }


@pytest.mark.parametrize("read", [content_hash, probe, lambda p: decode(p, "v", WindowingOptions())],
                         ids=["hash", "probe", "decode"])
def test_fifos_and_devices_are_refused_by_kind(specials, read):
    for path, reason in specials.items():
        exc = _within(20, read, path)
        assert isinstance(exc, MediaError) and str(exc) == reason


def test_kind_of_paths(tmp_path):
    import socket

    (tmp_path / "f.mp4").write_bytes(b"x")
    with socket.socket(socket.AF_UNIX) as s:
        s.bind(str(tmp_path / "s.mp4"))
        assert regular_file_problem(tmp_path / "s.mp4") == "not a regular file: socket"
    (tmp_path / "loop.mp4").symlink_to(tmp_path / "loop.mp4")
    assert regular_file_problem(tmp_path / "f.mp4") == ""
    assert regular_file_problem(tmp_path) == "not a regular file: directory"
    assert regular_file_problem(tmp_path / "loop.mp4") == "symlink loop"
    assert regular_file_problem(tmp_path / "none.mp4") == "no such file"


def test_hash_of_regular_files(tmp_path):
    f = tmp_path / "a.bin"
    f.write_bytes(b"abc" * 1000)
    import hashlib

    assert content_hash(f) == hashlib.sha256(b"abc" * 1000).hexdigest()
    (tmp_path / "empty.bin").write_bytes(b"")
    assert content_hash(tmp_path / "empty.bin") == hashlib.sha256(b"").hexdigest()
