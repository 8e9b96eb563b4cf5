"""e5-small embeddings of the evidence of real upstream extractors."""

from __future__ import annotations

import numpy as np

from vqa_pipeline.extractors.base import EvidenceLine, ExtractorOutput
from vqa_pipeline.extractors.text_embed import DIM, E5Small, embed_passages, embed_query, window_text
from vqa_pipeline_tests.extractors.conftest import BEEP_S, needs_espeak, window_of


def test_window_text_format():
    lines = [
        EvidenceLine(0, 2, "audio", "beep, bleep (0.95); sine wave (0.82)"),
        EvidenceLine(0, 2, "asr", "the oven is at 180 degrees"),
        EvidenceLine(0, 6, "ocr", "PLATFORM 9"),
    ]
    assert window_text(lines) == "speech: the oven is at 180 degrees; on-screen text: PLATFORM 9; sounds: beep, bleep; sine wave"
    assert window_text([]) is None


def test_helpers_normalized():
    q = embed_query("what temperature is the oven")
    p = embed_passages(["the oven is at 180 degrees", "the train leaves from platform 9", "a dog barks"])
    assert q.shape == (DIM,) and p.shape == (3, DIM) and q.dtype == np.float32
    assert np.allclose(np.linalg.norm(p, axis=1), 1.0, atol=1e-4)
    assert int(np.argmax(p @ q)) == 0
    assert embed_passages([]).shape == (0, DIM)


@needs_espeak
def test_oven_window_is_closest(lite_outputs, media):
    ex = E5Small()
    out = ex.extract(media, lite_outputs)
    n = len(media.windows)
    assert len(out.lines) == n and all(lines == [] for lines in out.lines)
    emb = out.columns["emb_text"]
    assert all(e is not None and len(e) == DIM for e in emb)
    q = E5Small().embed_query("what temperature is the oven")
    sims = [float(np.dot(q, e)) for e in emb]
    oven = int(np.argmax(sims))
    assert "oven" in " ".join(ln.text.lower() for ln in lite_outputs["asr"].lines[oven]), sims
    # sound labels: the beep window is the closest to a beep query
    la = out.columns["emb_audio_labels"]
    qb = E5Small().embed_query("a beeping sound")
    beep = window_of(media, sum(BEEP_S) / 2)
    scores = {i: float(np.dot(qb, v)) for i, v in enumerate(la) if v is not None}
    assert max(scores, key=scores.get) == beep, scores
    assert np.isclose(np.linalg.norm(la[beep]), 1.0, atol=1e-4)


def test_windows_without_text_get_none(media):
    n = len(media.windows)
    upstream = {"asr": ExtractorOutput.empty(n, ["asr_words"], note="no audio track")}
    upstream["ocr"] = ExtractorOutput(lines=[[] for _ in range(n)])
    upstream["ocr"].lines[2] = [EvidenceLine(4.0, 6.0, "ocr", "EXIT 4")]
    out = E5Small().extract(media, upstream)
    assert [e is not None for e in out.columns["emb_text"]] == [i == 2 for i in range(n)]
    assert out.columns["emb_audio_labels"] == [None] * n
    out = E5Small().extract(media, {})
    assert out.columns["emb_text"] == [None] * n and out.notes


@needs_espeak
def test_with_units_a_window_embeds_the_whole_sentence_it_overlaps(lite_outputs, media):
    from vqa_pipeline.extractors.units import EvidenceUnits

    units = EvidenceUnits().extract(media, lite_outputs)
    texts = E5Small().window_texts(media, {**lite_outputs, "units": units})
    without = E5Small().window_texts(media, lite_outputs)
    early, late = window_of(media, 3.0), window_of(media, 4.5)  # the sentence crosses the edge at 4 s
    # both windows read the whole sentence, from "oven" to "minutes" ...
    for i in (early, late):
        assert "oven" in texts[i].lower() and "minutes" in texts[i].lower()
    # ... where each window's own lines held only its half
    assert "minutes" not in without[early].lower() or "oven" not in without[late].lower()
