"""Thumbnails: one small JPEG per window, from its middle keyframe, in the ``thumb_jpeg`` column."""

from __future__ import annotations

import io

import numpy as np
import pyarrow as pa
from PIL import Image

from vqa_pipeline.extractors.registry import PROFILES, create_extractor
from vqa_pipeline.extractors.thumbnails import THUMB_COLUMN, make_thumbnail
from vqa_pipeline.media.types import DecodedMedia, Keyframe, MediaInfo, WindowingOptions
from vqa_pipeline_tests.extractors.conftest import make_windows


def _jpeg(rgb: tuple[int, int, int], size=(640, 360)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, rgb).save(out, format="JPEG", quality=92)
    return out.getvalue()


def _decode(data: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(data)) as im:
        assert im.format == "JPEG"
        return np.asarray(im.convert("RGB"))


def test_each_window_gets_its_middle_keyframe_small_and_in_its_colour():
    colours = [(200, 20, 20), (20, 200, 20), (20, 20, 200)]
    windows = make_windows("v1", 6.0)
    # three keyframes per window; only the middle one has the window's colour
    keyframes = []
    for w, colour in zip(windows, colours):
        for j, t in enumerate((w.start_s + 0.1, w.mid_s, w.end_s - 0.1)):
            keyframes.append(Keyframe(t, w.index, _jpeg(colour if j == 1 else (128, 128, 128)), 640, 360))
    media = DecodedMedia("v1", MediaInfo(6.0, True, False, 640, 360, 10.0), WindowingOptions(), windows, keyframes)
    ex = create_extractor("thumbnails")
    out = ex.extract(media, {})
    assert out.lines == [[], [], []]  # pictures are no evidence
    thumbs = out.columns[THUMB_COLUMN]
    pa.array(thumbs, type=ex.fields()[0].type)
    for data, colour in zip(thumbs, colours):
        assert 300 < len(data) < 8000
        rgb = _decode(data)
        assert rgb.shape == (90, 160, 3)
        assert np.abs(rgb.reshape(-1, 3).mean(axis=0) - colour).max() < 12
    assert out.stats["thumbnails"] == 3


def test_audio_only_files_get_none_with_a_note(audio_only_media):
    out = create_extractor("thumbnails").extract(audio_only_media, {})
    assert out.columns[THUMB_COLUMN] == [None] * len(audio_only_media.windows)
    assert out.notes == ["no video track"]


def test_never_enlarged_and_aspect_kept():
    rgb = _decode(make_thumbnail(_jpeg((10, 10, 10), size=(120, 200))))
    assert rgb.shape == (200, 120, 3)
    rgb = _decode(make_thumbnail(_jpeg((250, 250, 0), size=(1280, 720)), width=160))
    assert rgb.shape == (90, 160, 3) and rgb[..., 2].mean() < 30


def test_in_both_profiles():
    for profile in ("lite", "full"):
        assert "thumbnails" in PROFILES[profile]


def test_the_tag_names_the_width_and_quality():
    """Other thumbnail settings make the stored column stale, so the tag must change with them."""
    assert create_extractor("thumbnails").model_tag == "jpeg-thumb-160q70@1"
    assert create_extractor("thumbnails", width=320, quality=85).model_tag == "jpeg-thumb-320q85@1"
