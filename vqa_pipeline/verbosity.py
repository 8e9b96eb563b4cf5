"""How much third-party libraries may print: nothing on a normal run, everything with ``vqa -v``.

llama.cpp logs from C through a callback whose Python default prints warnings straight to stderr
(its level enum is off by one against newer ggml, so "warnings" such as the SWA-cache notice pass
as errors). :func:`route_llama_logs` replaces that callback: each complete line goes to the
``llama_cpp`` logger at INFO (DEBUG for ggml's debug level), which the CLI shows only with ``-v``.
Ray's driver output is chosen in :func:`vqa_pipeline.indexing.ray_runner.ensure_ray` from
:func:`is_verbose`.
"""

from __future__ import annotations

import ctypes
import logging
import os

ENV_VERBOSE = "VQA_VERBOSE"
"""``1``: verbose in this process and the processes it starts (the CLI sets it with ``-v``)."""

_llama_callback = None  # kept referenced: llama.cpp holds a raw pointer to it
_llama_buffer: list[str] = []
_GGML_DEBUG = 1
_GGML_CONT = 5


def set_verbose(on: bool) -> None:
    """Let libraries log in this process and the ones it starts (``vqa -v``), or keep them quiet."""
    if on:
        os.environ[ENV_VERBOSE] = "1"
    else:
        os.environ.pop(ENV_VERBOSE, None)


def is_verbose() -> bool:
    return os.environ.get(ENV_VERBOSE, "") not in ("", "0")


def route_llama_logs() -> None:
    """Send llama.cpp's C-level log lines to the ``llama_cpp`` logger instead of stderr (once)."""
    global _llama_callback
    if _llama_callback is not None:
        return
    import llama_cpp

    log = logging.getLogger("llama_cpp")
    state = {"level": logging.INFO}

    def on_log(level: int, text: bytes, _user_data) -> None:
        try:
            if level != _GGML_CONT:
                state["level"] = logging.DEBUG if level == _GGML_DEBUG else logging.INFO
            _llama_buffer.append(text.decode("utf-8", "replace"))
            joined = "".join(_llama_buffer)
            if "\n" not in joined:
                return
            *lines, rest = joined.split("\n")
            _llama_buffer[:] = [rest] if rest else []
            for line in lines:
                if line.strip():
                    log.log(state["level"], "%s", line.rstrip())
        except Exception:  # noqa: BLE001 - an exception must never cross back into C
            pass

    _llama_callback = llama_cpp.llama_log_callback(on_log)
    llama_cpp.llama_log_set(_llama_callback, ctypes.c_void_p(0))
