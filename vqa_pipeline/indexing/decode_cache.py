"""A disk cache of decoded media, so separate steps (Dagster assets) decode a file only once.

Entries are keyed by video id and windowing tag; they hold JPEG keyframes, tiny thumbs and
16 kHz audio (about 2 MB per media minute).
"""

from __future__ import annotations

import os
import pickle
from pathlib import Path

from vqa_pipeline.media.types import DecodedMedia, WindowingOptions

FORMAT_VERSION = 3  # 2: DecodedMedia gained segment fields (audio_offset, segment, core); 3: shot_frames


def _path(cache_dir: Path, video_id: str, options: WindowingOptions) -> Path:
    return Path(cache_dir) / f"{video_id}-{options.tag}.pkl"


def save(cache_dir: Path, media: DecodedMedia) -> Path:
    path = _path(cache_dir, media.video_id, media.options)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    with open(tmp, "wb") as f:
        pickle.dump((FORMAT_VERSION, media), f, protocol=pickle.HIGHEST_PROTOCOL)
    os.replace(tmp, path)  # atomic: readers never see half a file
    return path


def load(cache_dir: Path, video_id: str, options: WindowingOptions) -> DecodedMedia | None:
    """The cached media, or ``None`` when missing or unreadable (the caller decodes again)."""
    path = _path(cache_dir, video_id, options)
    try:
        with open(path, "rb") as f:
            version, media = pickle.load(f)
    except (OSError, EOFError, pickle.UnpicklingError, ValueError, AttributeError):
        return None
    return media if version == FORMAT_VERSION and isinstance(media, DecodedMedia) else None

