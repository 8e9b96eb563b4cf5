"""Names shared by the Dagster definitions."""

INDEXING_GROUP = "indexing"
EXTRACTION_GROUP = "extraction"
PARTITION_NAME = "videos"
PATHS_TAG = "vqa/paths"
# The file name(s) of a run's video, shown in the runs list beside the partition's content hash.
FILE_TAG = "vqa/file"
VIDEOS_ASSET = "videos"
WINDOWS_ASSET = "windows"

# Column group -> asset name, for the extractor assets (other groups keep their own name).
GROUP_ASSETS = {
    "asr": "asr",
    "ocr": "ocr",
    "audio": "audio_events",
    "visual": "visual",
    "text": "text_embeddings",
    "units": "evidence_units",
    "thumb": "thumbnails",
}
