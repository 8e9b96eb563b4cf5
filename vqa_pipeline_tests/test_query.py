"""The thin query function: search/ask end to end on a real LanceDB table, and the JSON contracts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from vqa_pipeline.query import Answer, QueryError, SearchHit, ask, default_db, search, search_to_json
from vqa_pipeline.retrieval.fuse import FusionConfig
from vqa_pipeline_tests.needs import require_module


@pytest.fixture(scope="module")
def rows(sample_rows):
    return sample_rows


@pytest.fixture(scope="module")
def db(sample_db) -> Path:
    return sample_db


def _is_num(x) -> bool:
    return isinstance(x, float) and not isinstance(x, bool)


def test_search_json_matches_the_contract(db, sample):
    q = "how hot should the oven be?"
    hits = search(q, k=3, db=db)
    assert len(hits) == 3 and all(isinstance(h, SearchHit) for h in hits)
    out = json.loads(json.dumps(search_to_json(q, hits)))
    assert set(out) == {"question", "hits"} and out["question"] == q
    for h in out["hits"]:
        assert set(h) == {"video_id", "window_id", "source", "start", "end", "score", "scores", "evidence",
                          "thumbnail"}
        assert isinstance(h["window_id"], str) and h["window_id"]
        assert h["thumbnail"] is None  # not asked for (and the sample table has no pictures)
        assert isinstance(h["video_id"], str) and Path(h["source"]).is_absolute()
        assert _is_num(h["start"]) and _is_num(h["end"]) and _is_num(h["score"])
        assert isinstance(h["scores"], dict) and all(isinstance(k, str) and _is_num(v) for k, v in h["scores"].items())
        assert isinstance(h["evidence"], list) and all(isinstance(e, str) for e in h["evidence"])
    best = out["hits"][0]
    assert (best["video_id"], best["start"], best["end"]) == (sample.video_id("kitchen.mp4"), 10.0, 12.0)
    assert best["window_id"] == hits[0].window_id and len({h["window_id"] for h in out["hits"]}) == 3
    assert best["evidence"] == ["[10.2-11.8s] asr: preheat the oven to 180 degrees"]
    assert {"emb_text", "bm25"} <= set(best["scores"])
    assert [h["score"] for h in out["hits"]] == sorted((h["score"] for h in out["hits"]), reverse=True)


def test_per_model_scores_cover_every_vector_column(db, sample):
    [hit] = search("did a dog bark", k=1, db=db)
    assert hit.start == 8.0 and hit.video_id == sample.video_id("lecture.mp4")
    assert set(hit.scores) == {"emb_text", "emb_audio_labels", "bm25"}
    assert 0.0 < hit.scores["emb_text"] <= 1.0 and hit.scores["bm25"] > 0


def test_ask_json_matches_the_contract(db, sample):
    q = "how hot should the oven be?"
    a = ask(q, db=db, extractive_only=True)
    assert isinstance(a, Answer)
    out = json.loads(json.dumps(a.to_json()))
    assert set(out) == {"question", "answer", "abstained", "citations", "evidence", "answer_source"}
    assert out["answer_source"] == "evidence" == a.answer_source  # --extractive: no model's words
    assert out["question"] == q and isinstance(out["answer"], str) and out["abstained"] is False
    assert out["citations"] == [{"video_id": sample.video_id("kitchen.mp4"), "source": out["citations"][0]["source"],
                                 "start": 10.2, "end": 11.8}]
    assert set(out["citations"][0]) == {"video_id", "source", "start", "end"}
    assert out["citations"][0]["source"].endswith("/kitchen.mp4")
    assert all(isinstance(e, str) for e in out["evidence"]) and out["evidence"]
    assert "180 degrees" in out["answer"]


def test_ask_with_the_local_model(db):
    require_module("llama_cpp", reason="llama-cpp-python is not installed (pip install -e '.[llm]')")
    a = ask("which platform does the Leeds train leave from?", db=db)
    assert "9" in a.answer and a.citations and not a.abstained


def test_ask_abstains_on_unrelated_questions(db):
    a = ask("who won the football world cup in 1998?", db=db, extractive_only=True)
    assert a.to_json()["abstained"] is True and a.citations == ()


def test_ask_with_an_endpoint_that_is_down(db):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    a = ask("how hot should the oven be?", db=db, llm_url=f"http://127.0.0.1:{port}/v1", llm_model="m")
    assert "180 degrees" in a.answer and "unreachable" in a.notice


@pytest.mark.parametrize("question", ["", "   ", "\n\t"])
def test_empty_question_raises(db, question):
    for fn in (search, ask):
        with pytest.raises(ValueError, match="empty") as err:
            fn(question, db=db)
        assert "\n" not in str(err.value)


def test_very_long_question(db):
    q = "how hot should the oven be? " * 360
    assert len(q) > 10_000
    hits = search(q, k=2, db=db)
    assert hits[0].start == 10.0
    a = ask(q, db=db, extractive_only=True)
    assert a.question == q and "180" in a.answer


def test_filters_by_video_and_time(db, sample):
    hits = search("oven", k=50, videos=["station.mp4"], db=db)
    assert len(hits) == 10 and {h.video_id for h in hits} == {sample.video_id("station.mp4")}
    hits = search("oven", k=50, videos=[sample.video_id("kitchen.mp4")], time_range=(9.0, 13.0), db=db)
    assert sorted(h.start for h in hits) == [8.0, 10.0, 12.0]


def test_hostile_video_value_is_a_literal(db):
    assert search("oven", videos=["x' OR 1=1 --"], db=db) == []
    a = ask("oven", videos=["x' OR 1=1 --"], db=db, extractive_only=True)
    assert a.abstained and a.evidence == ()


def test_missing_database_or_table_is_a_query_error(tmp_path, sample):
    with pytest.raises(QueryError, match="no index database"):
        search("oven", db=tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(QueryError, match="no 'windows' table"):
        ask("oven", db=tmp_path / "empty", extractive_only=True)
    import lancedb

    lancedb.connect(str(tmp_path / "rows0")).create_table("windows", schema=sample.schema())
    with pytest.raises(QueryError, match="empty") as err:
        search("oven", db=tmp_path / "rows0")
    assert "\n" not in str(err.value)


def test_bad_arguments(db):
    with pytest.raises(ValueError):
        search("oven", k=0, db=db)
    with pytest.raises(QueryError):
        search("oven", time_range=(5, 1), db=db)
    with pytest.raises(ValueError):
        ask("oven", db=db, llm_url="http://localhost:1/v1")


def test_fusion_config_from_the_database_folder(sample, rows, tmp_path):
    db = tmp_path / "lance"
    sample.build_windows_table(db, rows=rows)
    FusionConfig(weights={"emb_text": 0.0, "emb_audio_labels": 0.0, "bm25": 1.0}).save(db / "fusion.json")
    # BM25 only: the literal word wins even when meaning-wise weaker.
    hits = search("Leeds", k=1, db=db)
    assert hits[0].video_id == sample.video_id("station.mp4") and hits[0].start == 0.0
    (db / "fusion.json").write_text(json.dumps({"model_tags": {"emb_text": "another-encoder@9"}}))
    a = ask("how hot should the oven be?", db=db, extractive_only=True)
    assert "fusion config" in a.notice and "180" in a.answer
    # An explicit config wins over the file.
    assert search("Leeds", k=1, db=db, fusion=FusionConfig("rrf"))[0].start == 0.0


def test_default_db_is_a_path():
    assert isinstance(default_db(), Path)
