"""Video references: ids, paths, path suffixes and file-name stems (store/catalog.py)."""

import pytest

from vqa_pipeline.store.catalog import VideoRefError, file_stem, match_videos, resolve_video_id

CATALOG = {
    "aaaa": ["/data/drills/fire_drill.mp4"],
    "bbbb": ["/data/a/talk.mp4"],
    "cccc": ["/data/b/talk.mp4"],
    "dddd": ["/data/talk.mp4.d/talk.v2.mkv", "/other/copy.mkv"],
    "eeee": ["/data/fire_drill"],  # a file without an extension
}


def test_a_unique_stem_resolves_to_its_video():
    without_bare = {v: s for v, s in CATALOG.items() if v != "eeee"}
    assert resolve_video_id("fire_drill", without_bare) == "aaaa"
    assert resolve_video_id("talk.v2", CATALOG) == "dddd"
    assert resolve_video_id("copy", CATALOG) == "dddd"  # any of a video's files


def test_ids_paths_and_suffixes_come_before_stems():
    # "fire_drill" is the whole name of /data/fire_drill: the suffix rule picks it, not the stem rule
    assert match_videos("fire_drill", CATALOG) == ["eeee"]
    assert match_videos("aaaa", CATALOG) == ["aaaa"]
    assert match_videos("drills/fire_drill", CATALOG) == []  # a stem is a bare file name, no folders


def test_an_ambiguous_stem_lists_the_candidates():
    with pytest.raises(VideoRefError) as err:
        resolve_video_id("talk", CATALOG)
    msg = str(err.value)
    assert "\n" not in msg and "'talk' matches 2 videos" in msg
    assert "/data/a/talk.mp4" in msg and "/data/b/talk.mp4" in msg


def test_file_stem():
    assert file_stem("/x/fire_drill.mp4") == "fire_drill"
    assert file_stem("/x/archive.tar.gz") == "archive.tar"
    assert file_stem("/x/.hidden") == ".hidden"
    assert file_stem("C:\\v\\clip.MOV") == "clip"
