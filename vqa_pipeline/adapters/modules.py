"""Trainable bridges from feature vectors to a frozen decoder: soft tokens or cross-attention memory.

Shapes use B = batch, n = sequence length, k = soft tokens per modality, d = the decoder's hidden size.
A boolean mask is ``True`` where a position (or a whole modality) is present.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import torch
from torch import nn

from vqa_pipeline.adapters.spec import AdapterError, FeatureSpec

KINDS = ("mlp", "resampler", "xattn")


def _n_heads(d_model: int) -> int:
    for h in (8, 4, 2):
        if d_model % h == 0 and d_model // h >= 16:
            return h
    return 1


def _input_norm(d_src: int) -> nn.Module:
    # Feature scales differ wildly (unit-norm embeddings, 0-1 scores, raw statistics); a LayerNorm
    # over one or two values would erase them, so tiny features pass through as they are.
    return nn.LayerNorm(d_src) if d_src >= 4 else nn.Identity()


class TokenScale(nn.Module):
    """RMS-normalises each token, then scales it to the decoder's embedding size (learned per channel).

    Soft tokens far louder or quieter than real token embeddings either swamp or vanish in the
    frozen decoder's attention; starting at the embedding RMS keeps the first steps sane.
    """

    def __init__(self, d_model: int, scale: float) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.full((d_model,), float(scale)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-6) * self.weight


class ModalityAdapter(nn.Module):
    """MLP projector for a pooled feature vector.

    Input ``(B, d_src)`` float; output ``(B, k, d_model)`` soft tokens.
    """

    def __init__(self, d_src: int, d_model: int, k: int = 8, hidden: int | None = None,
                 out_scale: float = 1.0) -> None:
        super().__init__()
        self.k, self.d_model = k, d_model
        hidden = hidden or max(256, d_model)
        self.net = nn.Sequential(_input_norm(d_src), nn.Linear(d_src, hidden), nn.GELU(),
                                 nn.Linear(hidden, k * d_model))
        self.out = TokenScale(d_model, out_scale)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(self.net(x).view(x.shape[0], self.k, self.d_model))


class Resampler(nn.Module):
    """Perceiver / Q-Former style resampler: k learned queries cross-attend over a token sequence.

    Input ``x`` ``(B, n, d_src)`` and ``mask`` ``(B, n)`` bool (``True`` = a real token; ``None`` = all
    real); output ``(B, k, d_model)``. Padded positions are zeroed before attention and excluded by
    the key-padding mask, so their content cannot leak into the output. A row without any real token
    gives zeros (the bridge masks such a modality out).
    """

    def __init__(self, d_src: int, d_model: int, k: int = 8, depth: int = 1, out_scale: float = 1.0) -> None:
        super().__init__()
        self.k, self.d_model = k, d_model
        heads = _n_heads(d_model)
        self.proj = nn.Sequential(_input_norm(d_src), nn.Linear(d_src, d_model))
        self.queries = nn.Parameter(torch.randn(k, d_model) * 0.02)
        self.blocks = nn.ModuleList()
        for _ in range(depth):
            self.blocks.append(nn.ModuleDict({
                "ln_q": nn.LayerNorm(d_model), "ln_kv": nn.LayerNorm(d_model),
                "attn": nn.MultiheadAttention(d_model, heads, batch_first=True),
                "ln_ff": nn.LayerNorm(d_model),
                "ff": nn.Sequential(nn.Linear(d_model, 2 * d_model), nn.GELU(), nn.Linear(2 * d_model, d_model)),
            }))
        self.out = TokenScale(d_model, out_scale)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        b, n = x.shape[0], x.shape[1]
        if mask is None:
            mask = torch.ones(b, n, dtype=torch.bool, device=x.device)
        x = x.masked_fill(~mask[..., None], 0.0)
        kv = self.proj(x)
        any_real = mask.any(dim=1)
        # a row with no real token would softmax over nothing (NaN); let it attend to its zeros instead
        pad = ~mask & any_real[:, None]
        q = self.queries.unsqueeze(0).expand(b, -1, -1)
        for blk in self.blocks:
            kv_n = blk["ln_kv"](kv)
            att, _ = blk["attn"](blk["ln_q"](q), kv_n, kv_n, key_padding_mask=pad, need_weights=False)
            q = q + att
            q = q + blk["ff"](blk["ln_ff"](q))
        return self.out(q) * any_real[:, None, None].to(q.dtype)


class GatedCrossAttentionBlock(nn.Module):
    """Flamingo-style block added after one decoder layer: hidden states attend to feature memory.

    ``h`` ``(B, t, d)``, ``memory`` ``(B, m, d)``, ``memory_mask`` ``(B, m)`` -> ``(B, t, d)``.
    Both tanh gates start at zero, so an untrained block returns ``h`` unchanged (bit for bit).
    """

    def __init__(self, d_model: int) -> None:
        super().__init__()
        self.ln = nn.LayerNorm(d_model)
        self.attn = nn.MultiheadAttention(d_model, _n_heads(d_model), batch_first=True)
        self.attn_gate = nn.Parameter(torch.zeros(1))
        self.ln_ff = nn.LayerNorm(d_model)
        self.ff = nn.Sequential(nn.Linear(d_model, 2 * d_model), nn.GELU(), nn.Linear(2 * d_model, d_model))
        self.ff_gate = nn.Parameter(torch.zeros(1))

    def forward(self, h: torch.Tensor, memory: torch.Tensor, memory_mask: torch.Tensor) -> torch.Tensor:
        any_real = memory_mask.any(dim=1)
        pad = ~memory_mask & any_real[:, None]
        x = h.to(self.ln.weight.dtype)
        att, _ = self.attn(self.ln(x), memory, memory, key_padding_mask=pad, need_weights=False)
        att = att * any_real[:, None, None].to(att.dtype)  # no memory for this row: add nothing
        x = x + torch.tanh(self.attn_gate) * att
        x = x + torch.tanh(self.ff_gate) * self.ff(self.ln_ff(x))
        return x.to(h.dtype)


class CrossAttentionAdapter(nn.Module):
    """Gated cross-attention blocks run after chosen layers of a frozen decoder (via forward hooks).

    Memory ``(B, m, d_model)`` with mask ``(B, m)``; use `attached` around the decoder call. With the
    gates at their initial zero the decoder's logits are bit-identical to the plain decoder's.
    """

    def __init__(self, d_model: int, layers: list[int]) -> None:
        super().__init__()
        if not layers:
            raise AdapterError("a cross-attention adapter needs at least one decoder layer")
        self.layers = [int(i) for i in layers]
        self.blocks = nn.ModuleList(GatedCrossAttentionBlock(d_model) for _ in self.layers)

    @contextlib.contextmanager
    def attached(self, decoder_layers: nn.ModuleList, memory: torch.Tensor,
                 memory_mask: torch.Tensor) -> Iterator[None]:
        """Within the block, every forward of ``decoder_layers[i]`` is followed by its gated block."""
        n = len(decoder_layers)
        bad = [i for i in self.layers if not -n <= i < n]
        if bad:
            raise AdapterError(f"cross-attention layers {bad} do not exist in a decoder with {n} layers")
        handles = []
        for idx, blk in zip(self.layers, self.blocks):
            def hook(_mod: nn.Module, _args: Any, output: Any, blk: nn.Module = blk) -> Any:
                if isinstance(output, tuple):
                    return (blk(output[0], memory, memory_mask), *output[1:])
                return blk(output, memory, memory_mask)
            handles.append(decoder_layers[idx].register_forward_hook(hook))
        try:
            yield
        finally:
            for h in handles:
                h.remove()


def default_xattn_layers(n_layers: int, count: int = 4) -> list[int]:
    """``count`` layers spread evenly over the decoder, always including the last."""
    count = max(1, min(count, n_layers))
    return sorted({round((i + 1) * n_layers / count) - 1 for i in range(count)})


Batch = dict[str, tuple[torch.Tensor, torch.Tensor]]
"""Per modality ``(x, mask)``: pooled ``x (B, dim)`` with ``mask (B,)``; sequence ``x (B, n, dim)`` with
``mask (B, n)``. A modality missing for a row has ``mask`` all ``False`` there (see `collate`)."""


class SoftTokenBridge(nn.Module):
    """All modalities at once: one encoder each, a learned gate per modality, soft tokens concatenated.

    ``forward(batch)`` returns ``(tokens (B, M*k, d_model), mask (B, M*k))`` for M modalities in
    ``specs`` order. A modality missing for a row is masked out (the decoder never attends to its
    tokens, which are also zeroed so garbage in the missing slot cannot leak through).

    Pooled features go through a `ModalityAdapter` (kind ``"mlp"``) or a `Resampler` over a length-1
    sequence (kind ``"resampler"``); sequences always go through a `Resampler`. Kind ``"xattn"`` uses
    the same encoders but feeds their tokens as memory to a `CrossAttentionAdapter` instead of placing
    them before the prompt; use `conditioned` to get either behaviour.
    """

    def __init__(self, specs: list[FeatureSpec], d_model: int, kind: str = "mlp", k: int = 8,
                 out_scale: float = 1.0, xattn_layers: list[int] | None = None) -> None:
        super().__init__()
        if kind not in KINDS:
            raise AdapterError(f"unknown adapter kind '{kind}' (choose one of {', '.join(KINDS)})")
        if not specs:
            raise AdapterError("an adapter needs at least one feature spec")
        names = [s.name for s in specs]
        if len(set(names)) != len(names):
            raise AdapterError(f"feature names repeat: {names}")
        for s in specs:
            if not s.name.isidentifier():
                raise AdapterError(f"feature name '{s.name}' must be a plain identifier (letters, digits, _)")
            if s.dim < 1:
                raise AdapterError(f"feature '{s.name}' has dimension {s.dim}")
        if not 1 <= k <= 64:
            raise AdapterError(f"k_tokens must be between 1 and 64, not {k}")
        self.specs = list(specs)
        self.kind, self.k, self.d_model = kind, k, d_model
        self.encoders = nn.ModuleDict()
        for s in specs:
            if s.sequence or kind == "resampler":
                self.encoders[s.name] = Resampler(s.dim, d_model, k, out_scale=out_scale)
            else:
                self.encoders[s.name] = ModalityAdapter(s.dim, d_model, k, out_scale=out_scale)
        self.gates = nn.ParameterDict({s.name: nn.Parameter(torch.ones(1)) for s in specs})
        self.xattn: CrossAttentionAdapter | None = None
        if kind == "xattn":
            if not xattn_layers:
                raise AdapterError("kind 'xattn' needs the decoder layers to attach to (xattn_layers)")
            self.xattn = CrossAttentionAdapter(d_model, xattn_layers)
        # filled by training/loading when LoRA adapted the decoder alongside this bridge
        self.lora_rank = 0
        self.lora_state: dict[str, torch.Tensor] | None = None
        self.decoder_name: str | None = None

    def config(self) -> dict[str, Any]:
        """What `from_config` needs to rebuild this bridge (stored in checkpoints)."""
        return {"kind": self.kind, "k": self.k, "d_model": self.d_model,
                "xattn_layers": self.xattn.layers if self.xattn is not None else None}

    @classmethod
    def from_config(cls, specs: list[FeatureSpec], cfg: dict[str, Any]) -> SoftTokenBridge:
        return cls(specs, int(cfg["d_model"]), kind=str(cfg["kind"]), k=int(cfg["k"]),
                   xattn_layers=cfg.get("xattn_layers"))

    def forward(self, batch: Batch) -> tuple[torch.Tensor, torch.Tensor]:
        toks, masks = [], []
        for s in self.specs:
            if s.name not in batch:
                raise AdapterError(f"the batch has no entry for feature '{s.name}' (use a False mask when missing)")
            x, m = batch[s.name]
            enc = self.encoders[s.name]
            if s.sequence:
                present = m.any(dim=1)
                t = enc(x, m)
            else:
                present = m
                xin = x.masked_fill(~m[:, None], 0.0)
                t = enc(xin[:, None, :], m[:, None]) if isinstance(enc, Resampler) else enc(xin)
            t = t * self.gates[s.name]
            t = torch.where(present[:, None, None], t, torch.zeros((), dtype=t.dtype, device=t.device))
            toks.append(t)
            masks.append(present[:, None].expand(-1, self.k))
        return torch.cat(toks, dim=1), torch.cat(masks, dim=1)

    @contextlib.contextmanager
    def conditioned(self, decoder_layers: nn.ModuleList,
                    batch: Batch) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """Yields ``(soft, soft_mask)`` to pass to the decoder; for kind ``"xattn"`` the soft tokens are
        empty ``(B, 0, d)`` and the cross-attention blocks are attached to the decoder meanwhile."""
        tokens, mask = self(batch)
        if self.xattn is None:
            yield tokens, mask
            return
        b = tokens.shape[0]
        with self.xattn.attached(decoder_layers, tokens, mask):
            yield tokens.new_zeros(b, 0, self.d_model), mask.new_zeros(b, 0)
