"""Training on a tiny random-weight Gemma 3: frozen LLM, overfitting, save/load, resume, LoRA."""

from __future__ import annotations

import numpy as np
import pytest

from vqa_pipeline_tests.adapters.conftest import feature_row

torch = pytest.importorskip("torch")

PROMPT = "question : what sound is heard ? answer :"
ANSWERS = ["dog bark", "siren", "bell", "music"]


def _examples(n: int = 4, seed: int = 0):
    from vqa_pipeline.adapters import Example

    rng = np.random.default_rng(seed)
    return [Example(feature_row(rng, frames=i % 2 == 0), PROMPT, ANSWERS[i % len(ANSWERS)]) for i in range(n)]


def test_only_adapter_and_lora_parameters_learn(decoder, specs, tmp_path):
    from vqa_pipeline.adapters import TrainConfig, train_adapter

    before = {n: p.detach().clone() for n, p in decoder.model.named_parameters()}
    res = train_adapter(decoder, specs, _examples(), TrainConfig(steps=2, lr=1e-2, lora_rank=2), tmp_path)
    # peft moves a wrapped layer's own weight to ``<layer>.base_layer.weight``
    own = {n.replace(".base_layer", ""): p for n, p in decoder.frozen_parameters()}
    assert set(own) == set(before)
    for n, p in own.items():
        assert not p.requires_grad, n
        assert p.grad is None, n
        assert torch.equal(p, before[n]), f"LLM weight {n} changed"
    lora = {n: p for n, p in decoder.model.named_parameters() if "lora_" in n}
    assert lora and all(p.requires_grad for p in lora.values())
    assert any(n.endswith("lora_B.default.weight") and p.abs().sum() > 0 for n, p in lora.items())
    assert all(p.grad is not None for p in res.bridge.parameters() if p.requires_grad)
    assert res.steps == 2 and len(res.losses) == 2 and res.steps_per_s > 0 and res.peak_rss_mb > 50


@pytest.mark.parametrize("kind", ["mlp", "resampler", "xattn"])
def test_overfits_four_examples(decoder, specs, tmp_path, kind):
    from vqa_pipeline.adapters import TrainConfig, answer_with_adapter, load_adapter, train_adapter

    examples = _examples()
    cfg = TrainConfig(steps=60, batch_size=4, lr=1e-2, kind=kind, k_tokens=4, checkpoint_every=100)
    seen: list[tuple[int, int, float]] = []
    res = train_adapter(decoder, specs, examples, cfg, tmp_path, progress=lambda s, t, loss: seen.append((s, t, loss)))
    assert [s for s, _, _ in seen] == list(range(1, 61)) and seen[-1][1] == 60
    assert res.losses[-1] < 0.05 < res.losses[0], res.losses[::10]
    bridge, loaded_specs, meta = load_adapter(res.adapter_path)
    assert meta["kind"] == kind and meta["decoder"] == {"name": decoder.name, "d_model": 64}
    answers = [answer_with_adapter(decoder, bridge, loaded_specs, ex.features, ex.prompt) for ex in examples]
    assert answers == [ex.answer for ex in examples]


def test_save_load_round_trip_gives_identical_soft_tokens(decoder, specs, tmp_path):
    from vqa_pipeline.adapters import TrainConfig, load_adapter, soft_tokens, train_adapter

    res = train_adapter(decoder, specs, _examples(), TrainConfig(steps=3, lr=1e-2, kind="resampler"), tmp_path)
    loaded, loaded_specs, meta = load_adapter(res.adapter_path)
    assert loaded_specs == specs
    assert meta["train_config"]["steps"] == 3 and meta["k"] == 8
    rows = [ex.features for ex in _examples(3, seed=7)]
    t1, m1 = soft_tokens(res.bridge, rows)
    t2, m2 = soft_tokens(loaded, rows)
    assert torch.equal(t1, t2) and torch.equal(m1, m2)
    assert not torch.equal(t1[0], t1[1])


def test_lora_adapter_answers_the_same_on_a_fresh_decoder(tiny_decoder_dir, specs, tmp_path):
    from vqa_pipeline.adapters import TrainConfig, answer_with_adapter, load_adapter, load_decoder, train_adapter

    trained_on = load_decoder(str(tiny_decoder_dir), device="cpu")
    examples = _examples()
    res = train_adapter(trained_on, specs, examples, TrainConfig(steps=40, lr=1e-2, lora_rank=4, k_tokens=4), tmp_path)
    fresh = load_decoder(str(tiny_decoder_dir), device="cpu")
    bridge, loaded_specs, meta = load_adapter(res.adapter_path)
    assert meta["lora_rank"] == 4 and bridge.lora_state
    want = [answer_with_adapter(trained_on, res.bridge, specs, ex.features, PROMPT) for ex in examples]
    got = [answer_with_adapter(fresh, bridge, loaded_specs, ex.features, PROMPT) for ex in examples]
    assert got == want


def test_checkpoint_resumes_at_the_same_step_with_the_same_next_loss(decoder, specs, tmp_path):
    from vqa_pipeline.adapters import TrainConfig, train_adapter

    examples = _examples(6)
    cfg = dict(batch_size=2, grad_accum=2, lr=5e-3, checkpoint_every=2, lora_rank=2, kind="xattn", k_tokens=2)
    straight = train_adapter(decoder, specs, examples, TrainConfig(steps=4, **cfg), tmp_path / "a")
    first = train_adapter(decoder, specs, examples, TrainConfig(steps=2, **cfg), tmp_path / "b")
    assert first.losses == straight.losses[:2]
    resumed = train_adapter(decoder, specs, examples, TrainConfig(steps=4, **cfg), tmp_path / "b")
    assert resumed.start_step == 2 and resumed.steps == 4
    assert resumed.losses[:2] == first.losses
    np.testing.assert_allclose(resumed.losses[2:], straight.losses[2:], rtol=1e-5)
    # a finished run asked again does nothing more
    again = train_adapter(decoder, specs, examples, TrainConfig(steps=4, **cfg), tmp_path / "b")
    assert again.start_step == 4 and again.losses == resumed.losses
