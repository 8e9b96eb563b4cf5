"""Answering a question from candidate evidence units, designed around small models.

Steps:

1. Analyze the question (:mod:`question`): the evidence kind it names, its answer type, an
   "after X" anchor.
2. Re-rank the candidate units (:mod:`units`, :mod:`rerank`: retrieval ranks, e5 similarity,
   keyword and number overlap, kind and answer-type match). Units that read like instructions to a model are never
   shown to one nor quoted as the answer; they stay in the evidence, which is data.
3. Abstain when the best unit's probability is under the threshold (:data:`DEFAULT_ABSTAIN_THRESHOLD`).
   Optionally a chat model then picks the best of the top units (:mod:`llm_rerank`).
4. Pick the answer's words (:mod:`compose`, :mod:`spans`): a number, a name, a URL, a command, the value after a
   label; yes or no with the supporting unit; for "what happens after X" the unit that follows X
   in the same video. Otherwise the best unit itself (a whole sentence or block).
5. A model may rephrase: its answer is kept only when it passes the checks (numbers and words from
   the evidence, timecodes that match a unit, not an echo of the question or of a label) and adds
   a checked span (for a typed question: it contains a span of that type from the evidence). A
   small model's "I don't know" is not trusted; a chat model's is, unless the evidence answers
   the question's type directly.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

from vqa_pipeline.answer.citations import (
    best_grounding,
    check_citations,
    citation_of,
    numbers,
    strip_timecodes,
)
from vqa_pipeline.answer.colours import colour_answer
from vqa_pipeline.answer.compose import (
    Context,
    _close,
    absence_of,
    answer_order,
    compose,
    is_echo,
    labels_of,
    missing_names,
)
from vqa_pipeline.answer.counting import asks_what_is_seen, count_answer, is_objects_line, is_plain_count
from vqa_pipeline.answer.llm import LLMBackend, LLMError
from vqa_pipeline.answer.llm_rerank import llm_rerank as reorder_by_llm
from vqa_pipeline.answer.numbers import number_values
from vqa_pipeline.answer.pack import DEFAULT_BUDGET_TOKENS, EvidencePack, PackedLine, format_timecode, merge_duplicates
from vqa_pipeline.answer.prompt import build_prompt, clip, echoes_prompt
from vqa_pipeline.answer.question import Question, analyze
from vqa_pipeline.answer.rerank import Ranks, Reranker, default_reranker
from vqa_pipeline.answer.spans import form_spans
from vqa_pipeline.answer.types import Answer, AnswerOptions, AnswerSource
from vqa_pipeline.answer.units import ScoredUnit, pack_units, rank_units, ranks_from_priorities
from vqa_pipeline.evidence import clean_text, is_nothing_seen
from vqa_pipeline.extractors.box_colours import parse_colours

DEFAULT_ABSTAIN_THRESHOLD = 0.2
"""Best-unit probability under which ``ask`` abstains when the re-ranker carries no calibrated
threshold of its own (a trained re-ranker does: ``vqa tune`` calibrates it on the dev split)."""
SMALL_MODEL_LINES = 3
MAX_ANSWER_CHARS = 600
MAX_RANK_QUESTION_CHARS = 1000
UNSUPPORTED_MIN_SCORE = 0.85
"""A typed answer from a unit that shares none of the question's own words
(:func:`~vqa_pipeline.answer.compose.supports`) is given only when the best unit is at least this
likely; otherwise ``ask`` abstains."""
FOLLOW_WINDOW_S = 30.0
"""How far after an "after X" anchor the next event is looked for."""

ABSTAIN_TEXT = "I don't know: the indexed videos do not seem to contain the answer."
NO_EVIDENCE_TEXT = "I don't know: no evidence was found for this question."
_DONT_KNOW = re.compile(
    r"\b(?:i\s+)?(?:don'?t|do\s+not|cannot|can'?t)\s+(?:know|tell|answer|determine)\b"
    r"|\bnot\s+(?:mentioned|stated|given|found|in\s+the\s+evidence)\b|\bno\s+(?:information|evidence)\b",
    re.IGNORECASE,
)


def says_dont_know(text: str) -> bool:
    return bool(_DONT_KNOW.search(text))


def _clean_output(text: str, small: bool) -> str:
    text = text.strip()
    if small:
        text = text.splitlines()[0] if text else ""
    text = re.sub(r"^\s*(?:answer\s*:)\s*", "", text, flags=re.IGNORECASE).strip().strip('"').strip()
    return text[:MAX_ANSWER_CHARS]


def _is_span_of(answer: str, line: PackedLine) -> bool:
    """Whether ``answer`` (timecodes left out) is a verbatim span of the line, case and punctuation aside."""
    def norm(t: str) -> str:
        return " ".join(re.sub(r"[^\w]+", " ", t.casefold()).split())

    core = norm(strip_timecodes(answer))
    return bool(core) and f" {core} " in f" {norm(line.text)} "


def _contains(answer: str, span: str) -> bool:
    """Whether the answer holds the span as whole words ("3" is not in "1532/1532"), or the same
    numbers written another way ("three hundred" for 300)."""
    answer = strip_timecodes(answer)
    # not inside a longer word or number: "3" is not in "3.5" nor "30" in "10:30"
    if re.search(rf"(?<![\w.,:/]){re.escape(span)}(?![\w]|[.,:/]\d)", answer, re.IGNORECASE):
        return True
    values = number_values(span)
    return bool(values) and values <= number_values(answer)


def _same_name(answer: str, span: str, evidence: str) -> bool:
    """Whether a model's name answer is the span's name, shorter ("Marta Ruiz" for "Chef Marta Ruiz")
    or spelled as another evidence line spells it ("Lena Fischer" on screen, "Lena Fisher" heard):
    each of its words is one of the span's, or close to one and written in the evidence."""
    words = re.findall(r"[^\W\d_]+", strip_timecodes(answer).casefold())
    have = re.findall(r"[^\W\d_]+", span.casefold())
    seen = set(re.findall(r"[^\W\d_]+", evidence.casefold()))
    if not words or len(words) > len(have) or not set(words) & set(have):
        return False
    return all(w in have or (w in seen and any(_close(w, h) for h in have)) for w in words)


def _time_order(lines: Sequence[PackedLine]) -> list[PackedLine]:
    first: dict[str, int] = {}
    for i, ln in enumerate(lines):
        first.setdefault(ln.video_id, i)
    return sorted(dict.fromkeys(lines), key=lambda ln: (first[ln.video_id], ln.start_s, ln.end_s))


FORM_TOP_UNITS = 5
"""How many of the best units are searched for a value of the form a score or phone question asks for."""


def _formed_units(q: Question, usable: Sequence[ScoredUnit]) -> list[ScoredUnit]:
    """Among the best units of the best unit's video, those holding a value of the question's fixed
    form (:attr:`~vqa_pipeline.answer.question.Question.form`), in rank order."""
    if not q.form or not usable:
        return []
    video = usable[0].line.video_id
    return [s for s in usable[:FORM_TOP_UNITS * 3]
            if s.line.video_id == video and form_spans(q, clean_text(s.line.kind, s.line.text))][:FORM_TOP_UNITS]


def _ids(units: Sequence[ScoredUnit]) -> list[int]:
    return [id(s) for s in units]


def answer_question(question: str, candidates: Sequence[PackedLine] | EvidencePack, backend: LLMBackend | None, *,
                    ranks: Ranks | None = None, reranker: Reranker | None = None,
                    abstain_threshold: float | None = None,
                    question_vector: np.ndarray | None = None,
                    following: Context | None = None,
                    extra_notice: str | None = None, budget_tokens: int = DEFAULT_BUDGET_TOKENS,
                    llm_rerank: bool = False) -> Answer:
    """Answer ``question`` from candidate units with ``backend`` (``None``: extractive only).

    Args:
        question: the question.
        candidates: candidate units (or a pack); duplicates are merged.
        backend: the LLM, or ``None`` for an extractive answer.
        ranks: where the candidates' windows ranked (default: from the lines' priorities).
        reranker: the unit re-ranker (default: the packaged one).
        abstain_threshold: best-unit probability under which to abstain (default: the re-ranker's
            calibrated one, else :data:`DEFAULT_ABSTAIN_THRESHOLD`).
        question_vector: the question's e5 query embedding, if already computed.
        following: units of the same video around a given unit (for "what happens after X"), or
            of the whole video with ``whole=True`` (for "the first ...").
        extra_notice: a remark to carry into the answer's notice (e.g. a fusion-config warning).
        budget_tokens: the reported evidence pack's budget.
        llm_rerank: let a chat backend (not a small model) choose the best of the top units first
            (:mod:`llm_rerank`); the abstention threshold still applies to the learned re-ranker's
            best unit.
    """
    reranker = reranker or default_reranker()
    if abstain_threshold is None:
        abstain_threshold = (reranker.abstain_threshold if reranker.abstain_threshold is not None
                             else DEFAULT_ABSTAIN_THRESHOLD)
    lines = list(candidates.lines if isinstance(candidates, EvidencePack) else candidates)
    lines = merge_duplicates(lines)
    lines.sort(key=lambda ln: (ln.priority, ln.start_s))
    options = AnswerOptions(backend.name if backend else "extractive", abstain_threshold, budget_tokens)
    notices = [extra_notice] if extra_notice else []
    q = analyze(clip(question, MAX_RANK_QUESTION_CHARS))
    ranked = rank_units(q, lines, ranks or ranks_from_priorities(lines), reranker, question_vector)
    pack = pack_units(ranked, budget_tokens)
    evidence = tuple(pack.strings())

    def done(text: str, abstained: bool, cited: Sequence[PackedLine] = (),
             source: AnswerSource = "evidence") -> Answer:
        return Answer(question, text, abstained, tuple(dict.fromkeys(citation_of(ln) for ln in cited)), evidence,
                      "; ".join(notices) or None, options, source)

    if not ranked:
        return done(NO_EVIDENCE_TEXT, True)
    n_flagged = sum(s.flagged for s in ranked) + sum(s.withheld_parts for s in ranked)
    if n_flagged:
        notices.append(f"withheld {n_flagged} evidence line(s) that read like instructions to a model")
    usable = [s for s in ranked if not s.flagged]
    if not asks_what_is_seen(q):  # detector lines answer questions about what is seen, not "who wrote the book"
        usable = [s for s in usable if not is_objects_line(s.line)] or usable
    # a plain "how many <things> are seen?" that a detector line of the top units counts is answered
    # from that line: its words ("people" vs "1 person") match the question too little for the ranker
    counted = (q.answer_type == "count" and bool(usable) and is_plain_count(q.text)
               and count_answer(q.text, [s.line for s in usable]) is not None)
    # a score or phone question whose best units hold a value of that fixed form ("3 - 2",
    # "555-0192") is answered even when the re-ranker is unsure: the words around such a value
    # rarely match the question's ("FULL TIME" for "final score"), the form itself does
    formed = _formed_units(q, usable)
    if formed:
        usable = [*formed, *(s for s in usable if s not in formed)]
    # a count or presence question whose best units hold the detector's "nothing seen" line for the
    # asked thing (and no unit of that video counts it) is answered 0 / no from it, as above
    absence = absence_of(q, usable, following) if usable and asks_what_is_seen(q) else None
    absent, absence_units = absence is not None, _ids(usable)
    if not absent:  # the "nothing seen" line answers 0 / no and nothing else: never quoted as such
        usable = [s for s in usable if not is_nothing_seen(s.line.text)]
    # a colour question about a person's clothes or a detector class, with a colours line among the
    # top units: the box's colours answer it ("red" shares no word with "the lecturer's shirt")
    colour = colour_answer(q.text, [s.line for s in usable]) if q.answer_type == "text" and usable else None
    coloured, colour_units = colour is not None, _ids(usable)
    if not coloured:  # a colours line answers with the colours of the thing asked for, never quoted whole
        usable = [s for s in usable if not parse_colours(s.line.text)]
    if not usable or (usable[0].score < abstain_threshold and not (counted or formed or absent or coloured)):
        return done(ABSTAIN_TEXT, True)
    absent_names = missing_names(q, [s.line for s in usable])
    if absent_names:
        notices.append(f"no evidence found mentions {' or '.join(absent_names)}")
        return done(ABSTAIN_TEXT, True)
    best_score = usable[0].score
    if llm_rerank and (backend is None or backend.small):
        notices.append("LLM re-rank needs a chat endpoint (--llm-url); skipped")
    elif llm_rerank and backend is not None:
        usable, why = reorder_by_llm(question, usable, backend)
        if why:
            notices.append(why)
    # the absence and colour answers are those of the units compose answers from (unflagged, "at the
    # start" reordered, after the LLM's choice), as compose found them itself before they were
    # computed once; recomputed only when that order differs from the one they were checked on
    ordered = answer_order(q, usable)
    if absent and _ids(ordered) != absence_units:
        absence = absence_of(q, ordered, following)
    if coloured and _ids(ordered) != colour_units:
        colour = colour_answer(q.text, [s.line for s in ordered])
    extracted = compose(q, ordered, following, absence, colour)
    if not extracted.supported and best_score < UNSUPPORTED_MIN_SCORE:
        return done(ABSTAIN_TEXT, True)
    if backend is None:
        return done(extracted.text, False, extracted.cited)

    shown_n = SMALL_MODEL_LINES if backend.small else backend.max_lines
    shown = _time_order([*extracted.cited, *(s.line for s in usable[:shown_n] if s.line not in extracted.cited)])

    def fallback(reason: str) -> Answer:
        notices.append(reason)
        return done(extracted.text, False, extracted.cited)

    try:
        raw = backend.generate(build_prompt(question, shown))
    except LLMError as exc:
        return fallback(f"{exc}; extractive answer")
    if echoes_prompt(raw):
        return fallback("the model repeated its prompt (check the server's chat template); extractive answer")
    text = _clean_output(raw, backend.small)
    if not text:
        return fallback("the model gave no answer; extractive answer")
    if says_dont_know(text):
        if backend.small or extracted.typed:
            return fallback("the model could not phrase an answer; extractive answer")
        return done(text, True, source="model")
    shown_text = " ".join(ln.text for ln in shown)
    if not numbers(strip_timecodes(text)) <= numbers(shown_text) and not (
            number_values(strip_timecodes(text)) <= number_values(shown_text)):
        return fallback("the model's answer had numbers not in the evidence; extractive answer")
    if is_echo(text, q, labels_of(shown)):
        return fallback("the model's answer only repeated the question or a label; extractive answer")
    grounded, g = best_grounding(text, shown)
    if grounded is None or g < (0.6 if backend.small else 0.5):
        return fallback("the model's answer was not supported by the evidence; extractive answer")
    if backend.small and not extracted.typed and extracted.cited and not _is_span_of(text, extracted.cited[0]):
        # A small model's free rephrasing of a quote loses the quote's words more often than it
        # sharpens them (measured on the real dev set): keep it only when it is a span of the quote.
        return fallback("the small model's answer was not a span of the best evidence; extractive answer")
    if extracted.typed:
        core = strip_timecodes(extracted.text)
        if q.answer_type == "yes_no":
            word = core.split()[0].lower()
            if not re.match(rf"\W*{word}\b", text, re.IGNORECASE):  # "Not ..." is not "No"
                return fallback("the model's yes/no disagreed with the evidence; extractive answer")
        elif not _contains(text, core) and not (q.answer_type == "name" and _same_name(text, core, shown_text)):
            return fallback("the model's answer did not contain the span the evidence gives; extractive answer")
    # The unit the checked span came from is cited: a model often cites a neighbouring line that
    # repeats a word of the answer. A small model's own timecodes are replaced by it (by now its
    # answer is a span of that unit or holds the typed span).
    source = extracted.cited[0] if extracted.cited and (extracted.typed or backend.small) else None
    if source is not None and backend.small:
        text = f"{strip_timecodes(text)} {format_timecode(source.start_s, source.end_s)}"
        return done(text, False, [source], "model")
    candidates = [*([source] if source is not None else []), *shown, *(s.line for s in usable)]
    text, cited, dropped = check_citations(text, list(dict.fromkeys(candidates)))
    if dropped:
        notices.append(f"dropped {dropped} timecode(s) that match no evidence line")
    if source is not None and source not in cited:
        text = f"{text} {format_timecode(source.start_s, source.end_s)}"
        cited = [source, *cited]
    elif not cited:
        text = f"{strip_timecodes(text)} {format_timecode(grounded.start_s, grounded.end_s)}"
        cited = [grounded]
    return done(text, False, cited, "model")
