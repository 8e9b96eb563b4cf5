"""Duplicate keys left in a table (by two writers of an older version) are repaired, not fatal."""

import lancedb
import pyarrow as pa

from vqa_pipeline.store import Store
from vqa_pipeline.store.duplicates import drop_duplicate_keys, duplicate_keys

VID = "00000000000000ab"
IDS = [f"{VID}-{i:05d}" for i in range(4)]


def _store_with_duplicates(db) -> Store:
    store = Store(db)
    store.replace_windows(VID, pa.table({"window_id": IDS, "video_id": [VID] * 4, "window_index": [0, 1, 2, 3]}))
    store.write_group(VID, "", {"evidence_text": ["one", "two", "three", "four"]}, IDS)
    # The race's leftovers, written behind the store's back: two windows again, without their text.
    table = lancedb.connect(str(db)).open_table("windows")
    extra = table.to_arrow().filter(pa.compute.is_in(table.to_arrow().column("window_id"), pa.array(IDS[:2])))
    table.add(extra.set_column(extra.schema.get_field_index("evidence_text"), "evidence_text",
                               pa.nulls(2, pa.string())))
    return Store(db)


def test_the_most_complete_row_of_each_key_is_kept(tmp_path):
    store = _store_with_duplicates(tmp_path / "db")
    assert sorted(duplicate_keys(store.windows, "window_id")) == IDS[:2]
    assert drop_duplicate_keys(store.windows, "window_id") == 2
    rows = store.windows_for(VID, columns=["window_id", "evidence_text"])
    assert [(r["window_id"], r["evidence_text"]) for r in rows] == list(zip(IDS, ["one", "two", "three", "four"]))
    assert drop_duplicate_keys(store.windows, "window_id") == 0


def test_a_merge_fed_from_a_damaged_table_goes_through(tmp_path):
    store = _store_with_duplicates(tmp_path / "db")
    # Its rows are read back (both copies of a window) and merged: LanceDB refused such a batch
    # ("Ambiguous merge inserts are prohibited"), which stopped every later run.
    store.refresh_evidence_text(VID)
    store.write_group(VID, "", {"evidence_text": ["one", "dos", "tres", "cuatro", "uno"]}, IDS + IDS[:1])
    rows = store.windows_for(VID, columns=["window_id", "evidence_text"])
    assert {(r["window_id"], r["evidence_text"]) for r in rows} == set(zip(IDS, ["uno", "dos", "tres", "cuatro"]))
    assert store.repair_duplicates() == {"windows": 2}
    assert len(store.windows_for(VID)) == 4
