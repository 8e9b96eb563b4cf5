"""Lance failures reach users as one line in our words (the messages are LanceDB 0.40's own)."""

from vqa_pipeline.store.errors import describe, is_lance_error, is_lost_file

LOST = RuntimeError(
    "lance error: Not found: /data/idx/windows.lance/data/0101ab.lance, "
    "/root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/lance-io-13.0.0/src/object_store.rs:1650:12"
)
CONFLICT = RuntimeError(
    "lance error: Retryable commit conflict for version 5: This Update transaction was preempted by "
    "concurrent transaction Update at version 5. Please retry., "
    "/root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/lance-13.0.0/src/io/commit.rs:1190:25"
)


def test_a_lost_file_names_the_table_the_file_and_the_way_out():
    assert is_lance_error(LOST) and is_lost_file(LOST)
    msg = describe(LOST, "/data/idx")
    assert msg.startswith("the 'windows' table in /data/idx cannot be read (file windows.lance/data/0101ab.lance is missing)")
    assert "vqa index --repair" in msg and ".cargo" not in msg and "\n" not in msg


def test_other_failures_keep_their_gist_without_build_paths():
    assert is_lance_error(CONFLICT) and not is_lost_file(CONFLICT)
    msg = describe(CONFLICT, "/data/idx", "windows")
    assert msg.startswith("the 'windows' table in /data/idx: Retryable commit conflict for version 5")
    assert ".rs:" not in msg and "lance error" not in msg


def test_our_own_errors_are_not_lance_errors():
    assert not is_lance_error(ValueError("the question is empty"))
    assert not is_lance_error(KeyError("windows.lance"))
