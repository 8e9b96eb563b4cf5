"""Registry of extractors and profiles.

Entries are ``"module:Class"`` strings so that listing extractors never imports a model library.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence

from vqa_pipeline.extractors.base import Extractor

_EXTRACTORS: dict[str, str] = {
    "whisper-base": "vqa_pipeline.extractors.asr:WhisperBase",
    "whisper-tiny-en": "vqa_pipeline.extractors.asr:WhisperTinyEn",
    "rapidocr": "vqa_pipeline.extractors.ocr:RapidOcr",
    "yamnet": "vqa_pipeline.extractors.sound_tags:Yamnet",
    "visual-stats": "vqa_pipeline.extractors.visual:VisualStats",
    "nanodet": "vqa_pipeline.extractors.objects:Objects",
    "thumbnails": "vqa_pipeline.extractors.thumbnails:Thumbnails",
    "people": "vqa_pipeline.extractors.people:People",
    "e5-small": "vqa_pipeline.extractors.text_embed:E5Small",
    "evidence-units": "vqa_pipeline.extractors.units:EvidenceUnits",
    # full profile: weights from the user's Hugging Face cache or local folders (extractors/full/)
    "whisper-large-v3": "vqa_pipeline.extractors.full.asr_large:WhisperLarge",
    "paddleocr": "vqa_pipeline.extractors.full.paddle_ocr:PaddleOcr",
    "clip-vit-b32": "vqa_pipeline.extractors.full.clip:OpenClip",
    "clap-htsat": "vqa_pipeline.extractors.full.clap:LaionClap",
    "videoprism-lvt": "vqa_pipeline.extractors.full.videoprism:VideoPrismLvt",
    "videoprism-tags": "vqa_pipeline.extractors.full.videoprism:VideoPrismTags",
    "yolo": "vqa_pipeline.extractors.full.yolo:YoloObjects",
}

# A profile lists one entry per column group; a tuple lists that group's alternatives in order of
# preference: the first one whose availability() holds runs (resolve_extractors), so the full
# profile falls back to the lite models where the seed's weights are not present.
PROFILES: dict[str, tuple[str | tuple[str, ...], ...]] = {
    "lite": ("whisper-base", "rapidocr", "yamnet", "visual-stats", "thumbnails", "nanodet", "people", "e5-small",
             "evidence-units"),
    "full": (
        ("whisper-large-v3", "whisper-base"),
        ("paddleocr", "rapidocr"),
        "yamnet",
        "visual-stats",
        "thumbnails",
        ("yolo", "nanodet"),
        "people",
        "clip-vit-b32",
        "clap-htsat",
        "videoprism-lvt",
        "videoprism-tags",
        "e5-small",
        "evidence-units",
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


def query_column_owners() -> dict[str, str]:
    """``{vector column: registry name}`` of every column questions can search (``query_columns``).

    The column's model tags (``{group}_model``) say which checkpoint wrote it; the query side
    embeds questions with an instance of this extractor whose ``model_tag`` is that tag.
    """
    out: dict[str, str] = {}
    for name in list_extractors():
        try:
            cls = get_extractor_class(name)
        except ImportError:  # an optional family whose module cannot import here
            continue
        for column in cls.query_columns:
            out.setdefault(column, name)
    return out


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


def resolve_extractors(profile: str, names: Sequence[str] | None = None) -> tuple[list[Extractor], dict[str, str]]:
    """The extractors of a profile that can load here, and name -> reason for the others.

    Where the profile lists alternatives for a column group, the first available one is chosen and
    the preferred ones that are not available are reported with ``(using NAME instead)``.
    """
    chosen, missing = [], {}
    slots = [(n,) for n in names] if names is not None else profile_alternatives(profile)
    for slot in slots:
        skipped: dict[str, str] = {}
        picked = None
        for name in slot:
            try:
                ex = create_extractor(name)
                ok, why = ex.availability()
            except Exception as exc:  # an extractor whose module cannot even import
                ok, why = False, f"{type(exc).__name__}: {exc}"
            if ok:
                picked = ex
                break
            skipped[name] = why
        if picked is not None:
            chosen.append(picked)
        for name, why in skipped.items():
            missing[name] = why + (f" (using {picked.name} instead)" if picked is not None else "")
    return chosen, missing
