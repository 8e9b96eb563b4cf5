"""Trainable adapters that feed non-text features to a frozen LLM as soft tokens or attention memory.

Needs the ``adapters`` extra (torch, transformers, gguf, accelerate, peft). Only `spec` is free of
torch; the other names load their modules on first use, so ``from vqa_pipeline.adapters import
AdapterError`` stays cheap.

Example::

    from vqa_pipeline.adapters import (Example, FeatureSpec, TrainConfig, answer_with_adapter,
                                       load_adapter, load_decoder, train_adapter)

    decoder = load_decoder()                      # bundled Gemma 3 270M (or a local HF folder)
    specs = [FeatureSpec("sound_tags", "yamnet-w8a8", 521, sequence=False)]
    examples = [Example({"sound_tags": scores}, "Question: Which sound is heard?\nAnswer:", "siren"), ...]
    result = train_adapter(decoder, specs, examples, TrainConfig(steps=300), "runs/sound")
    bridge, specs, meta = load_adapter(result.adapter_path)
    answer_with_adapter(decoder, bridge, specs, {"sound_tags": scores}, "Question: ...\nAnswer:")
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "AdapterError": "spec", "FeatureSpec": "spec", "check_specs_match": "spec",
    "ModalityAdapter": "modules", "Resampler": "modules", "CrossAttentionAdapter": "modules",
    "SoftTokenBridge": "modules",
    "Decoder": "decoder", "load_decoder": "decoder",
    "Example": "train", "TrainConfig": "train", "TrainResult": "train", "train_adapter": "train",
    "save_adapter": "checkpoint", "load_adapter": "checkpoint", "read_meta": "checkpoint",
    "answer_with_adapter": "infer", "soft_tokens": "infer", "check_fits": "infer",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    mod = _EXPORTS.get(name)
    if mod is None:
        raise AttributeError(f"module 'vqa_pipeline.adapters' has no attribute '{name}'")
    return getattr(importlib.import_module(f"vqa_pipeline.adapters.{mod}"), name)
