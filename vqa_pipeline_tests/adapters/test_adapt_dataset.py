"""The adapter data set from a real index of generated clips: features, questions, split, cache."""

from __future__ import annotations

import json

import lancedb
import numpy as np
import pytest

from vqa_pipeline.adapters.dataset import DatasetError, build_dataset, load_dataset, save_dataset
from vqa_pipeline.adapters.feature_corpus import clip_spec, make_corpus
from vqa_pipeline.adapters.window_features import FeatureError, read_windows
from vqa_pipeline.evidence import clean_text
from vqa_pipeline_tests.adapters.tiny_corpus import tiny_corpus

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return tiny_corpus(tmp_path_factory)


def test_the_corpus_is_seeded_and_reused(tmp_path) -> None:
    assert clip_spec(3, 5) == clip_spec(3, 5) and clip_spec(3, 5) != clip_spec(3, 6)
    first = make_corpus(tmp_path, n=2, seed=5)
    stamp = (tmp_path / first.names[0]).with_suffix(".mp4").stat().st_mtime_ns
    again = make_corpus(tmp_path, n=2, seed=5)
    assert again.names == first.names
    assert (tmp_path / first.names[0]).with_suffix(".mp4").stat().st_mtime_ns == stamp  # not rewritten
    truth = first.truth(first.names[0])
    assert truth["clip"] == f"{first.names[0]}.mp4" and truth["scenes"]


def test_features_questions_and_split_from_the_index(corpus, tmp_path) -> None:
    db, truth = corpus
    ds = build_dataset(db, [truth], ["audio", "visual"], heldout_share=0.3, seed=0)
    assert ds.tags["audio"].startswith("yamnet") and ds.tags["visual"].startswith("visual-stats")
    assert ds.shapes == {"audio": (524,), "visual": (14,)}
    train, held = ds.split("train"), ds.split("heldout")
    assert train and held and not {q.video for q in train} & {q.video for q in held}
    wf = read_windows(db, ["audio", "visual"])
    for q in ds.questions:
        row = wf.rows[q.window_id]
        truth_json = json.loads((truth / q.video.replace(".mp4", ".json")).read_text())
        assert truth_json["clip"] == q.video
        for kind in q.withheld:  # the withheld lines are really not in the prompt
            assert f"] {kind}:" not in q.prompt
            for line in row.get(f"{kind}_lines") or []:
                assert clean_text(kind, line["text"]) not in q.prompt.split("Question:")[0]
        if q.kind == "colour":  # the colour is in the features: the palette bit of the answer is set
            from vqa_pipeline.extractors.visual import PALETTE

            assert ds.of(q)["visual"][PALETTE.index(q.answer)] == 1.0
    folder = save_dataset(ds, tmp_path / "ds")
    back = load_dataset(folder)
    assert back.summary() == ds.summary()
    q = ds.questions[0]
    assert np.array_equal(back.of(q)["audio"], ds.of(q)["audio"])
    (folder / "features.npz").write_bytes(b"not a zip")
    with pytest.raises(DatasetError, match="missing or damaged"):
        load_dataset(folder)


def test_bad_features_are_one_line_errors(corpus, tmp_path) -> None:
    db, truth = corpus
    with pytest.raises(FeatureError, match="no thumb features"):
        read_windows(db, ["thumb"])  # the tiny index ran no thumbnail extractor
    with pytest.raises(FeatureError, match="no index at"):
        read_windows(tmp_path / "nothing", ["audio"])
    # two model versions in one index: refused, naming both
    import shutil

    copy = tmp_path / "mixed"
    shutil.copytree(db, copy)
    table = lancedb.connect(str(copy)).open_table("windows")
    first = table.search().limit(1).to_list()[0]["window_id"]
    table.update(where=f"window_id = '{first}'", values={"visual_model": "visual-stats@9"})
    with pytest.raises(FeatureError, match=r"visual-stats@1, visual-stats@9"):
        read_windows(copy, ["visual"])
