"""The frozen LLM side: a causal LM loaded offline through ``transformers``, fed soft tokens via ``inputs_embeds``.

Layout of every sequence (left-padded in a batch)::

    [pad ...] [BOS] [soft tokens (masked where a modality is missing)] [prompt tokens] [answer tokens]

The loss covers the answer tokens only.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from vqa_pipeline.adapters.spec import AdapterError

BUNDLED_NAME = "gemma-3-270m"
BUNDLED_SUBDIR = "gemma-3-270m-hf"  # the GGUF converted once to a transformers folder (safetensors)
_MARKER = "vqa-converted.json"
LORA_TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj")


def pick_device(device: str = "auto") -> torch.device:
    """``"auto"``: CUDA when available, else CPU."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except RuntimeError:
        raise AdapterError(f"unknown device '{device}' (use auto, cpu or cuda)") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise AdapterError(f"device '{device}' asked for but no CUDA GPU is available")
    return dev


class Decoder:
    """A frozen causal LM (all weights ``requires_grad=False``, eval mode) with soft-token entry points.

    Attributes:
        name: where it came from (``"gemma-3-270m"`` for the bundled model, else the folder's name).
        d_model: hidden size; soft tokens are ``(B, k, d_model)``.
        tokenizer: its ``transformers`` tokenizer.
        device, dtype: bf16 on CUDA, float32 on CPU.
        layers: the decoder blocks (where cross-attention adapters hook in).
        embed_rms: root-mean-square of the token embeddings (the scale soft tokens start at).
    """

    def __init__(self, model: Any, tokenizer: Any, name: str, device: torch.device) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.name = name
        self.device = device
        self.dtype = next(model.parameters()).dtype
        for p in model.parameters():
            p.requires_grad_(False)
        model.eval()
        self.d_model = int(model.get_input_embeddings().weight.shape[1])
        self.layers = _find_layers(model)
        self.bos_id: int | None = tokenizer.bos_token_id
        self.eos_id: int | None = tokenizer.eos_token_id
        pad = tokenizer.pad_token_id
        self.pad_id: int = int(pad if pad is not None else (self.eos_id or 0))
        nl = tokenizer.encode("\n", add_special_tokens=False)
        self.newline_id: int | None = nl[0] if len(nl) == 1 and tokenizer.decode(nl) == "\n" else None
        with torch.no_grad():
            vocab = model.get_input_embeddings().weight.shape[0]
            # spread over the vocabulary: the first ids are often special or unused tokens
            sample = torch.arange(0, vocab, max(1, vocab // 4096), device=device)
            self.embed_rms = float(self.embed(sample).float().pow(2).mean().sqrt())
        self.lora_rank = 0
        self._lora_owner: int | None = None

    # --- tokens -----------------------------------------------------------------------------
    def tokenize(self, text: str) -> list[int]:
        """Token ids of ``text`` without special tokens (the decoder adds BOS itself)."""
        return list(self.tokenizer.encode(text, add_special_tokens=False))

    def answer_ids(self, answer: str) -> list[int]:
        """Training target for ``answer``: a leading space, the words, then newline (or EOS) to stop on."""
        text = answer.strip()
        ids = self.tokenize(" " + text)
        stop = self.newline_id if self.newline_id is not None else self.eos_id
        return ids + ([stop] if stop is not None else [])

    def embed(self, ids: torch.Tensor) -> torch.Tensor:
        """The decoder's own input embeddings of ``ids`` (scaled as the model scales them)."""
        return self.model.get_input_embeddings()(ids.to(self.device))

    # --- forward ----------------------------------------------------------------------------
    def _layout(self, soft: torch.Tensor, soft_mask: torch.Tensor, prompt_ids: Sequence[Sequence[int]],
                answer_ids: Sequence[Sequence[int]]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        b, k = soft.shape[0], soft.shape[1]
        if len(prompt_ids) != b or len(answer_ids) != b:
            raise AdapterError(f"{b} soft-token rows but {len(prompt_ids)} prompts and {len(answer_ids)} answers")
        if soft.shape[-1] != self.d_model:
            raise AdapterError(f"soft tokens have size {soft.shape[-1]} but decoder {self.name} has d_model {self.d_model}")
        head = [self.bos_id] if self.bos_id is not None else []
        tails = [list(p) + list(a) for p, a in zip(prompt_ids, answer_ids)]
        lengths = [len(head) + k + len(t) for t in tails]
        total = max(lengths)
        ids = torch.full((b, total), self.pad_id, dtype=torch.long)
        mask = torch.zeros((b, total), dtype=torch.bool)
        is_soft = torch.zeros((b, total), dtype=torch.bool)
        starts = []
        for i, (t, n) in enumerate(zip(tails, lengths)):
            s = total - n
            seq = head + [self.pad_id] * k + t
            ids[i, s:] = torch.tensor(seq, dtype=torch.long)
            mask[i, s:] = True
            is_soft[i, s + len(head): s + len(head) + k] = True
            starts.append(s + len(head))
        dev = self.device
        mask, is_soft = mask.to(dev), is_soft.to(dev)
        if k:
            cols = torch.tensor(starts, device=dev)[:, None] + torch.arange(k, device=dev)[None, :]
            mask[torch.arange(b, device=dev)[:, None], cols] = soft_mask.to(dev).bool()
        emb = self.embed(ids.to(dev))
        if k:
            placed = emb.new_zeros(emb.shape).index_put(
                (torch.arange(b, device=dev)[:, None], cols), soft.to(dev, emb.dtype))
            emb = torch.where(is_soft[..., None], placed, emb)
        # masked positions (padding, a missing modality's tokens) take no position either
        pos = (mask.long().cumsum(dim=1) - 1).clamp(min=0)
        return emb, mask, pos

    def forward_with_soft_tokens(self, soft: torch.Tensor, soft_mask: torch.Tensor,
                                 prompt_ids: Sequence[Sequence[int]],
                                 answer_ids: Sequence[Sequence[int]]) -> torch.Tensor:
        """Mean next-token cross-entropy over the answer tokens, soft tokens before the prompt.

        Args:
            soft: ``(B, k, d_model)`` soft tokens (``k`` may be 0).
            soft_mask: ``(B, k)`` bool, ``False`` for tokens of a missing modality.
            prompt_ids, answer_ids: per row, token ids without BOS (see `tokenize`, `answer_ids`).
        """
        n_ans = max(len(a) for a in answer_ids)
        if n_ans == 0:
            raise AdapterError("every answer in the batch is empty")
        emb, mask, pos = self._layout(soft, soft_mask, prompt_ids, answer_ids)
        out = self.model(inputs_embeds=emb, attention_mask=mask.long(), position_ids=pos,
                         use_cache=False, logits_to_keep=n_ans + 1)
        logits = out.logits[:, :-1, :].float()
        labels = torch.full((len(answer_ids), n_ans), -100, dtype=torch.long)
        for i, a in enumerate(answer_ids):
            if a:
                labels[i, n_ans - len(a):] = torch.tensor(list(a), dtype=torch.long)
        return nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), labels.to(logits.device).reshape(-1),
                                           ignore_index=-100)

    def next_token_logits(self, soft: torch.Tensor, soft_mask: torch.Tensor,
                          prompt_ids: Sequence[Sequence[int]]) -> torch.Tensor:
        """``(B, vocab)`` logits for the token after each prompt."""
        emb, mask, pos = self._layout(soft, soft_mask, prompt_ids, [[] for _ in prompt_ids])
        out = self.model(inputs_embeds=emb, attention_mask=mask.long(), position_ids=pos,
                         use_cache=False, logits_to_keep=1)
        return out.logits[:, -1, :].float()

    @torch.no_grad()
    def generate(self, soft: torch.Tensor, soft_mask: torch.Tensor, prompt: str, max_new_tokens: int = 16) -> str:
        """Greedy continuation of ``prompt`` after the soft tokens; stops at a newline or EOS.

        ``soft`` is ``(1, k, d_model)`` (or ``(k, d_model)``), ``soft_mask`` ``(1, k)`` (or ``(k,)``).
        """
        if soft.dim() == 2:
            soft, soft_mask = soft[None], soft_mask[None]
        emb, mask, pos = self._layout(soft, soft_mask, [self.tokenize(prompt)], [[]])
        am = mask.long()
        out = self.model(inputs_embeds=emb, attention_mask=am, position_ids=pos, use_cache=True, logits_to_keep=1)
        new: list[int] = []
        next_pos = int(pos[0, -1]) + 1
        for _ in range(max_new_tokens):
            tok = int(out.logits[0, -1].argmax())
            if tok == self.eos_id or tok == self.newline_id:
                break
            new.append(tok)
            if "\n" in self.tokenizer.decode(new):
                break
            am = torch.cat([am, am.new_ones(1, 1)], dim=1)
            out = self.model(inputs_embeds=self.embed(torch.tensor([[tok]])), attention_mask=am,
                             position_ids=torch.tensor([[next_pos]], device=self.device),
                             past_key_values=out.past_key_values, use_cache=True, logits_to_keep=1)
            next_pos += 1
        return self.tokenizer.decode(new).split("\n")[0].strip()

    # --- LoRA -------------------------------------------------------------------------------
    def enable_lora(self, rank: int, state: dict[str, torch.Tensor] | None = None) -> list[nn.Parameter]:
        """Add LoRA (peft) of ``rank`` to the attention projections; returns the trainable LoRA parameters.

        The base weights stay frozen; LoRA's B matrices start at zero, so the model is unchanged until
        trained. ``state`` (from `lora_state`) loads trained LoRA weights.
        """
        if rank <= 0:
            raise AdapterError(f"LoRA rank must be positive, not {rank}")
        if self.lora_rank and self.lora_rank != rank:
            raise AdapterError(f"decoder {self.name} already carries LoRA rank {self.lora_rank}; load it afresh for rank {rank}")
        if not self.lora_rank:
            try:
                from peft import LoraConfig, inject_adapter_in_model
            except ImportError:
                raise AdapterError("LoRA needs peft (pip install -e '.[adapters]')") from None
            names = {n.rsplit(".", 1)[-1] for n, _ in self.model.named_modules()}
            targets = [t for t in LORA_TARGETS if t in names]
            if not targets:
                raise AdapterError(f"decoder {self.name} has none of the LoRA target modules {', '.join(LORA_TARGETS)}")
            cfg = LoraConfig(r=rank, lora_alpha=2 * rank, lora_dropout=0.0, target_modules=targets)
            inject_adapter_in_model(cfg, self.model)
            self.model.to(self.device)
            self.lora_rank = rank
        params = []
        for n, p in self.model.named_parameters():
            is_lora = "lora_" in n
            p.requires_grad_(is_lora)
            if is_lora:
                if p.dtype != torch.float32:  # LoRA trains in float32 even beside a bf16 model
                    p.data = p.data.float()
                params.append(p)
        if state is not None:
            own = dict(self.model.named_parameters())
            missing = sorted(set(own) & {n for n in own if "lora_" in n} - set(state))
            if missing or any(k not in own for k in state):
                raise AdapterError(f"the LoRA weights do not fit decoder {self.name}")
            with torch.no_grad():
                for k, v in state.items():
                    own[k].copy_(v.to(own[k].device, own[k].dtype))
        self.model.eval()
        return params

    def _lora_layers(self) -> list[Any]:
        return [m for m in self.model.modules() if hasattr(m, "reset_lora_parameters")]

    def reset_lora(self) -> None:
        """LoRA back to its initial state (B = 0: the model as without LoRA), for a fresh training run."""
        with torch.no_grad():
            for m in self._lora_layers():
                for name in list(getattr(m, "lora_A", {}).keys()):
                    m.reset_lora_parameters(name, True)

    def set_lora_enabled(self, enabled: bool) -> None:
        """Switch the LoRA layers on or off (off: the plain frozen model)."""
        for m in self._lora_layers():
            m.enable_adapters(enabled)

    def lora_state(self) -> dict[str, torch.Tensor]:
        """The LoRA weights (empty without LoRA)."""
        return {n: p.detach().cpu().clone() for n, p in self.model.named_parameters() if "lora_" in n}

    def frozen_parameters(self) -> Iterator[tuple[str, nn.Parameter]]:
        """The LLM's own (non-LoRA) parameters."""
        return ((n, p) for n, p in self.model.named_parameters() if "lora_" not in n)


def _find_layers(model: Any) -> nn.ModuleList:
    for path in ("model.layers", "model.decoder.layers", "transformer.h", "gpt_neox.layers"):
        obj = model
        try:
            for part in path.split("."):
                obj = getattr(obj, part)
        except AttributeError:
            continue
        if isinstance(obj, nn.ModuleList):
            return obj
    raise AdapterError(f"cannot find the decoder layers of {type(model).__name__}")


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


def _load_folder(folder: Path, dev: torch.device, gguf_file: str | None = None) -> tuple[Any, Any]:
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging as hf_logging

    dtype = torch.bfloat16 if dev.type == "cuda" else torch.float32
    kw: dict[str, Any] = {"gguf_file": gguf_file} if gguf_file else {}
    hf_logging.set_verbosity_error()  # "some weights newly initialised" etc. are not the user's business here
    hf_logging.disable_progress_bar()
    try:
        tok = AutoTokenizer.from_pretrained(str(folder), local_files_only=True, **kw)
        model = AutoModelForCausalLM.from_pretrained(str(folder), dtype=dtype, local_files_only=True,
                                                     attn_implementation="eager", **kw)
    except Exception as exc:  # noqa: BLE001 - transformers raises many kinds; the user gets one line
        raise AdapterError(f"cannot load a causal LM from {folder / (gguf_file or '')}: {_first_line(exc)}") from None
    return model.to(dev), tok


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def bundled_decoder_dir() -> Path:
    """The bundled Gemma 3 270M as a transformers folder, converted once from its GGUF (about a minute).

    Raises:
        AdapterError: the weight package, ``gguf`` or ``accelerate`` is missing, or conversion failed.
    """
    from vqa_pipeline.config import model_cache_dir

    root = model_cache_dir().expanduser()
    folder = root / BUNDLED_SUBDIR
    if (folder / _MARKER).is_file():
        return folder
    import importlib.util

    for mod, why in (("gguf", "gguf"), ("accelerate", "accelerate")):
        if importlib.util.find_spec(mod) is None:
            raise AdapterError(f"loading the bundled Gemma through transformers needs {why} (pip install -e '.[adapters]')")
    from vqa_pipeline.answer.llm import LLMError, gemma_gguf_path

    with _locked(root / f".{BUNDLED_SUBDIR}.lock"):
        if (folder / _MARKER).is_file():  # another process converted it meanwhile
            return folder
        try:
            gguf = gemma_gguf_path()
        except LLMError as exc:
            raise AdapterError(str(exc)) from None
        model, tok = _load_folder(gguf.parent, torch.device("cpu"), gguf_file=gguf.name)
        # the GGUF reader de-quantises to float32 but leaves its quantizer attached, which
        # save_pretrained refuses; the weights are plain tensors by now
        model.hf_quantizer = None
        if getattr(model.config, "quantization_config", None) is not None:
            del model.config.quantization_config
        tmp = root / f".{BUNDLED_SUBDIR}.{os.getpid()}.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        try:
            model.save_pretrained(str(tmp), safe_serialization=True)
            tok.save_pretrained(str(tmp))
            (tmp / _MARKER).write_text(json.dumps({"source": gguf.name, "size": gguf.stat().st_size}) + "\n")
            shutil.rmtree(folder, ignore_errors=True)
            os.replace(tmp, folder)
        except Exception as exc:  # noqa: BLE001 - disk or transformers errors: one line naming the folder
            raise AdapterError(f"cannot write the converted decoder to {folder}: {_first_line(exc)}") from None
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return folder


def load_decoder(path: str | None = None, device: str = "auto") -> Decoder:
    """A frozen decoder.

    Args:
        path: ``None`` for the bundled Gemma 3 270M (converted and cached on first use), a local
            Hugging Face causal-LM folder, or a ``.gguf`` file (loaded through transformers' GGUF reader).
        device: ``"auto"`` (CUDA if available, bf16; else CPU, float32), ``"cpu"`` or ``"cuda"``.

    Raises:
        AdapterError: the folder or file is missing or not a causal LM (one line, naming it).
    """
    dev = pick_device(device)
    if path is None:
        model, tok = _load_folder(bundled_decoder_dir(), dev)
        return Decoder(model, tok, BUNDLED_NAME, dev)
    p = Path(path).expanduser()
    if p.is_file() and p.suffix == ".gguf":
        model, tok = _load_folder(p.parent, dev, gguf_file=p.name)
        return Decoder(model, tok, p.stem, dev)
    if not (p / "config.json").is_file():
        raise AdapterError(f"{p} is not a Hugging Face model folder (no config.json) or .gguf file")
    model, tok = _load_folder(p, dev)
    return Decoder(model, tok, p.name, dev)
