import pyarrow as pa
import pytest

from vqa_pipeline.store import Store, StoreError


def rows(video_id, n, source="/x.mp4"):
    return pa.table(
        {
            "window_id": [f"{video_id}-{i:05d}" for i in range(n)],
            "video_id": [video_id] * n,
            "source": [source] * n,
            "window_index": pa.array(range(n), pa.int32()),
            "start_s": [2.0 * i for i in range(n)],
            "end_s": [2.0 * i + 2 for i in range(n)],
        }
    )


def test_replace_windows_is_idempotent_and_replaces_old_rows(store):
    store.replace_windows("aaaa", rows("aaaa", 5))
    store.replace_windows("aaaa", rows("aaaa", 5))
    assert store.count_windows("aaaa") == 5
    store.replace_windows("bbbb", rows("bbbb", 2))
    # Re-windowing a video to fewer windows drops its extra rows and leaves other videos alone.
    store.replace_windows("aaaa", rows("aaaa", 3))
    assert store.count_windows("aaaa") == 3 and store.count_windows("bbbb") == 2
    assert [r["start_s"] for r in store.windows_for("aaaa")] == [0.0, 2.0, 4.0]


def test_group_columns_are_added_and_written_without_touching_others(store):
    store.replace_windows("aaaa", rows("aaaa", 2))
    store.ensure_group_columns("asr", [pa.field("asr_language", pa.string())])
    ids = ["aaaa-00000", "aaaa-00001"]
    store.write_group("aaaa", "asr", {
        "asr_lines": [[{"start_s": 0.0, "end_s": 2.0, "text": "hello there"}], None],
        "asr_model": ["whisper@1", "whisper@1"],
        "asr_language": ["en", "en"],
    }, ids)
    store.refresh_evidence_text("aaaa")
    got = store.windows_for("aaaa")
    assert got[0]["asr_lines"][0]["text"] == "hello there" and got[1]["asr_lines"] is None
    assert got[0]["evidence_text"] == "hello there" and got[1]["evidence_text"] is None
    assert got[0]["source"] == "/x.mp4" and got[0]["asr_model"] == "whisper@1"


def test_extraction_records_round_trip(store):
    store.record_extraction("aaaa", "asr", "whisper-base", "m@1", "", "failed", "boom", 1.5)
    store.record_extraction("aaaa", "asr", "whisper-base", "m@1", "", "ok", "", 1.0, 3)
    recs = store.extraction_records("aaaa")
    assert list(recs) == [("aaaa", "asr")] and recs[("aaaa", "asr")].status == "ok"


def test_ids_with_quotes_never_reach_a_filter(store):
    with pytest.raises(ValueError):
        store.windows_for("x' OR 1=1 --")


def test_opening_a_missing_index_read_only_fails_clearly(tmp_path):
    with pytest.raises(StoreError, match="no index at"):
        Store(tmp_path / "nothing", create=False)


def test_older_schema_gains_new_columns(db_dir):
    import lancedb

    db = lancedb.connect(str(db_dir))
    db.create_table("videos", schema=pa.schema([pa.field("video_id", pa.string(), nullable=False)]))
    store = Store(db_dir)
    store.upsert_video({"video_id": "aaaa", "status": "indexed"})
    assert store.get_video("aaaa")["status"] == "indexed"
