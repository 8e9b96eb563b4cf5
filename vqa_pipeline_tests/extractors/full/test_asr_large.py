"""faster-whisper with a larger model from a local folder or the HF cache (+ optional WhisperX).

No large-v3 weights here: the bundled Whisper base CTranslate2 folder stands in for them, laid out
as a local folder and as ``Systran/faster-whisper-large-v3`` in a Hugging Face cache.
"""

from __future__ import annotations

import pytest

from vqa_pipeline.extractors import models
from vqa_pipeline.extractors.full.asr_large import WhisperLarge, locate_model
from vqa_pipeline.extractors.registry import create_extractor
from vqa_pipeline_tests.extractors.conftest import needs_espeak
from vqa_pipeline_tests.extractors.full.conftest import hf_cache_entry
from vqa_pipeline_tests.needs import missing

_ok, _why = models.whisper_base_available()
if not _ok:
    missing(f"bundled Whisper base is not installed: {_why}")


@pytest.fixture(scope="module")
def base_dir():
    return models.whisper_base_dir()


def test_not_available_without_weights(empty_hf_cache):
    ok, why = create_extractor("whisper-large-v3").availability()
    assert not ok and why.startswith("weights not found: set VQA_WHISPER_MODEL_DIR to a faster-whisper large-v3 folder")
    assert "Systran/faster-whisper-large-v3" in why


def test_local_folder_and_hf_cache(empty_hf_cache, base_dir, monkeypatch, tmp_path):
    ok, why = WhisperLarge(model_dir=str(base_dir)).availability()
    assert ok and why == f"weights: {base_dir} (from option model_dir)"
    snap = hf_cache_entry(empty_hf_cache, "Systran/faster-whisper-large-v3", base_dir)
    assert locate_model({}).path == snap
    ok, why = WhisperLarge().availability()
    assert ok and "HF cache Systran/faster-whisper-large-v3" in why
    monkeypatch.setenv("VQA_WHISPER_MODEL_DIR", str(tmp_path))
    ok, why = WhisperLarge().availability()
    assert not ok and "is not a CTranslate2 Whisper folder" in why


def test_model_tag_names_the_model():
    assert WhisperLarge().model_tag == "faster-whisper-large-v3@1"
    assert WhisperLarge(model="distil-large-v3").model_tag == "faster-whisper-distil-large-v3@1"
    assert WhisperLarge(align="1").model_tag.endswith("+whisperx@1")
    assert WhisperLarge().group == "asr" and WhisperLarge.num_gpus > 0


@needs_espeak
def test_same_evidence_as_the_lite_extractor_with_the_same_weights(base_dir, media):
    """The large-model path is the lite pipeline with another model folder and device."""
    big = WhisperLarge(model_dir=str(base_dir), device="cpu")
    lite = create_extractor("whisper-base")
    got, want = big.extract(media, {}), lite.extract(media, {})
    assert [[ln.text for ln in w] for w in got.lines] == [[ln.text for ln in w] for w in want.lines]
    assert got.columns["asr_words"] == want.columns["asr_words"]
    assert any("oven" in ln.text.lower() for w in got.lines for ln in w)


@needs_espeak
def test_whisperx_alignment_falls_back_when_it_cannot_import_and_the_tag_says_so(base_dir, media, store):
    from vqa_pipeline.indexing.extract import write_output

    ex = WhisperLarge(model_dir=str(base_dir), device="cpu", align="1")
    assert ex.model_tag.endswith("+whisperx@1")  # the configuration asks for it
    out = ex.extract(media, {})
    assert any(out.columns["asr_words"])  # faster-whisper's own word times are kept
    # ... and the provenance of these rows says what ran: no WhisperX here
    assert out.model_tag == ex.model_tag.replace("+whisperx", "") and "+whisperx" not in out.model_tag
    assert any(n.startswith("WhisperX alignment did not run") for n in out.notes)
    from vqa_pipeline.store.rows import window_rows

    store.replace_windows(media.video_id, window_rows(media, "/m/x.mp4", "h"))
    write_output(store, media, ex, out)
    rows = store.windows_for(media.video_id, columns=["asr_model"])
    assert {r["asr_model"] for r in rows} == {out.model_tag}


def test_silence_and_no_audio(base_dir, blank_media, no_audio_media):
    ex = WhisperLarge(model_dir=str(base_dir), device="cpu")
    assert ex.extract(no_audio_media, {}).notes == ["no audio track"]
    out = ex.extract(blank_media, {})
    assert all(not w for w in out.lines)
