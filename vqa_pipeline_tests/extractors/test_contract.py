"""Every registered extractor follows the protocol and writes Arrow-typed columns."""

from __future__ import annotations

import pyarrow as pa
import pytest

from vqa_pipeline.extractors.base import Extractor, ExtractorOutput
from vqa_pipeline.extractors.registry import create_extractor, list_extractors, profile_names

EXPECTED = {
    "whisper-base": ("asr", "asr", "audio", "faster-whisper-base-int8"),
    "whisper-tiny-en": ("asr", "asr", "audio", None),
    "rapidocr": ("ocr", "ocr", "video", "rapidocr-ppocrv6"),
    "yamnet": ("audio", "audio", "audio", "yamnet-w8a8"),
    "visual-stats": ("visual", "visual", "video", "visual-stats"),
    "thumbnails": ("thumb", "thumb", "video", "jpeg-thumb-160q70"),
    "e5-small": ("text", None, "text", "multilingual-e5-small-q4"),
    "evidence-units": ("units", "units", "text", "units-sentences-blocks"),
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_class_attributes(name):
    ex = create_extractor(name)
    assert isinstance(ex, Extractor) and ex.name == name
    group, kind, modality, model_id = EXPECTED[name]
    assert ex.group == group and ex.modality == modality
    if kind:
        assert ex.kind == kind
    if model_id:
        assert ex.model_id == model_id
    assert ex.availability() == (True, "ok")
    for f in ex.fields():
        assert isinstance(f, pa.Field) and f.nullable
    assert set(list_extractors()) >= set(EXPECTED)
    assert create_extractor("e5-small").requires == ("asr", "ocr", "audio", "visual", "objects", "people", "vp_tags",
                                                     "units")


def _check(ex, media, out: ExtractorOutput):
    n = len(media.windows)
    assert len(out.lines) == n
    names = [f.name for f in ex.fields()]
    assert sorted(out.columns) == sorted(names)
    for f in ex.fields():
        values = out.columns[f.name]
        assert len(values) == n
        pa.array(values, type=f.type)  # the store can write them as declared
    for win, lines in zip(media.windows, out.lines):
        for ln in lines:
            assert ln.start_s < win.end_s and ln.end_s > win.start_s  # the line overlaps its window
            assert ln.text.strip()


@pytest.mark.parametrize("fixture", ["tiny_media", "tiny_loud_media", "blank_media", "no_audio_media", "audio_only_media"])
def test_every_lite_extractor_survives_edge_media(fixture, request):
    media = request.getfixturevalue(fixture)
    upstream = {}
    for name in profile_names("lite"):
        ex = create_extractor(name)
        out = ex.extract(media, upstream)
        _check(ex, media, out)
        upstream[ex.group] = out


def test_columns_of_the_main_fixture_are_arrow_typed(lite_outputs, media):
    for name in ("whisper-base", "rapidocr", "yamnet", "visual-stats"):
        ex = create_extractor(name)
        _check(ex, media, lite_outputs[ex.group])
    ex = create_extractor("e5-small")
    _check(ex, media, ex.extract(media, lite_outputs))
