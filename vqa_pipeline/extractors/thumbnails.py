"""One small JPEG per window, for pages and ``vqa search --json`` to show without decoding the file.

The picture is the window's middle keyframe (the ones the indexer already decoded, held as JPEG
bytes), shrunk to ``width`` pixels wide (160 by default) and saved at ``quality`` 70: a few KB a
window. Pillow's JPEG draft mode decodes the keyframe at 1/2-1/8 scale directly, so a thumbnail
costs about a millisecond. Files without a picture (audio only) get ``None``.

It writes no evidence lines: the ``thumb_jpeg`` column is never part of evidence text, packs,
BM25 or ``vqa evidence``, and readers select it only when they show pictures.
"""

from __future__ import annotations

import io
import time
from collections.abc import Mapping

import pyarrow as pa

from vqa_pipeline.extractors.base import Extractor, ExtractorOutput
from vqa_pipeline.media.types import DecodedMedia, Keyframe
from vqa_pipeline.store.schema import THUMB_COLUMN


def make_thumbnail(jpeg: bytes, width: int = 160, quality: int = 70) -> bytes:
    """``jpeg`` (a keyframe) as a ``width``-pixel-wide JPEG (never enlarged), aspect kept."""
    from PIL import Image

    with Image.open(io.BytesIO(jpeg)) as im:
        # Decode at the smallest DCT scale that still covers the target size (much cheaper).
        im.draft("RGB", (width, max(1, round(width * im.height / max(im.width, 1)))))
        rgb = im.convert("RGB")
    if rgb.width > width:
        rgb = rgb.resize((width, max(1, round(rgb.height * width / rgb.width))), Image.Resampling.BILINEAR)
    out = io.BytesIO()
    rgb.save(out, format="JPEG", quality=quality, optimize=True)
    return out.getvalue()


def middle_keyframe(keyframes: list[Keyframe], window_index: int, mid_s: float) -> Keyframe | None:
    """The window's middle keyframe; without one of its own, the keyframe nearest its middle."""
    own = [k for k in keyframes if k.window_index == window_index]
    pool = own or keyframes
    return min(pool, key=lambda k: (abs(k.t_s - mid_s), k.t_s)) if pool else None


class Thumbnails(Extractor):
    """A small JPEG of every window's middle keyframe in ``thumb_jpeg``.

    Options: ``width`` (160 px), ``quality`` (70).
    """

    name = "thumbnails"
    group = "thumb"
    kind = "thumb"
    modality = "video"
    model_id = "jpeg-thumb-160q70"
    version = "1"

    def __init__(self, **options) -> None:
        super().__init__(**options)
        # Another size or quality makes the stored thumbnails stale: the tag names both.
        self.model_id = f"jpeg-thumb-{int(options.get('width', 160))}q{int(options.get('quality', 70))}"

    def fields(self) -> list[pa.Field]:
        return [pa.field(THUMB_COLUMN, pa.binary(), nullable=True)]

    def extract(self, media: DecodedMedia, upstream: Mapping[str, ExtractorOutput]) -> ExtractorOutput:
        n = len(media.windows)
        if not media.keyframes:
            note = "no video track" if not media.info.has_video else "no keyframes"
            out = ExtractorOutput.empty(n, [THUMB_COLUMN], note=note)
            out.stats = {"thumbnails": 0}
            return out
        width = int(self.options.get("width", 160))
        quality = int(self.options.get("quality", 70))
        t0 = time.perf_counter()
        thumbs: list[bytes | None] = []
        failures: list[str] = []
        for win in media.windows:
            kf = middle_keyframe(media.keyframes, win.index, win.mid_s)
            try:
                thumbs.append(make_thumbnail(kf.jpeg, width, quality) if kf is not None else None)
            except Exception as err:  # a corrupt keyframe costs its window the picture, not the file
                thumbs.append(None)
                failures.append(f"{win.start_s:.1f}s: {type(err).__name__}: {err}")
        dt = time.perf_counter() - t0
        made = [t for t in thumbs if t is not None]
        notes = [f"{len(failures)} thumbnail(s) could not be made; first at {failures[0]}"] if failures else []
        stats = {
            "thumbnails": len(made),
            "bytes_per_thumbnail": round(sum(map(len, made)) / max(len(made), 1), 1),
            "seconds": round(dt, 4),
        }
        return ExtractorOutput(lines=[[] for _ in range(n)], columns={THUMB_COLUMN: thumbs}, notes=notes, stats=stats)
