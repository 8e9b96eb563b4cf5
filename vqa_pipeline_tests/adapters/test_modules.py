"""Adapter modules on a tiny random-weight Gemma 3: shapes, masking, zero-gate identity, soft tokens' effect."""

from __future__ import annotations

import numpy as np
import pytest

from vqa_pipeline_tests.adapters.conftest import feature_row

torch = pytest.importorskip("torch")


def _prompt(decoder):
    return [decoder.tokenize("question : what sound is heard ? answer :")]


def test_modality_adapter_and_resampler_shapes():
    from vqa_pipeline.adapters import ModalityAdapter, Resampler

    torch.manual_seed(0)
    assert ModalityAdapter(12, 64, k=8)(torch.randn(3, 12)).shape == (3, 8, 64)
    r = Resampler(6, 64, k=16)
    x = torch.randn(2, 5, 6)
    mask = torch.tensor([[True] * 5, [True, True, False, False, False]])
    out = r(x, mask)
    assert out.shape == (2, 16, 64)
    # padded positions cannot leak: garbage there leaves the output as it was
    x2 = x.clone()
    x2[1, 2:] = float("nan")
    assert torch.equal(r(x2, mask), out)
    # a row without any real token gives zeros, not NaN
    empty = r(x, torch.zeros(2, 5, dtype=torch.bool))
    assert torch.equal(empty, torch.zeros_like(empty))


def test_bridge_masks_a_missing_modality(decoder, specs):
    from vqa_pipeline.adapters import SoftTokenBridge
    from vqa_pipeline.adapters.batch import check_features, collate

    torch.manual_seed(0)
    bridge = SoftTokenBridge(specs, decoder.d_model, kind="mlp", k=8, out_scale=decoder.embed_rms)
    rng = np.random.default_rng(1)
    rows = [check_features(specs, feature_row(rng)), check_features(specs, feature_row(rng, sound=False))]
    batch = collate(specs, rows)
    tokens, mask = bridge(batch)
    assert tokens.shape == (2, 16, 64) and mask.shape == (2, 16)
    assert mask[0].all()
    assert not mask[1, :8].any() and mask[1, 8:].all()  # sound_tags missing in row 1: its 8 tokens masked

    with torch.no_grad():
        logits = decoder.next_token_logits(tokens, mask, _prompt(decoder) * 2)
        # garbage in the missing slot (huge values, NaN) changes nothing the decoder sees
        for junk in (1e6, float("nan")):
            x, m = batch["sound_tags"]
            x = x.clone()
            x[1] = junk
            garbled = dict(batch, sound_tags=(x, m))
            t2, m2 = bridge(garbled)
            assert torch.equal(m2, mask)
            assert torch.equal(decoder.next_token_logits(t2, m2, _prompt(decoder) * 2)[1], logits[1])
        # ...while the decoder does read the present modality
        x, m = batch["frames"]
        t3, _ = bridge(dict(batch, frames=(x + 1.0, m)))
        assert not torch.allclose(decoder.next_token_logits(t3, mask, _prompt(decoder) * 2)[1], logits[1])


def test_soft_tokens_change_the_logits(decoder):
    torch.manual_seed(0)
    empty = torch.zeros(1, 0, decoder.d_model)
    with torch.no_grad():
        plain = decoder.next_token_logits(empty, torch.zeros(1, 0, dtype=torch.bool), _prompt(decoder))
        soft = torch.randn(1, 8, decoder.d_model) * decoder.embed_rms
        with_soft = decoder.next_token_logits(soft, torch.ones(1, 8, dtype=torch.bool), _prompt(decoder))
        all_masked = decoder.next_token_logits(soft, torch.zeros(1, 8, dtype=torch.bool), _prompt(decoder))
    assert (plain - with_soft).abs().max() > 1e-3
    # fully masked soft tokens are as if there were none
    torch.testing.assert_close(all_masked, plain, rtol=1e-5, atol=1e-5)


def test_zero_gate_cross_attention_leaves_logits_bit_identical(decoder, specs):
    from vqa_pipeline.adapters import SoftTokenBridge
    from vqa_pipeline.adapters.batch import check_features, collate

    torch.manual_seed(0)
    bridge = SoftTokenBridge(specs, decoder.d_model, kind="xattn", k=4, xattn_layers=[0, 1])
    batch = collate(specs, [check_features(specs, feature_row(np.random.default_rng(2)))])
    empty, none = torch.zeros(1, 0, decoder.d_model), torch.zeros(1, 0, dtype=torch.bool)
    with torch.no_grad():
        plain = decoder.next_token_logits(empty, none, _prompt(decoder))
        with bridge.conditioned(decoder.layers, batch) as (soft, mask):
            assert soft.shape == (1, 0, decoder.d_model)
            gated = decoder.next_token_logits(soft, mask, _prompt(decoder))
        assert torch.equal(gated, plain)
        # open the gates: now the memory does reach the logits
        for blk in bridge.xattn.blocks:
            blk.attn_gate.fill_(1.0)
        with bridge.conditioned(decoder.layers, batch) as (soft, mask):
            opened = decoder.next_token_logits(soft, mask, _prompt(decoder))
        after = decoder.next_token_logits(empty, none, _prompt(decoder))
    assert (opened - plain).abs().max() > 1e-4
    assert torch.equal(after, plain)  # the hooks are gone after the block


def test_batched_left_padding_matches_single_rows(decoder):
    """Rows of different lengths in one batch get the logits they get alone."""
    torch.manual_seed(0)
    prompts = [decoder.tokenize("question : what sound is heard ? answer :"), decoder.tokenize("answer :")]
    soft = torch.randn(2, 4, decoder.d_model) * decoder.embed_rms
    mask = torch.tensor([[True] * 4, [True, True, False, False]])
    with torch.no_grad():
        both = decoder.next_token_logits(soft, mask, prompts)
        for i in range(2):
            alone = decoder.next_token_logits(soft[i:i + 1], mask[i:i + 1], prompts[i:i + 1])
            torch.testing.assert_close(both[i], alone[0], rtol=1e-4, atol=1e-4)
