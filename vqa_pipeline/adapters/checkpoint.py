"""Trained adapters on disk: one safetensors file (weights + JSON metadata), written atomically."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch

from vqa_pipeline.adapters.modules import SoftTokenBridge
from vqa_pipeline.adapters.spec import AdapterError, FeatureSpec

FORMAT = "vqa-adapter/1"
_META_KEY = "vqa_adapter"
_LORA_PREFIX = "lora::"


def atomic_write(path: Path, write: Any) -> None:
    """``write(tmp_path)`` then rename over ``path``: a crash leaves the old file, never a torn one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def save_adapter(path: str | Path, bridge: SoftTokenBridge, specs: list[FeatureSpec], meta: dict[str, Any]) -> Path:
    """Write ``bridge`` (and its LoRA weights, if any) to ``path``.

    ``meta`` should carry ``decoder`` (``{"name", "d_model"}``) and ``train_config``; ``kind``, ``k``,
    ``specs`` and the format tag are added here.
    """
    from safetensors.torch import save_file

    path = Path(path)
    full = dict(meta)
    full.update({"format": FORMAT, "specs": [s.to_dict() for s in specs], "bridge": bridge.config(),
                 "kind": bridge.kind, "k": bridge.k, "lora_rank": bridge.lora_rank})
    full.setdefault("decoder", {"name": getattr(bridge, "decoder_name", None), "d_model": bridge.d_model})
    tensors = {k: v.detach().cpu().contiguous() for k, v in bridge.state_dict().items()}
    for k, v in (bridge.lora_state or {}).items():
        tensors[_LORA_PREFIX + k] = v.detach().cpu().contiguous()
    atomic_write(path, lambda tmp: save_file(tensors, str(tmp), metadata={_META_KEY: json.dumps(full)}))
    return path


def read_meta(path: str | Path) -> dict[str, Any]:
    """The metadata of an adapter file, without building the bridge.

    Raises:
        AdapterError: missing, unreadable or not an adapter file (naming it).
    """
    from safetensors import safe_open

    path = Path(path)
    if not path.is_file():
        raise AdapterError(f"adapter file {path} does not exist")
    try:
        with safe_open(str(path), framework="pt") as fh:
            raw = (fh.metadata() or {}).get(_META_KEY)
        meta = json.loads(raw) if raw else None
    except Exception:  # noqa: BLE001 - safetensors/JSON errors become one line naming the file
        raise AdapterError(f"{path} is corrupt or not an adapter file") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise AdapterError(f"{path} is not a {FORMAT} adapter file")
    return meta


def load_adapter(path: str | Path, device: str | torch.device = "cpu") -> tuple[SoftTokenBridge, list[FeatureSpec], dict[str, Any]]:
    """``(bridge, specs, meta)`` from a file written by `save_adapter`; the bridge is in eval mode.

    Raises:
        AdapterError: missing, corrupt or incompatible file (one line, naming it).
    """
    from safetensors.torch import load_file

    path = Path(path)
    meta = read_meta(path)
    try:
        specs = [FeatureSpec.from_dict(d) for d in meta["specs"]]
        bridge = SoftTokenBridge.from_config(specs, meta["bridge"])
        tensors = load_file(str(path), device="cpu")
    except AdapterError as exc:
        raise AdapterError(f"{path}: {exc}") from None
    except Exception:  # noqa: BLE001
        raise AdapterError(f"{path} is corrupt or not an adapter file") from None
    lora = {k[len(_LORA_PREFIX):]: v for k, v in tensors.items() if k.startswith(_LORA_PREFIX)}
    own = {k: v for k, v in tensors.items() if not k.startswith(_LORA_PREFIX)}
    try:
        bridge.load_state_dict(own, strict=True)
    except RuntimeError:
        raise AdapterError(f"{path}: its weights do not match its own description (corrupt file?)") from None
    bridge.lora_rank = int(meta.get("lora_rank") or 0)
    bridge.lora_state = lora or None
    bridge.decoder_name = (meta.get("decoder") or {}).get("name")
    bridge.to(device).eval()
    return bridge, specs, meta
