"""Fixtures: the retrieval tests' sample ``windows`` table (real e5 embeddings), a dev set written for
it, and a variant of the table with an extra vector column of seeded random noise."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

# The sample table (vqa_pipeline_tests/retrieval/sample_windows.py): 3 videos x 10 two-second windows.
DEVSET = [
    ("k_oven", "kitchen.mp4", "What temperature should the oven be preheated to?", ["180"], [[10.2, 11.8]]),
    ("k_knead", "kitchen.mp4", "How long should the dough be kneaded?", ["ten minutes"], [[6.3, 7.7]]),
    ("k_rise", "kitchen.mp4", "How long should the dough rise?", ["one hour"], [[14.2, 15.8]]),
    ("k_recipe", "kitchen.mp4", "Which recipe is written on screen?", ["country loaf"], [[4.0, 8.0]]),
    ("k_secret", "kitchen.mp4", "What is the secret ingredient?", ["sea salt"], [[16.0, 18.0]]),
    ("k_mix", "kitchen.mp4", "What is mixed with the flour?", ["water"], [[2.1, 3.9]]),
    ("k_sizzle", "kitchen.mp4", "When does something sizzle in the pan?", ["sizzle"], [[8.0, 10.0]]),
    ("s_leeds", "station.mp4", "Which platform does the Leeds train leave from?", ["9"], [[0.2, 1.8]]),
    ("s_york", "station.mp4", "How late is the York service?", ["twenty minutes"], [[8.1, 9.9]]),
    ("s_cafe", "station.mp4", "Until when is the cafe open?", ["22:00"], [[14.0, 16.0]]),
    ("s_tickets", "station.mp4", "Where can tickets be bought?", ["machines"], [[12.2, 13.8]]),
    ("s_beep", "station.mp4", "When is there a beep?", ["beep"], [[16.0, 18.0]]),
    ("s_gap", "station.mp4", "What should passengers mind?", ["gap"], [[2.2, 3.8]]),
    ("l_topic", "lecture.mp4", "What is the lecture about?", ["photosynthesis"], [[0.2, 1.8]]),
    ("l_chloro", "lecture.mp4", "Which light does chlorophyll absorb?", ["red and blue"], [[2.0, 4.0]]),
    ("l_exam", "lecture.mp4", "When is the final exam?", ["3rd of june"], [[10.3, 12.0]]),
    ("l_room", "lecture.mp4", "In which room is the exam?", ["204"], [[12.0, 13.2]]),
    ("l_calvin", "lecture.mp4", "Where does the Calvin cycle happen?", ["stroma"], [[14.3, 15.8]]),
    ("l_dog", "lecture.mp4", "Which animal is heard outside?", ["dog"], [[8.0, 10.0]]),
    ("l_glucose", "lecture.mp4", "What do plants turn sunlight and water into?", ["glucose"], [[4.1, 5.9]]),
    ("l_worldcup", "lecture.mp4", "Who won the 1998 football world cup?", [], []),
]


def write_devset(path: Path, entries=DEVSET) -> Path:
    lines = [json.dumps({"id": i, "video": v, "question": q, "answer_any": a, "relevant": r}) for i, v, q, a, r in entries]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path




def distractor_videos(seed: int = 3, n_videos: int = 3, n_windows: int = 20) -> dict:
    """Videos of seeded sentences mixing the sample's words, so that ranking the sample is not trivial."""
    rng = np.random.default_rng(seed)
    nouns = ["oven", "dough", "train", "platform", "exam", "room", "bread", "ticket", "cafe", "light", "plant",
             "water", "flour", "service", "lecture", "salt", "towel", "machine", "gap", "meal"]
    verbs = ["is closed", "was moved", "looks busy", "is delayed", "needs cleaning", "is on screen",
             "is mentioned", "is ready"]
    out = {}
    for v in range(n_videos):
        windows = []
        for _ in range(n_windows):
            a, b = rng.choice(nouns, 2, replace=False)
            windows.append([("asr", 0.2, 1.8, f"the {a} near the {b} {rng.choice(verbs)}")])
        out[f"distractor{v}.mp4"] = windows
    return out


@pytest.fixture(scope="session")
def noise_db(sample, tmp_path_factory) -> Path:
    """The sample videos plus 60 distractor windows, with an extra vector column ``emb_noise`` of seeded
    random unit vectors (unrelated to the windows); ``emb_text`` holds real e5 embeddings."""
    import lancedb

    rows_in = sample.build_rows(tmp_path_factory.mktemp("noise_media"), videos={**sample.VIDEOS, **distractor_videos()})
    rng = np.random.default_rng(7)
    rows = []
    for r in rows_in:
        v = rng.standard_normal(sample.DIM).astype(np.float32)
        rows.append({**r, "emb_noise": (v / np.linalg.norm(v)).tolist()})
    schema = sample.schema().append(pa.field("emb_noise", pa.list_(pa.float32(), sample.DIM)))
    db = tmp_path_factory.mktemp("noise")
    lancedb.connect(str(db)).create_table("windows", data=pa.Table.from_pylist(rows, schema=schema),
                                          mode="overwrite", on_bad_vectors="null")
    return db


@pytest.fixture(scope="session")
def devset_file(tmp_path_factory) -> Path:
    return write_devset(tmp_path_factory.mktemp("devset") / "devset.jsonl")
