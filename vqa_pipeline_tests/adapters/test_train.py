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


def test_batched_answers_match_one_by_one(decoder, specs, tmp_path):
    from vqa_pipeline.adapters import TrainConfig, answer_with_adapter, answers_with_adapter, train_adapter

    examples = _examples()
    res = train_adapter(decoder, specs, examples, TrainConfig(steps=20, lr=1e-2, k_tokens=4), tmp_path)
    # prompts of different lengths: rows are left-padded differently within a batch
    prompts = [PROMPT, "answer :", PROMPT, "what sound ? answer :"]
    feats = [ex.features for ex in examples]
    one_by_one = [answer_with_adapter(decoder, res.bridge, specs, f, p) for f, p in zip(feats, prompts)]
    assert answers_with_adapter(decoder, res.bridge, specs, feats, prompts, batch_size=3) == one_by_one
    assert all(one_by_one)


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


def test_balanced_batches_draw_evenly_over_kind_then_answer():
    from collections import Counter

    from vqa_pipeline.adapters.train import balanced_sampler

    groups = [("sound", "none")] * 18 + [("sound", "beep")] * 2 + [("scene", "no")] * 55 + [("scene", "yes")] * 13
    draws = balanced_sampler(groups, torch.Generator().manual_seed(0))(4000)
    seen = Counter(groups[i] for i in draws)
    assert set(seen) == set(groups)
    # uniform over the two kinds, then over each kind's answers: about 1,000 each, not 18:2:55:13
    assert all(850 < n < 1150 for n in seen.values()), seen
    again = balanced_sampler(groups, torch.Generator().manual_seed(0))(4000)
    assert again == draws  # seeded


def test_cosine_schedule_and_time_limit(decoder, specs, tmp_path):
    from vqa_pipeline.adapters import TrainConfig, load_adapter, train_adapter
    from vqa_pipeline.adapters.train import lr_at

    cfg = TrainConfig(steps=100, lr=1e-3, schedule="cosine", warmup=0.1)
    lrs = [lr_at(cfg, s) for s in range(100)]
    assert lrs[0] == pytest.approx(1e-4) and lrs[9] == pytest.approx(1e-3)  # warm-up, 10 steps
    assert all(a >= b for a, b in zip(lrs[9:], lrs[10:])) and lrs[-1] == pytest.approx(1e-4, rel=0.01)
    assert lr_at(TrainConfig(lr=1e-3), 57) == 1e-3
    # under a time limit the run's share done drives warm-up and decay, whatever --steps says
    long = TrainConfig(steps=100_000, lr=1e-3, schedule="cosine", warmup=0.05)
    assert lr_at(long, 10, 0.025) == pytest.approx(0.5e-3)  # half-way through the warm-up
    assert lr_at(long, 300, 0.05) == pytest.approx(1e-3)  # warm-up over at 5 % of the time
    assert lr_at(long, 600, 1.0) == pytest.approx(1e-4)  # the end of the time: a tenth
    # a time limit ends the run early, with the steps done saved as a usable adapter
    res = train_adapter(decoder, specs, _examples(), TrainConfig(steps=10_000, max_seconds=0.5, balance=True,
                                                                 schedule="cosine"), tmp_path)
    assert 1 <= res.steps < 10_000 and len(res.losses) == res.steps
    assert load_adapter(res.adapter_path)[2]["steps"] == res.steps
    assert torch.load(str(tmp_path / "checkpoint.pt"), weights_only=False)["step"] == res.steps
