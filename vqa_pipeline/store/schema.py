"""Arrow schemas of the LanceDB tables."""

from __future__ import annotations

import pyarrow as pa

LINE_TYPE = pa.struct([("start_s", pa.float64()), ("end_s", pa.float64()), ("text", pa.string())])
LINES_TYPE = pa.list_(LINE_TYPE)

VIDEOS_SCHEMA = pa.schema(
    [
        pa.field("video_id", pa.string(), nullable=False),
        pa.field("content_hash", pa.string()),
        pa.field("source", pa.string()),
        pa.field("sources", pa.list_(pa.string())),
        pa.field("duration_s", pa.float64()),
        pa.field("has_video", pa.bool_()),
        pa.field("has_audio", pa.bool_()),
        pa.field("width", pa.int32()),
        pa.field("height", pa.int32()),
        pa.field("fps", pa.float64()),
        pa.field("rotation_deg", pa.int32()),
        pa.field("n_windows", pa.int32()),
        pa.field("windowing", pa.string()),
        pa.field("status", pa.string()),
        pa.field("error", pa.string()),
        pa.field("decode_s", pa.float64()),
        pa.field("size_bytes", pa.int64()),
        pa.field("indexed_at", pa.string()),
    ]
)

FILES_SCHEMA = pa.schema(
    [
        pa.field("path", pa.string(), nullable=False),
        pa.field("size_bytes", pa.int64()),
        pa.field("mtime_ns", pa.int64()),
        pa.field("video_id", pa.string()),
        pa.field("status", pa.string()),
        pa.field("error", pa.string()),
        pa.field("seen_at", pa.string()),
    ]
)

EXTRACTIONS_SCHEMA = pa.schema(
    [
        pa.field("key", pa.string(), nullable=False),
        pa.field("video_id", pa.string()),
        pa.field("group", pa.string()),
        pa.field("extractor", pa.string()),
        pa.field("model_tag", pa.string()),
        pa.field("input_tag", pa.string()),
        pa.field("status", pa.string()),
        pa.field("error", pa.string()),
        pa.field("seconds", pa.float64()),
        pa.field("n_lines", pa.int32()),
        pa.field("stats_json", pa.string()),
        pa.field("updated_at", pa.string()),
    ]
)

# The windows table: these base columns, then per-model column groups added as extractors appear.
WINDOW_BASE_FIELDS = [
    pa.field("window_id", pa.string(), nullable=False),
    pa.field("video_id", pa.string()),
    pa.field("source", pa.string()),
    pa.field("content_hash", pa.string()),
    pa.field("window_index", pa.int32()),
    pa.field("start_s", pa.float64()),
    pa.field("end_s", pa.float64()),
    pa.field("keyframe_ts", pa.list_(pa.float64())),
    pa.field("windowing", pa.string()),
    # All evidence lines of the window joined, for full-text (BM25) search.
    pa.field("evidence_text", pa.string()),
]
WINDOWS_BASE_SCHEMA = pa.schema(WINDOW_BASE_FIELDS)

# Column groups whose lines are evidence (shown, packed for answers, in `evidence_text`), in
# display order, with the evidence kind their lines carry (VideoPrism concept tags and detected
# objects, faces and action tags are visual facts).
GROUP_KINDS = {"asr": "asr", "ocr": "ocr", "audio": "audio", "visual": "visual", "objects": "visual", "people": "visual",
               "vp_tags": "visual"}
EVIDENCE_GROUPS = tuple(GROUP_KINDS)

THUMB_COLUMN = "thumb_jpeg"
"""The ``windows`` column of each window's small JPEG (written by ``extractors.thumbnails``, read by
``store.search.fetch_thumbnails``); never evidence text."""


def group_fields(group: str, extra: list[pa.Field]) -> list[pa.Field]:
    """Columns of one model group: its lines, its model tag, and its extra columns."""
    return [pa.field(f"{group}_lines", LINES_TYPE), pa.field(f"{group}_model", pa.string()), *extra]


KEYS = {"videos": "video_id", "files": "path", "windows": "window_id", "extractions": "key"}
"""Each table's merge key: one row per key (``merge_insert`` on it)."""
