"""The Optuna study: a noise column is weighted down, the split is honest, the study resumes from
SQLite, and the stored config is what queries use (or ignored with a warning when stale or corrupt)."""

from __future__ import annotations

import json
import shutil

import pytest

from vqa_pipeline.extractors.text_embed import E5Small
from vqa_pipeline.query import ask
from vqa_pipeline.retrieval.fuse import FusionConfig
from vqa_pipeline.retrieval.retrievers import QueryEncoder
from vqa_pipeline.retrieval.search import open_index
from vqa_pipeline.store.search import video_catalog
from vqa_pipeline.tuning.devset import DevSetError, load_devset, resolve_devset
from vqa_pipeline.tuning.evaluate import FusionProblem, collect_rankings, evaluate_model
from vqa_pipeline.tuning.run import stored_config
from vqa_pipeline.tuning.splits import split_questions
from vqa_pipeline.tuning.study import (
    TuneOptions,
    cross_validate,
    effective_weights,
    read_tuning_record,
    save_tuned,
    tune,
)

_E5 = E5Small()
NOISE_RETRIEVERS = {
    "emb_text": QueryEncoder(_E5.name, _E5.model_tag, _E5.embed_query),
    # Questions are embedded by e5 as for any column; the column itself holds random vectors.
    "emb_noise": QueryEncoder(_E5.name, "random-noise@1", _E5.embed_query),
}


def _cache(db, devset_file, **kw):
    table = open_index(db)
    resolved, _ = resolve_devset(load_devset(devset_file), video_catalog(table))
    return collect_rankings(table, resolved, hybrid=False, **kw)


@pytest.fixture(scope="module")
def cache(sample_db, devset_file):
    return _cache(sample_db, devset_file)


@pytest.fixture(scope="module")
def noise_cache(noise_db, devset_file):
    return _cache(noise_db, devset_file, retrievers=NOISE_RETRIEVERS)


def storage(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'optuna.db'}"


def test_tuning_drives_the_noise_column_weight_down(noise_cache, tmp_path):
    assert noise_cache.models == ("emb_text", "emb_noise", "bm25")
    assert evaluate_model(noise_cache, "emb_noise")[1].ndcg[10] < 0.1 < 0.9 < evaluate_model(noise_cache, "emb_text")[1].ndcg[10]
    result = tune(noise_cache, TuneOptions(trials=60, seed=0, heldout_fraction=0.25, storage=storage(tmp_path)))
    eff = effective_weights(result.config, noise_cache.models)
    # The untuned start gives every column the same weight; the study pushes the noise far below both.
    assert eff["emb_noise"] < eff["emb_text"] and eff["emb_noise"] < eff["bm25"]
    assert eff["emb_noise"] < 0.25 * max(eff["emb_text"], eff["bm25"])
    assert result.dev_score >= result.default_dev
    assert result.config.model_tags["emb_noise"] == "random-noise@1"


def test_the_split_is_stratified_deterministic_and_disjoint(cache):
    s = split_questions(cache, 0.3, seed=0)
    assert s == split_questions(cache, 0.3, seed=0)
    assert not set(s.dev) & set(s.heldout)
    assert sorted(s.dev + s.heldout) == sorted(q.id for q in cache.questions)
    # 7 + 6 + 7 answerable questions per video: round(0.3 * n) of each video held out.
    assert sorted(i[0] for i in s.heldout) == ["k", "k", "l", "l", "s", "s"]
    assert split_questions(cache, 0.3, seed=1) != s
    assert split_questions(cache, 0.0).heldout == ()


def test_the_reported_score_is_not_the_tuned_one(cache, tmp_path):
    r = tune(cache, TuneOptions(trials=15, storage=storage(tmp_path)))
    problem = FusionProblem(cache)
    held = [i for i, qid in enumerate(problem.ids) if qid in r.split.heldout]
    assert r.heldout_score == pytest.approx(problem.mean_ndcg(r.config, 10, held))
    assert r.dev_score >= r.default_dev  # the defaults are the first trial
    rec = r.record()
    assert rec["n_dev"] + rec["n_heldout"] == len(cache.questions) and rec["heldout_ids"] == list(r.split.heldout)


def test_the_study_lives_in_sqlite_and_resumes(cache, tmp_path):
    import optuna

    opts = TuneOptions(trials=12, seed=3, storage=storage(tmp_path))
    first = tune(cache, opts)
    assert first.trials_run == 12 and (tmp_path / "optuna.db").is_file()
    again = tune(cache, opts)
    assert again.trials_run == 0 and again.config == first.config and again.study_name == first.study_name
    more = tune(cache, TuneOptions(trials=20, seed=3, storage=storage(tmp_path)))
    assert more.trials_run == 8 and more.trials_total == 20 and more.study_name == first.study_name
    study = optuna.load_study(study_name=first.study_name, storage=storage(tmp_path))
    assert len(study.trials) == 20 and study.user_attrs["models"] == list(cache.models)
    # Another k is another study.
    other = tune(cache, TuneOptions(trials=3, k=5, storage=storage(tmp_path)))
    assert other.study_name != first.study_name and other.trials_run == 3


def test_cross_validation_scores_every_question_out_of_fold(cache):
    cv = cross_validate(cache, TuneOptions(trials=8), folds=3)
    assert cv["n"] == len(cache.questions) and len(cv["configs"]) == 3
    assert all(0.0 <= v <= 1.0 for v in cv["tuned"].values())
    with pytest.raises(DevSetError):
        cross_validate(cache.subset([cache.questions[0].id]), TuneOptions(trials=2), folds=3)


@pytest.mark.parametrize("kw", [{"trials": 0}, {"k": 0}, {"heldout_fraction": 1.0}, {"methods": ("borda",)}])
def test_bad_options(kw):
    with pytest.raises(ValueError):
        TuneOptions(**kw)


def test_queries_use_the_stored_config_and_ignore_a_stale_or_corrupt_one(cache, sample_db, tmp_path, caplog):
    db = tmp_path / "db"
    shutil.copytree(sample_db, db)
    result = tune(cache, TuneOptions(trials=5, storage=storage(tmp_path)))
    path = save_tuned(result, db / "fusion.json")
    config, warning, tuned = stored_config(db)
    assert tuned and warning is None and config == result.config
    assert read_tuning_record(path)["dev_score"] == pytest.approx(result.dev_score)
    assert "fusion config" not in (ask("How hot should the oven be?", db=db, extractive_only=True).notice or "")

    data = json.loads(path.read_text())
    data["model_tags"]["emb_text"] = "another-encoder@9"
    path.write_text(json.dumps(data))
    config, warning, tuned = stored_config(db)
    assert not tuned and config == FusionConfig() and "tuned for other versions of emb_text" in warning

    for corrupt in ("{not json", json.dumps({"method": "borda"}), json.dumps({"weights": {"bm25": "heavy"}}), "[]"):
        path.write_text(corrupt)
        with caplog.at_level("WARNING"):
            config, warning, tuned = stored_config(db)
        assert not tuned and config == FusionConfig() and "unreadable" in warning
        assert "unreadable" in caplog.text
        answer = ask("How hot should the oven be?", db=db, extractive_only=True)
        assert "fusion config" in answer.notice and "180" in answer.answer
