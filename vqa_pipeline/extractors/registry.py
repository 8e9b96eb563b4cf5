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
}

PROFILES: dict[str, tuple[str, ...]] = {
    "lite": ("whisper-base", "rapidocr", "yamnet", "visual-stats", "e5-small"),
    # The seed's models; filled by the full-profile work. Missing ones fall back to lite.
    "full": ("whisper-base", "rapidocr", "yamnet", "visual-stats", "e5-small"),
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


def profile_names(profile: str) -> tuple[str, ...]:
    try:
        return PROFILES[profile]
    except KeyError:
        raise KeyError(f"unknown profile {profile!r}; known: {', '.join(sorted(PROFILES))}") from None
