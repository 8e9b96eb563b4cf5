"""Registry of extractors and profiles.

Entries are ``"module:Class"`` strings so that listing extractors never imports a model library.
"""

from __future__ import annotations

import importlib

from vqa_pipeline.extractors.base import Extractor

_EXTRACTORS: dict[str, str] = {
    "whisper-base": "vqa_pipeline.extractors.asr:WhisperBase",
    "whisper-tiny-en": "vqa_pipeline.extractors.asr:WhisperTinyEn",
    "rapidocr": "vqa_pipeline.extractors.ocr:RapidOcr",
    "yamnet": "vqa_pipeline.extractors.sound_tags:Yamnet",
    "visual-stats": "vqa_pipeline.extractors.visual:VisualStats",
    "e5-small": "vqa_pipeline.extractors.text_embed:E5Small",
    # full profile: weights from the user's Hugging Face cache or local folders (extractors/full/)
    "whisper-large-v3": "vqa_pipeline.extractors.full.asr_large:WhisperLarge",
    "paddleocr": "vqa_pipeline.extractors.full.paddle_ocr:PaddleOcr",
    "clip-vit-b32": "vqa_pipeline.extractors.full.clip:OpenClip",
    "clap-htsat": "vqa_pipeline.extractors.full.clap:LaionClap",
    "videoprism-lvt": "vqa_pipeline.extractors.full.videoprism:VideoPrismLvt",
    "videoprism-tags": "vqa_pipeline.extractors.full.videoprism:VideoPrismTags",
}

# A profile lists one entry per column group; a tuple lists that group's alternatives in order of
# preference: the first one whose availability() holds runs (resolve_extractors), so the full
# profile falls back to the lite models where the seed's weights are not present.
PROFILES: dict[str, tuple[str | tuple[str, ...], ...]] = {
    "lite": ("whisper-base", "rapidocr", "yamnet", "visual-stats", "e5-small"),
    "full": (
        ("whisper-large-v3", "whisper-base"),
        ("paddleocr", "rapidocr"),
        "yamnet",
        "visual-stats",
        "clip-vit-b32",
        "clap-htsat",
        "videoprism-lvt",
        "videoprism-tags",
        "e5-small",
    ),
}


def list_extractors() -> list[str]:
    return sorted(_EXTRACTORS)


def get_extractor_class(name: str) -> type[Extractor]:
    try:
        target = _EXTRACTORS[name]
    except KeyError:
        raise KeyError(f"unknown extractor {name!r}; known: {', '.join(list_extractors())}") from None
    module, _, cls = target.partition(":")
    return getattr(importlib.import_module(module), cls)


def create_extractor(name: str, **options) -> Extractor:
    return get_extractor_class(name)(**options)


def profile_alternatives(profile: str) -> tuple[tuple[str, ...], ...]:
    """One tuple per column group of ``profile``: its extractors in order of preference."""
    try:
        entries = PROFILES[profile]
    except KeyError:
        raise KeyError(f"unknown profile {profile!r}; known: {', '.join(sorted(PROFILES))}") from None
    return tuple((e,) if isinstance(e, str) else tuple(e) for e in entries)


def profile_names(profile: str) -> tuple[str, ...]:
    """The preferred extractor of each column group of ``profile`` (see ``profile_alternatives``)."""
    return tuple(alts[0] for alts in profile_alternatives(profile))
