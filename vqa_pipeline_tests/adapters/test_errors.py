"""Bad input: one-line AdapterErrors that name what is wrong, and nothing overwritten."""

from __future__ import annotations

import numpy as np
import pytest

from vqa_pipeline_tests.adapters.conftest import feature_row

torch = pytest.importorskip("torch")

PROMPT = "question : what sound is heard ? answer :"


def _examples(n: int = 2):
    from vqa_pipeline.adapters import Example

    rng = np.random.default_rng(0)
    return [Example(feature_row(rng), PROMPT, "dog") for _ in range(n)]


def _one_line(err: pytest.ExceptionInfo) -> str:
    msg = str(err.value)
    assert msg and "\n" not in msg and "Traceback" not in msg
    return msg


@pytest.fixture
def trained(decoder, specs, tmp_path):
    """An output folder with a finished run (adapter + checkpoint), and the bytes of both files."""
    from vqa_pipeline.adapters import TrainConfig, train_adapter

    res = train_adapter(decoder, specs, _examples(), TrainConfig(steps=1), tmp_path / "run")
    files = {p: p.read_bytes() for p in (tmp_path / "run").iterdir()}
    assert {p.name for p in files} == {"adapter.safetensors", "checkpoint.pt"}
    return res, files


def _untouched(files):
    for p, data in files.items():
        assert p.read_bytes() == data, f"{p} was overwritten"
    assert {p for p in next(iter(files)).parent.iterdir()} == set(files)


def test_wrong_dimension_names_both(decoder, specs, trained):
    from vqa_pipeline.adapters import AdapterError, Example, TrainConfig, train_adapter

    res, files = trained
    bad = _examples() + [Example({"sound_tags": np.zeros(13, np.float32), "frames": None}, PROMPT, "dog")]
    with pytest.raises(AdapterError) as err:
        train_adapter(decoder, specs, bad, TrainConfig(steps=2), res.adapter_path.parent)
    msg = _one_line(err)
    assert "sound_tags" in msg and "13" in msg and "12" in msg and "yamnet-w8a8" in msg and "example 2" in msg
    _untouched(files)


def test_another_model_tag_names_both(decoder, specs, trained):
    from vqa_pipeline.adapters import AdapterError, FeatureSpec, answer_with_adapter, load_adapter

    res, _ = trained
    bridge, _, _ = load_adapter(res.adapter_path)
    other = [FeatureSpec("sound_tags", "yamnet-v2", 12, False), specs[1]]
    row = feature_row(np.random.default_rng(0))
    with pytest.raises(AdapterError) as err:
        answer_with_adapter(decoder, bridge, other, row, PROMPT)
    msg = _one_line(err)
    assert "yamnet-v2" in msg and "yamnet-w8a8" in msg
    with pytest.raises(AdapterError) as err:
        answer_with_adapter(decoder, bridge, specs, dict(row, frames=np.zeros((3, 7), np.float32)), PROMPT)
    assert "frames" in _one_line(err) and "7" in str(err.value) and "6" in str(err.value)


@pytest.mark.parametrize("value", [float("nan"), float("inf")])
def test_nan_or_inf_features(decoder, specs, trained, value):
    from vqa_pipeline.adapters import AdapterError, Example, TrainConfig, train_adapter

    res, files = trained
    row = feature_row(np.random.default_rng(0))
    row["frames"][1, 2] = value
    with pytest.raises(AdapterError) as err:
        train_adapter(decoder, specs, [*_examples(), Example(row, PROMPT, "dog")], TrainConfig(steps=2),
                      res.adapter_path.parent)
    assert "frames" in _one_line(err) and "NaN or inf" in str(err.value)
    _untouched(files)


def test_empty_training_set(decoder, specs, tmp_path):
    from vqa_pipeline.adapters import AdapterError, TrainConfig, train_adapter

    with pytest.raises(AdapterError) as err:
        train_adapter(decoder, specs, [], TrainConfig(steps=2), tmp_path / "out")
    assert "empty" in _one_line(err)
    assert not (tmp_path / "out").exists()


def test_corrupt_adapter_file(trained):
    from vqa_pipeline.adapters import AdapterError, load_adapter

    res, _ = trained
    path = res.adapter_path
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(AdapterError) as err:
        load_adapter(path)
    assert str(path) in _one_line(err)
    path.write_bytes(b"\x00" * 64)
    with pytest.raises(AdapterError) as err:
        load_adapter(path)
    assert str(path) in _one_line(err)
    assert path.read_bytes() == b"\x00" * 64


def test_corrupt_training_checkpoint_is_left_alone(decoder, specs, trained):
    from vqa_pipeline.adapters import AdapterError, TrainConfig, train_adapter

    res, files = trained
    ckpt = res.adapter_path.parent / "checkpoint.pt"
    ckpt.write_bytes(files[ckpt][:100])
    files[ckpt] = ckpt.read_bytes()
    with pytest.raises(AdapterError) as err:
        train_adapter(decoder, specs, _examples(), TrainConfig(steps=3), res.adapter_path.parent)
    assert str(ckpt) in _one_line(err) and "corrupt" in str(err.value)
    _untouched(files)


def test_checkpoint_of_another_run_is_not_resumed(decoder, specs, trained):
    from vqa_pipeline.adapters import AdapterError, TrainConfig, train_adapter

    res, files = trained
    with pytest.raises(AdapterError) as err:
        train_adapter(decoder, specs, _examples(), TrainConfig(steps=3, lr=0.5), res.adapter_path.parent)
    assert "another training run" in _one_line(err)
    _untouched(files)


def test_adapter_for_another_decoder_width(specs, tmp_path, trained):
    from vqa_pipeline.adapters import AdapterError, answer_with_adapter, load_adapter, load_decoder
    from vqa_pipeline_tests.adapters.conftest import build_tiny_decoder

    res, _ = trained
    wide = tmp_path / "wide"
    build_tiny_decoder(wide, hidden=96)
    bridge, got_specs, _ = load_adapter(res.adapter_path)
    with pytest.raises(AdapterError) as err:
        answer_with_adapter(load_decoder(str(wide), "cpu"), bridge, got_specs, feature_row(np.random.default_rng(0)), PROMPT)
    assert "d_model 64" in _one_line(err) and "d_model 96" in str(err.value)


def test_decoder_folder_errors(tmp_path):
    from vqa_pipeline.adapters import AdapterError, load_decoder

    with pytest.raises(AdapterError) as err:
        load_decoder(str(tmp_path), "cpu")
    assert str(tmp_path) in _one_line(err)
    (tmp_path / "config.json").write_text("{not json")
    with pytest.raises(AdapterError) as err:
        load_decoder(str(tmp_path), "cpu")
    assert str(tmp_path) in _one_line(err)
