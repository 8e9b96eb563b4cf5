"""Fixtures for the full-profile extractors: random-weight checkpoints, a Hugging Face cache, clips.

Checkpoints are built once per session with the libraries' own model classes (tiny configurations)
and saved the way users' downloads are laid out; every test loads them back through the project's
loaders. Tests that need a library skip when its extra is not installed, and fail under CI, which
installs the full profile (``vqa_pipeline_tests/needs.py``).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from vqa_pipeline.corpus import synth
from vqa_pipeline_tests.extractors.conftest import beep, make_media, noise_burst
from vqa_pipeline_tests.needs import full_profile_expected, missing, require_module


@pytest.fixture(autouse=True)
def _fresh_model_cache():
    """Loaded models are cached per process; start every test from an empty cache."""
    from vqa_pipeline.extractors.full.common import clear_cache

    clear_cache()
    yield
    clear_cache()


@pytest.fixture
def empty_hf_cache(tmp_path, monkeypatch) -> Path:
    """An empty Hugging Face cache (``$HF_HUB_CACHE``), so the user's own cache is never read."""
    d = tmp_path / "hf-empty"
    d.mkdir()
    monkeypatch.setenv("HF_HUB_CACHE", str(d))
    for var in ("VQA_CLIP_CHECKPOINT", "VQA_CLIP_HF_REPO", "VQA_CLAP_CHECKPOINT", "VQA_CLAP_TEXT_ENCODER",
                "VQA_VIDEOPRISM_CHECKPOINT", "VQA_VIDEOPRISM_TOKENIZER", "VQA_WHISPER_MODEL_DIR",
                "VQA_PADDLEOCR_MODEL_DIR", "VQA_PADDLEOCR_DET_DIR", "VQA_PADDLEOCR_REC_DIR", "VQA_DEVICE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("PADDLE_PDX_CACHE_HOME", str(tmp_path / "paddlex-empty"))
    return d


def hf_cache_entry(cache: Path, repo_id: str, source: Path, revision: str = "0123abcd") -> Path:
    """Lay ``source`` (a folder or a file) out as ``repo_id``'s snapshot in a Hugging Face cache.

    Like ``huggingface_hub``: files live in ``blobs/`` and the snapshot holds symlinks to them.
    """
    root = cache / ("models--" + repo_id.replace("/", "--"))
    snap = root / "snapshots" / revision
    blobs = root / "blobs"
    snap.mkdir(parents=True, exist_ok=True)
    blobs.mkdir(exist_ok=True)
    files = [source] if source.is_file() else [p for p in source.iterdir() if p.is_file()]
    for i, f in enumerate(files):
        blob = blobs / f"blob{i}-{f.name}"
        shutil.copyfile(f, blob)
        (snap / f.name).symlink_to(blob)
    (root / "refs").mkdir(exist_ok=True)
    (root / "refs" / "main").write_text(revision)
    return snap


def scene_frame(t: float, width: int = 640, height: int = 360) -> Image.Image:
    """Blue for t < 2 s, then red with a white square that moves; yellow from 4 s."""
    color = (20, 60, 200) if t < 2.0 else (200, 30, 30) if t < 4.0 else (230, 210, 20)
    im = synth.solid_frame(color, size=(width, height))
    if t >= 2.0:
        x = int((t % 2.0) / 2.0 * (width - 100))
        synth.draw_shape(im, "square", (x + 50, 150), 50, (255, 255, 255))
    return im


@pytest.fixture(scope="session")
def clip_media():
    """6 s, three distinct 2 s windows, two keyframes per window, a beep / noise / silence track."""
    audio = synth.noise_floor(6.0, std=1e-4, seed=3).astype(np.float32)
    synth.mix_in(audio, beep(1.5), 0.2)
    synth.mix_in(audio, noise_burst(1.5), 2.3)
    return make_media(video_id="full-clip", duration_s=6.0, audio=audio, keyframe_every_s=1.0, frame=scene_frame)


@pytest.fixture(scope="session")
def ckpt_root(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("full-ckpts")


@pytest.fixture(scope="session")
def clip_ckpt(ckpt_root) -> Path:
    require_module("torch", full_profile=True)
    require_module("open_clip", full_profile=True)
    from vqa_pipeline.extractors.full.testing import build_clip_checkpoint

    return build_clip_checkpoint(ckpt_root / "clip-tiny", tiny=True)


@pytest.fixture(scope="session")
def clap_ckpt(ckpt_root) -> tuple[Path, Path]:
    """(checkpoint file, roberta text-encoder folder)."""
    for name in ("torch", "torchlibrosa", "transformers"):
        require_module(name, full_profile=True)
    from vqa_pipeline.extractors.models import module_available

    if not module_available("laion_clap"):
        missing("laion_clap is not installed (pip install --no-deps laion_clap==1.1.5)", required=full_profile_expected())
    from vqa_pipeline.extractors.full.testing import build_clap_checkpoint, build_roberta_dir

    text = build_roberta_dir(ckpt_root / "roberta-tiny")
    return build_clap_checkpoint(ckpt_root / "clap", text), text


@pytest.fixture(scope="session")
def vp_ckpt(ckpt_root) -> tuple[Path, Path]:
    """(VideoPrismClipModel folder without a tokenizer, SentencePiece model file)."""
    require_module("torch", full_profile=True)
    transformers = require_module("transformers", full_profile=True)
    require_module("sentencepiece", full_profile=True)
    if not hasattr(transformers, "VideoPrismClipModel"):
        missing(f"transformers {transformers.__version__} has no VideoPrism (needs >= 5.15)", required=full_profile_expected())
    from vqa_pipeline.extractors.full.testing import build_spm_model, build_videoprism_checkpoint

    return build_videoprism_checkpoint(ckpt_root / "vp-tiny"), build_spm_model(ckpt_root / "c4_en-tiny.model")


def cos(a, b) -> float:
    a, b = np.asarray(a, np.float32), np.asarray(b, np.float32)
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))
