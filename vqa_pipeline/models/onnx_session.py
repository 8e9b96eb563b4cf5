"""One onnxruntime CPU session per model file, thread count and process.

Extractors run in tests, in the CLI and in Ray actors; loading a model once per process (not per
file indexed) is what keeps them cheap.
"""

from __future__ import annotations

import threading
from pathlib import Path

_SESSIONS: dict[str, object] = {}
_LOCK = threading.Lock()


def cpu_session(path: Path, threads: int = 1):
    """The ``onnxruntime.InferenceSession`` of ``path`` on the CPU with ``threads`` intra-op threads,
    created on first use and shared after that; onnxruntime's own log lines are kept to errors."""
    key = f"{path}:{threads}"
    with _LOCK:
        sess = _SESSIONS.get(key)
        if sess is None:
            import onnxruntime as ort

            so = ort.SessionOptions()
            so.intra_op_num_threads = threads
            so.inter_op_num_threads = 1
            so.log_severity_level = 3
            sess = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
            _SESSIONS[key] = sess
        return sess
