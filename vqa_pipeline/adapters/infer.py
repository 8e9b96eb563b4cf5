"""Answering with a trained adapter: features -> soft tokens (or cross-attention memory) -> greedy answer."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from vqa_pipeline.adapters.batch import check_features, collate
from vqa_pipeline.adapters.decoder import Decoder
from vqa_pipeline.adapters.modules import Batch, SoftTokenBridge
from vqa_pipeline.adapters.spec import AdapterError, FeatureSpec, check_specs_match


def check_fits(decoder: Decoder, bridge: SoftTokenBridge, specs: Sequence[FeatureSpec]) -> None:
    """Raise unless ``bridge`` was trained for this decoder's width and these features.

    Raises:
        AdapterError: d_model differs (naming both decoders), or a feature's model/dimension differs.
    """
    if bridge.d_model != decoder.d_model:
        trained = bridge.decoder_name or "another decoder"
        raise AdapterError(f"the adapter was trained for {trained} (d_model {bridge.d_model}) but the decoder is "
                           f"{decoder.name} (d_model {decoder.d_model})")
    check_specs_match(bridge.specs, list(specs))


def prepare_decoder(decoder: Decoder, bridge: SoftTokenBridge) -> None:
    """Give the decoder the bridge's LoRA weights (or switch LoRA off when the bridge has none)."""
    if bridge.lora_rank and bridge.lora_state:
        if decoder._lora_owner != id(bridge):
            decoder.enable_lora(bridge.lora_rank, bridge.lora_state)
            decoder._lora_owner = id(bridge)
        decoder.set_lora_enabled(True)
    elif decoder.lora_rank:
        decoder.set_lora_enabled(False)
        decoder._lora_owner = None


def feature_batch(bridge: SoftTokenBridge, rows: Sequence[dict[str, Any]], device: torch.device | str) -> Batch:
    """Validated, collated features for ``bridge`` (one dict per row; ``None`` = missing modality)."""
    checked = [check_features(bridge.specs, r, where=f"row {i}") for i, r in enumerate(rows)]
    return collate(bridge.specs, checked, device)


@torch.no_grad()
def soft_tokens(bridge: SoftTokenBridge, rows: Sequence[dict[str, np.ndarray | None]],
                device: torch.device | str = "cpu") -> tuple[torch.Tensor, torch.Tensor]:
    """``(tokens (B, M*k, d_model), mask (B, M*k))`` the bridge makes for ``rows`` (for kind ``"xattn"``
    these are the cross-attention memory)."""
    return bridge(feature_batch(bridge, rows, device))


@torch.no_grad()
def answer_with_adapter(decoder: Decoder, bridge: SoftTokenBridge, specs: Sequence[FeatureSpec],
                        features: dict[str, np.ndarray | None], prompt: str, max_new_tokens: int = 16) -> str:
    """Greedy answer to ``prompt`` (which may hold text evidence) conditioned on one window's ``features``.

    ``specs`` describe the features as the caller has them (e.g. the index's columns); they must match
    what the adapter was trained on.

    Raises:
        AdapterError: the adapter does not fit the decoder or the features (one line, naming both).
    """
    check_fits(decoder, bridge, specs)
    prepare_decoder(decoder, bridge)
    bridge.eval()
    batch = feature_batch(bridge, [features], decoder.device)
    with torch.autocast("cuda", dtype=torch.bfloat16, enabled=decoder.device.type == "cuda"), \
            bridge.conditioned(decoder.layers, batch) as (soft, mask):
        return decoder.generate(soft, mask, prompt, max_new_tokens=max_new_tokens)
