"""Feature questions from the sample corpus's truth files: right answers, withheld lines, split by video."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from vqa_pipeline.adapters.feature_questions import (
    FeatureQuestionError,
    build_questions,
    heldout_videos,
    is_correct,
    questions_for_window,
    window_answers,
)
from vqa_pipeline.adapters.probe import fit_probe

TRUTH = Path(__file__).resolve().parents[2] / "data" / "sample" / "truth"
FIRE_DRILL = json.loads((TRUTH / "fire_drill.json").read_text())


def _row(w0: float, w1: float, **lines: str) -> dict:
    row = {"window_id": f"fd-{int(w0)}", "source": "/media/fire_drill.mp4", "start_s": w0, "end_s": w1}
    for kind, text in lines.items():
        row[f"{kind}_lines"] = [{"start_s": w0, "end_s": w1, "text": text}]
    return row


def test_answers_follow_the_truth_file() -> None:
    # fire_drill: alarm 0.5-3.5 s on a red scene; scenes cut red -> dark green at 12 s; speech 4.5-7.7 s
    assert window_answers(FIRE_DRILL, 0.0, 2.0) == {"sound": "alarm", "speech": "sound", "colour": "red",
                                                    "scene_change": "no"}
    assert window_answers(FIRE_DRILL, 11.0, 13.0)["scene_change"] == "yes"
    assert window_answers(FIRE_DRILL, 12.0, 14.0)["colour"] == "green"  # "dark green" is green
    assert "scene_change" not in window_answers(FIRE_DRILL, 12.0, 14.0)  # a cut on the edge is not asked
    assert window_answers(FIRE_DRILL, 4.5, 6.5)["speech"] == "speech"
    assert window_answers(FIRE_DRILL, 19.0, 21.0)["speech"] == "silence"
    assert window_answers(FIRE_DRILL, 19.0, 21.0)["sound"] == "none"
    assert "sound" not in window_answers(FIRE_DRILL, 23.1, 24.1)  # a beep cut by the window edge


def test_withheld_evidence_is_absent_from_the_prompt() -> None:
    row = _row(0.0, 2.0, audio="alarm: siren (0.91)", visual="dominant colours: red", ocr="FIRE DRILL",
               asr="attention please")
    qs = {q.kind: q for q in questions_for_window(FIRE_DRILL, row)}
    assert set(qs) == {"sound", "speech", "colour", "scene_change"}
    sound, colour, speech = qs["sound"], qs["colour"], qs["speech"]
    assert sound.answer == "alarm" and colour.answer == "red"
    assert "siren" not in sound.prompt and "audio:" not in sound.prompt
    assert "FIRE DRILL" in sound.prompt and "dominant colours: red" in sound.prompt
    assert "dominant colours" not in colour.prompt and "visual:" not in colour.prompt and "siren" in colour.prompt
    assert "attention please" not in speech.prompt and "siren" not in speech.prompt
    assert sound.prompt.rstrip().endswith("Answer:") and "alarm, " in sound.prompt  # the closed choices are listed
    assert is_correct(" Alarm.", sound) and not is_correct("beep", sound) and not is_correct("", sound)


def test_questions_for_the_whole_sample_corpus_split_by_video() -> None:
    rows = []
    for path in sorted(TRUTH.glob("*.json")):
        truth = json.loads(path.read_text())
        for i in range(int(truth["duration_s"] // 2)):
            rows.append({"window_id": f"{path.stem}-{i}", "source": f"/x/{truth['clip']}", "start_s": 2.0 * i,
                         "end_s": 2.0 * i + 2})
    qs = build_questions(rows, [TRUTH], heldout_share=0.3, seed=1)
    train = {q.video for q in qs if q.split == "train"}
    held = {q.video for q in qs if q.split == "heldout"}
    assert train and held and not train & held
    assert len(held) == 3  # 30 % of 10 clips
    assert {q.kind for q in qs} == {"sound", "speech", "colour", "scene_change"}
    # the audio-only voicemail has no picture questions, the silent parking camera no sound questions
    assert not [q for q in qs if q.video == "voicemail.wav" and q.kind in ("colour", "scene_change")]
    assert not [q for q in qs if q.video == "parking_camera.mp4" and q.kind in ("sound", "speech")]
    assert heldout_videos(["a", "b"], 0.9) != {"a", "b"}  # never all videos held out


def test_no_truth_for_the_indexed_files_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(FeatureQuestionError, match="no truth files"):
        build_questions([], [tmp_path])
    with pytest.raises(FeatureQuestionError, match="no indexed window belongs"):
        build_questions([{"window_id": "w", "source": "/x/other.mp4", "start_s": 0.0, "end_s": 2.0}], [TRUTH])


def test_linear_probe_separates_separable_features() -> None:
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(4, 30)) * 3
    y = rng.integers(0, 4, 400)
    x = centres[y] + rng.normal(size=(400, 30))
    labels = [f"c{v}" for v in y]
    probe = fit_probe(x[:300], labels[:300])
    acc = np.mean(np.array(probe.predict(x[300:])) == np.array(labels[300:]))
    assert acc >= 0.95
    shuffled = fit_probe(x[:300], list(rng.permutation(labels[:300])))  # no signal: near chance
    assert np.mean(np.array(shuffled.predict(x[300:])) == np.array(labels[300:])) < 0.6
