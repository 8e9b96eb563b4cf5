"""``vqa ask --adapter``: the answer model sees the adapter's soft tokens of the windows retrieval
picked, before the usual evidence prompt; everything else (re-ranking, checks, citations,
abstention) is :func:`vqa_pipeline.query.ask` unchanged.

Also the dev-set comparison: text evidence + soft tokens vs text evidence alone, with the same
decoder, so the delta is the soft tokens' doing.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from vqa_pipeline.answer.llm import LLMBackend, LLMError
from vqa_pipeline.answer.prompt import Prompt

SOFT_WINDOWS = 1
"""Windows whose soft tokens go before the prompt: the best one. The adapter is trained on one
window's tokens; more windows would show it a longer sequence than it ever saw."""


class SoftTokenBackend(LLMBackend):
    """The adapter's decoder as an answer model: with ``features`` set, the soft tokens of those
    windows come first; without, it is the same decoder on the prompt alone."""

    small = True
    max_lines = 3

    def __init__(self, decoder: Any, bridge: Any = None, specs: Sequence = (),
                 features: Sequence[dict] = ()) -> None:
        self.decoder, self.bridge, self.specs = decoder, bridge, list(specs)
        self.features = list(features)
        self.name = f"adapter:{decoder.name}" if bridge is not None and self.features else f"local:{decoder.name}"

    def generate(self, prompt: Prompt) -> str:
        from vqa_pipeline.adapters.route import plain_generate
        from vqa_pipeline.adapters.spec import AdapterError

        try:
            if self.bridge is None or not self.features:
                return plain_generate(self.decoder, prompt.completion, prompt.max_tokens)
            return self._with_soft_tokens(prompt)
        except AdapterError as exc:
            raise LLMError(str(exc)) from None

    def _with_soft_tokens(self, prompt: Prompt) -> str:
        import torch

        from vqa_pipeline.adapters.infer import feature_batch, prepare_decoder

        dec, bridge = self.decoder, self.bridge
        prepare_decoder(dec, bridge)
        with torch.no_grad():
            tokens, mask = bridge(feature_batch(bridge, self.features, dec.device))
            tokens, mask = tokens.reshape(1, -1, dec.d_model), mask.reshape(1, -1)  # windows one after another
            if bridge.xattn is None:
                return dec.generate(tokens, mask, prompt.completion, max_new_tokens=prompt.max_tokens)
            with bridge.xattn.attached(dec.layers, tokens, mask):
                empty = tokens.new_zeros(1, 0, dec.d_model)
                return dec.generate(empty, mask.new_zeros(1, 0), prompt.completion, max_new_tokens=prompt.max_tokens)


def _check_index_specs(db: str | Path, specs: Sequence, wf) -> None:
    from vqa_pipeline.adapters.spec import AdapterError, FeatureSpec, check_specs_match

    present = [s for s in specs if s.name in wf.tags]  # a modality absent from these windows is masked
    have = [FeatureSpec(m, wf.tags[m], int(wf.shapes[m][-1]), len(wf.shapes[m]) == 2) for m in wf.tags]
    try:
        check_specs_match(present, have)
    except AdapterError as exc:
        raise AdapterError(f"the index at {db}: {exc}") from None


def check_index_features(db: str | Path, specs: Sequence) -> None:
    """Raise unless some window of the index has each modality the adapter reads, from the same model.

    Windows missing a modality (an audio-only file has no colours) are fine: they are masked when
    answered; only an index where NO window has it cannot feed the adapter. It reads the adapter's
    columns of every window (seconds, against the minutes of answering), so callers run it once,
    before any answering.

    Raises:
        FeatureError: no window has a modality (naming the index and the column); no index.
        AdapterError: the features come from another model version or width (naming both).
    """
    from vqa_pipeline.adapters.window_features import read_windows

    _check_index_specs(db, specs, read_windows(db, [s.name for s in specs]))


def window_features_for(question: str, db: str | Path, specs: Sequence, k: int = 5, videos=None,
                        time_range=None, n_windows: int = SOFT_WINDOWS) -> list[dict]:
    """The adapter's features of the best ``n_windows`` windows retrieval picks for ``question``;
    a modality those windows lack is ``None`` (masked by the bridge, as in training).

    Raises:
        AdapterError: the index's features come from another model version than the adapter's.
    """
    from vqa_pipeline.adapters.window_features import read_windows
    from vqa_pipeline.query import retrieve

    r = retrieve(question, k, videos, time_range, db, None, strict_videos=True)
    ids = [row["window_id"] for row in r.rows[:n_windows]]
    if not ids:
        return []
    wf = read_windows(db, [s.name for s in specs], ids, absent_ok=True)
    _check_index_specs(db, specs, wf)
    return [wf.of(w) for w in ids]


def ask_with_adapter(question: str, db: str | Path, decoder: Any, bridge: Any, specs: Sequence, k: int = 5,
                     videos=None, time_range=None, **options):
    """:func:`vqa_pipeline.query.ask` with the adapter's decoder and soft tokens as the answer model."""
    from vqa_pipeline.query import ask

    feats = window_features_for(question, db, specs, k, videos, time_range)
    backend = SoftTokenBackend(decoder, bridge, specs, feats)
    return ask(question, k=k, videos=videos, time_range=time_range, db=db, backend=backend, **options)


def devset_comparison(db: str | Path, devset: str | Path | Sequence[str | Path], decoder: Any, bridge: Any,
                      specs: Sequence, progress: Callable[[str, dict], None] | None = None,
                      limit: int | None = None, checked: bool = False) -> dict:
    """Answer accuracy on a dev set with text evidence alone and with text evidence + soft tokens.

    ``checked``: the caller already ran :func:`check_index_features` on ``db`` (it reads every
    window's features, so it is not run twice).

    Returns:
        ``{"n", "text_only": {AnswerScores, "model_answers"}, "with_soft_tokens": {...}, "delta"}``,
        ``delta`` in accuracy points (fractions) of ``with_soft_tokens - text_only``.

    Raises:
        DevSetError: an unreadable dev set; QueryError: no index; AdapterError: features of another
        model; FeatureError: no window of the index has a modality the adapter reads.
    """
    from vqa_pipeline.query import ask
    from vqa_pipeline.tuning.answers import aggregate, score_question
    from vqa_pipeline.tuning.devset import load_devset

    questions = load_devset(devset)[:limit] if limit else load_devset(devset)
    if not checked:  # before any answering: a wrong index fails in seconds, not minutes
        check_index_features(db, specs)
    t0 = time.perf_counter()
    scores: dict[str, list] = {"text_only": [], "with_soft_tokens": []}
    from_model = {name: 0 for name in scores}
    for i, q in enumerate(questions):
        feats = window_features_for(q.question, db, specs, videos=None)
        backends = {"text_only": SoftTokenBackend(decoder), "with_soft_tokens": SoftTokenBackend(decoder, bridge, specs,
                                                                                               feats)}
        for name, backend in backends.items():
            a = ask(q.question, db=db, backend=backend)
            scores[name].append(score_question(a.answer, a.abstained, [(c.source, c.start, c.end) for c in a.citations],
                                               q.video, q.answer_any, q.relevant))
            from_model[name] += a.answer_source == "model"
        if progress is not None:
            progress("devset", {"done": i + 1, "n": len(questions)})
    out: dict = {"n": len(questions), "seconds": round(time.perf_counter() - t0, 2)}
    for name, s in scores.items():
        out[name] = {**aggregate(s).to_dict(), "model_answers": from_model[name]}
    a0, a1 = out["text_only"]["answer_accuracy"], out["with_soft_tokens"]["answer_accuracy"]
    out["delta"] = None if a0 is None or a1 is None else round(a1 - a0, 4)
    return out
