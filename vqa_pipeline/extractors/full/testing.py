"""Random-weight checkpoints of the full models, laid out the way users' downloads are.

For the tests (tiny configurations) and the GPU benchmark (the real architectures): each builder
creates the library's own model class with random weights and saves it in the layout the
extractors' loaders read (a ``save_pretrained`` folder, an open_clip Hugging Face folder, a
LAION-CLAP ``.pt``), plus the tokenizer files, trained on a few sentences (nothing is downloaded).
Weights are seeded, so a checkpoint built twice is identical.

Example:
    >>> d = build_clip_checkpoint(tmp / "clip", tiny=True)      # doctest: +SKIP
    >>> OpenClip(checkpoint=str(d)).load()                        # doctest: +SKIP
"""

from __future__ import annotations

import io
import json
from pathlib import Path

from vqa_pipeline.extractors.full.concepts import DEFAULT_LABELS, read_label_file

_WORDS = (
    "a video of people walking running dancing cooking in a kitchen on a street a dog catching a red frisbee "
    "the man talks to the crowd about the weather a train arrives at the station a car parks near the office "
    "music plays loudly while a bird sings and a phone rings a bell chimes the door opens and closes"
)


def _corpus() -> list[str]:
    labels = [lab.text for lab in read_label_file(DEFAULT_LABELS)]
    lines = [f"a video of {lab}." for lab in labels] + [_WORDS, _WORDS.upper()]
    return lines * 3


def build_spm_model(path: Path, vocab_size: int = 256) -> Path:
    """A SentencePiece unigram model with upstream VideoPrism's special ids (pad 0, eos 1, unk 2)."""
    import sentencepiece as spm

    buf = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(_corpus()), model_writer=buf, vocab_size=vocab_size, model_type="unigram",
        pad_id=0, eos_id=1, unk_id=2, bos_id=-1, character_coverage=1.0, hard_vocab_limit=False,
        minloglevel=2,
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(buf.getvalue())
    return path


def build_videoprism_checkpoint(dest: Path, tiny: bool = True, seed: int = 0, with_tokenizer: bool = False) -> Path:
    """A random ``VideoPrismClipModel`` saved with ``save_pretrained`` (LvT base shape unless ``tiny``).

    ``tiny``: 4 frames, width 64, one layer per stack, 288x288 input (16x16 patches) as the real one.
    ``with_tokenizer`` also writes ``spiece.model`` into the folder.
    """
    import torch
    from transformers import VideoPrismClipModel, VideoPrismConfig

    torch.manual_seed(seed)
    if tiny:
        vision = dict(hidden_size=64, num_attention_heads=2, intermediate_size=128, num_spatial_layers=1,
                      num_temporal_layers=1, num_auxiliary_layers=1, num_frames=4)
        text = dict(hidden_size=64, num_attention_heads=2, intermediate_size=128, num_hidden_layers=1, vocab_size=512)
    else:
        vision, text = {}, {"vocab_size": 32000}
    model = VideoPrismClipModel(VideoPrismConfig(vision_config=vision, text_config=text)).eval()
    dest.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(str(dest))
    if with_tokenizer:
        build_spm_model(dest / "spiece.model")
    return dest


def build_clip_checkpoint(dest: Path, tiny: bool = True, model: str = "ViT-B-32", seed: int = 0) -> Path:
    """A random open_clip model in the Hugging Face layout (``open_clip_config.json`` + safetensors)."""
    import open_clip
    import torch
    from safetensors.torch import save_file

    torch.manual_seed(seed)
    if tiny:
        model_cfg = {
            "embed_dim": 32,
            "vision_cfg": {"image_size": 224, "layers": 1, "width": 64, "patch_size": 32, "head_width": 32},
            "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 64, "heads": 2, "layers": 1},
        }
    else:
        model_cfg = open_clip.get_model_config(model)
    dest.mkdir(parents=True, exist_ok=True)
    cfg = {
        "model_cfg": model_cfg,
        "preprocess_cfg": {"mean": list(open_clip.OPENAI_DATASET_MEAN), "std": list(open_clip.OPENAI_DATASET_STD),
                           "interpolation": "bicubic", "resize_mode": "shortest"},
    }
    (dest / "open_clip_config.json").write_text(json.dumps(cfg, indent=2))
    net = open_clip.create_model(f"local-dir:{dest}", device="cpu")
    save_file({k: v.contiguous() for k, v in net.state_dict().items()}, str(dest / "open_clip_model.safetensors"))
    return dest


def build_roberta_dir(dest: Path, layers: int = 1, seed: int = 0) -> Path:
    """A ``roberta-base``-shaped text-encoder folder: config (hidden 768) and a small byte-level BPE tokenizer."""
    from tokenizers import ByteLevelBPETokenizer
    from transformers import RobertaConfig, RobertaTokenizerFast

    dest.mkdir(parents=True, exist_ok=True)
    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator(_corpus(), vocab_size=600, min_frequency=1,
                            special_tokens=["<s>", "<pad>", "</s>", "<unk>", "<mask>"], show_progress=False)
    bpe.save_model(str(dest))
    tok = RobertaTokenizerFast(vocab=str(dest / "vocab.json"), merges=str(dest / "merges.txt"))
    tok.save_pretrained(str(dest))
    RobertaConfig(
        vocab_size=len(tok), hidden_size=768, num_hidden_layers=layers, num_attention_heads=12,
        intermediate_size=3072 if layers > 1 else 256, max_position_embeddings=514, type_vocab_size=1,
        pad_token_id=1, bos_token_id=0, eos_token_id=2,
    ).save_pretrained(str(dest))
    return dest


def build_clap_checkpoint(dest: Path, text_dir: Path, amodel: str = "HTSAT-tiny", seed: int = 0,
                          name: str = "630k-audioset-best.pt") -> Path:
    """A random LAION-CLAP (``amodel`` + RoBERTa) saved as the released checkpoints are.

    The layout mimics ``630k-audioset-best.pt``: ``{"epoch", "state_dict"}`` with DDP ``module.``
    prefixes, including ``text_branch.embeddings.position_ids`` (newer transformers no longer has it).
    """
    import torch

    from vqa_pipeline.extractors.full.clap import _roberta_from, clap_module

    torch.manual_seed(seed)
    cm = clap_module()
    with _roberta_from(text_dir):
        model, _ = cm.create_model(amodel, "roberta", pretrained="", precision="fp32", device="cpu",
                                   enable_fusion=False)
    state = {f"module.{k}": v for k, v in model.state_dict().items()}
    n_pos = json.loads((text_dir / "config.json").read_text())["max_position_embeddings"]
    state["module.text_branch.embeddings.position_ids"] = torch.arange(n_pos)[None]
    dest.mkdir(parents=True, exist_ok=True)
    path = dest / name
    torch.save({"epoch": 45, "state_dict": state}, str(path))
    return path


def build_yolo_checkpoint(path: Path, seed: int = 0, arch: str = "yolov8n.yaml") -> Path:
    """A random-weight ultralytics YOLO detector of the real architecture (``yolov8n`` from the
    package's own model YAML; nothing downloaded), saved as a ``.pt`` weights file."""
    import os

    os.environ.setdefault("YOLO_OFFLINE", "1")
    import torch
    from ultralytics import YOLO

    from vqa_pipeline.models.nanodet import COCO80

    torch.manual_seed(seed)
    model = YOLO(arch, task="detect")
    model.model.names = dict(enumerate(COCO80))  # type: ignore[union-attr]  # as a real COCO checkpoint carries them
    path.parent.mkdir(parents=True, exist_ok=True)
    model.save(str(path))
    return path
