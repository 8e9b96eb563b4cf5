"""A tiny random-weight decoder of the real architecture (Gemma 3), saved and loaded back through
`load_decoder`, with a word-level tokenizer built offline. Built once per session."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from vqa_pipeline_tests.needs import require_module

require_module("torch")
require_module("transformers")

_TEXT = ("question what sound is heard which colour dominates does the scene change speech or music "
         "answer dog bark siren bell red green blue yellow yes no silence : ? . ,")
WORDS = _TEXT.split(" ")


def build_tiny_decoder(folder: Path, seed: int = 0, hidden: int = 64) -> Path:
    """Gemma 3 with hidden size ``hidden`` and 2 layers, random weights. Wider than Gemma's 0.02
    initialisation, with an untied, louder output layer: at 0.02 the attention path adds little to
    the residual stream and the logits cannot get confident, so nothing could overfit quickly."""
    import torch
    from tokenizers import Tokenizer
    from tokenizers.models import WordLevel
    from tokenizers.pre_tokenizers import Whitespace
    from transformers import Gemma3ForCausalLM, Gemma3TextConfig, PreTrainedTokenizerFast

    vocab = {t: i for i, t in enumerate(["<pad>", "<bos>", "<eos>", "<unk>", *dict.fromkeys(WORDS)])}
    tk = Tokenizer(WordLevel(vocab, unk_token="<unk>"))
    tk.pre_tokenizer = Whitespace()
    tok = PreTrainedTokenizerFast(tokenizer_object=tk, bos_token="<bos>", eos_token="<eos>",
                                  pad_token="<pad>", unk_token="<unk>")
    cfg = Gemma3TextConfig(vocab_size=len(vocab), hidden_size=hidden, intermediate_size=2 * hidden, num_hidden_layers=2,
                           num_attention_heads=2, num_key_value_heads=1, head_dim=32, max_position_embeddings=256,
                           sliding_window=64, initializer_range=0.1,
                           tie_word_embeddings=False, pad_token_id=0, bos_token_id=1, eos_token_id=2)
    torch.manual_seed(seed)
    model = Gemma3ForCausalLM(cfg)
    with torch.no_grad():
        model.get_output_embeddings().weight.mul_(3.0)
    model.save_pretrained(str(folder))
    tok.save_pretrained(str(folder))
    return folder


@pytest.fixture(scope="session")
def tiny_decoder_dir(tmp_path_factory) -> Path:
    return build_tiny_decoder(tmp_path_factory.mktemp("tiny-gemma3"))


@pytest.fixture
def decoder(tiny_decoder_dir):
    """A freshly loaded tiny decoder (tests may add LoRA to it)."""
    from vqa_pipeline.adapters import load_decoder

    return load_decoder(str(tiny_decoder_dir), device="cpu")


@pytest.fixture
def specs():
    from vqa_pipeline.adapters import FeatureSpec

    return [FeatureSpec("sound_tags", "yamnet-w8a8", 12, False), FeatureSpec("frames", "clip-vit-b32", 6, True)]


def feature_row(rng: np.random.Generator, n_frames: int = 3, sound: bool = True, frames: bool = True) -> dict:
    return {"sound_tags": rng.random(12).astype(np.float32) if sound else None,
            "frames": rng.standard_normal((n_frames, 6)).astype(np.float32) if frames else None}
