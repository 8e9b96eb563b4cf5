"""Answering a question from candidate evidence units, designed around small models.

Steps:

1. Analyze the question (:mod:`question`): the evidence kind it names, its answer type, an
   "after X" anchor.
2. Re-rank the candidate units (:mod:`rerank`: retrieval ranks, e5 similarity, keyword and number
   overlap, kind and answer-type match). Units that read like instructions to a model are never
   shown to one nor quoted as the answer; they stay in the evidence, which is data.
3. Abstain when the best unit's probability is under the threshold (:data:`DEFAULT_ABSTAIN_THRESHOLD`).
4. Pick the answer's words (:mod:`spans`): a number, a name, a URL, a command, the value after a
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
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from vqa_pipeline.answer.citations import (
    best_grounding,
    check_citations,
    citation_of,
    content_words,
    has_related,
    numbers,
    strip_timecodes,
)
from vqa_pipeline.answer.llm import LLMBackend, LLMError
from vqa_pipeline.answer.numbers import number_values
from vqa_pipeline.answer.pack import DEFAULT_BUDGET_TOKENS, EvidencePack, PackedLine, format_timecode, merge_duplicates
from vqa_pipeline.answer.prompt import build_prompt, clip, looks_like_instruction
from vqa_pipeline.answer.question import Question, analyze
from vqa_pipeline.answer.rerank import Ranks, Reranker, candidate_features, default_reranker
from vqa_pipeline.answer.spans import answer_spans, is_label, parts_of
from vqa_pipeline.answer.types import Answer, AnswerOptions
from vqa_pipeline.evidence import clean_text, kind_word

DEFAULT_ABSTAIN_THRESHOLD = 0.2
"""Best-unit probability under which ``ask`` abstains when the re-ranker carries no calibrated
threshold of its own (a trained re-ranker does: ``vqa tune`` calibrates it on the dev split)."""
SMALL_MODEL_LINES = 3
MAX_ANSWER_CHARS = 600
MAX_RANK_QUESTION_CHARS = 1000
UNSUPPORTED_MIN_SCORE = 0.85
"""A typed answer from a unit that shares none of the question's own words (see :func:`supports`)
is given only when the best unit is at least this likely; otherwise ``ask`` abstains."""
SPAN_WEIGHT = 0.25
"""How much a span's own fit (label match, nearness to the question's words) counts against the
re-ranker's order when picking the unit a typed answer comes from."""
FOLLOW_WINDOW_S = 30.0
"""How far after an "after X" anchor the next event is looked for."""

ABSTAIN_TEXT = "I don't know: the indexed videos do not seem to contain the answer."
NO_EVIDENCE_TEXT = "I don't know: no evidence was found for this question."
_DONT_KNOW = re.compile(
    r"\b(?:i\s+)?(?:don'?t|do\s+not|cannot|can'?t)\s+(?:know|tell|answer|determine)\b"
    r"|\bnot\s+(?:mentioned|stated|given|found|in\s+the\s+evidence)\b|\bno\s+(?:information|evidence)\b",
    re.IGNORECASE,
)
_NEGATION = re.compile(r"\b(?:not|no|never|none|nobody|nothing|neither|nor|without|cannot)\b|n't\b", re.IGNORECASE)
_ANY_EVENT = re.compile(r"\bwhat (?:happens|happened|comes|came|follows|followed)\b", re.IGNORECASE)
_NON_EVENT = re.compile(r"^(?:silence|dominant colou?rs?\b.*|no speech)$", re.IGNORECASE)
_FILLER = frozenset(content_words(
    "do done did make made give given take took show shown see seen say said film movie video clip person people "
    "thing things one someone something part work worked"))
_AUX = frozenset(["is", "are", "was", "were", "do", "does", "did", "can", "could", "will", "would", "should", "has", "have", "had", "am", "be"])


def says_dont_know(text: str) -> bool:
    return bool(_DONT_KNOW.search(text))


Context = Callable[..., Sequence[PackedLine]]
"""``context(unit, whole=False)``: units of the unit's video around it (or all of them)."""


@dataclass(frozen=True, slots=True)
class ScoredUnit:
    """A candidate unit with its re-ranker probability and features."""

    line: PackedLine
    score: float
    features: dict
    flagged: bool


# ----------------------------------------------------------------------------------------------
# ranking


_passage_cache: dict[str, np.ndarray] = {}


def embed_units(lines: Sequence[PackedLine]) -> np.ndarray:
    """e5 passage vectors of ``"<kind word>: <text>"`` per unit (cached per text in this process)."""
    from vqa_pipeline.extractors.text_embed import embed_passages

    texts = [f"{kind_word(ln.kind)}: {clean_text(ln.kind, ln.text)}" for ln in lines]
    missing = sorted({t for t in texts if t not in _passage_cache})
    if missing:
        if len(_passage_cache) > 50_000:
            _passage_cache.clear()
        for t, v in zip(missing, embed_passages(missing)):
            _passage_cache[t] = v
    return np.stack([_passage_cache[t] for t in texts]) if texts else np.zeros((0, 384), np.float32)


def _question_vector(question: str) -> np.ndarray:
    from vqa_pipeline.extractors.text_embed import embed_query

    return embed_query(question)


def ranks_from_priorities(lines: Sequence[PackedLine]) -> Ranks:
    """Ranks when only a pack is known: each window ranks at its lines' priority."""
    fused: dict[str, int] = {}
    for ln in lines:
        for w in ln.window_ids:
            fused[w] = min(fused.get(w, 10**6), int(ln.priority))
    return Ranks(fused, {w: -float(r) for w, r in fused.items()}, {})


def rank_units(q: Question, lines: Sequence[PackedLine], ranks: Ranks, reranker: Reranker,
               question_vector: np.ndarray | None = None) -> list[ScoredUnit]:
    """Candidate units scored by the re-ranker, best first (ties keep candidate order)."""
    if not lines:
        return []
    qv = np.asarray(question_vector if question_vector is not None else _question_vector(q.text), np.float32).ravel()
    sims = embed_units(lines) @ qv
    out = [ScoredUnit(ln, reranker.score(f), f, looks_like_instruction(ln.text))
           for ln, f in zip(lines, candidate_features(q, lines, ranks, sims))]
    order = sorted(range(len(out)), key=lambda i: -out[i].score)
    return [out[i] for i in order]


def pack_units(ranked: Sequence[ScoredUnit], budget_tokens: int = DEFAULT_BUDGET_TOKENS) -> EvidencePack:
    """The best units that fit the budget, grouped by video (best first) and in time order."""
    from vqa_pipeline.answer.pack import estimate_tokens, video_header

    chosen: list[tuple[int, PackedLine]] = []
    used, headers = 0, set()
    for i, s in enumerate(ranked):
        ln = s.line
        cost = estimate_tokens(ln.format()) + 1 + (0 if ln.video_id in headers else
                                                   estimate_tokens(video_header(ln.video_id, ln.source)) + 1)
        if used + cost > budget_tokens:
            continue
        used += cost
        headers.add(ln.video_id)
        chosen.append((i, ln))
    first: dict[str, int] = {}
    for i, ln in chosen:
        first.setdefault(ln.video_id, i)
    lines = tuple(ln for _, ln in sorted(chosen, key=lambda x: (first[x[1].video_id], x[1].start_s, x[1].end_s)))
    return EvidencePack(lines, budget_tokens, used, len(ranked) - len(chosen))


# ----------------------------------------------------------------------------------------------
# composing the answer


def _at(ln: PackedLine) -> str:
    return format_timecode(ln.start_s, ln.end_s)


def is_echo(answer: str, q: Question, labels: Sequence[str] = ()) -> bool:
    """Whether an answer says nothing beyond the question's own words and the evidence's labels."""
    words = set(content_words(strip_timecodes(answer)))
    label_words = {w for lab in labels for w in content_words(lab)}
    extra = words - set(q.words) - label_words - _FILLER
    nums = number_values(strip_timecodes(answer)) - number_values(q.text)
    return not extra and not nums


def _labels(lines: Sequence[PackedLine]) -> list[str]:
    return [p for ln in lines for p in parts_of(ln.text, ln.parts) if is_label(p)]


def yes_or_no(q: Question, line: PackedLine) -> str:
    """``Yes`` when the unit states the question's proposition, else ``No``.

    Every name and number of the question must be in the unit, most of its other words too, and
    both must be negated alike ("open on Sundays" vs "closed on Sundays" is a no).
    """
    text = line.text
    unit_words = set(content_words(text))
    words = [w for w in q.words if w not in _AUX]
    if not words:
        return "No"
    key = [w for w in content_words(" ".join(re.findall(r"\b[A-Z][a-z]+\b|\d+(?:\.\d+)?", q.text.split(" ", 1)[-1])))]
    if any(w not in unit_words for w in key):
        return "No"
    q_nums, u_nums = number_values(q.text), number_values(text)
    if q_nums and not q_nums <= u_nums:
        return "No"
    coverage = sum(1 for w in words if w in unit_words) / len(words)
    same_polarity = len(_NEGATION.findall(q.text)) % 2 == len(_NEGATION.findall(text)) % 2
    return "Yes" if coverage >= 0.75 and same_polarity else "No"


def _yes_no_support(q: Question, usable: Sequence[ScoredUnit], top_n: int = 5) -> ScoredUnit:
    """The unit a yes/no question is about: among the best units, the one holding most of the
    question's words other than names (names mostly say which recording: "the Kestrel Museum")."""
    head = usable[:top_n]
    names = set(content_words(" ".join(re.findall(r"\b[A-Z][\w'’]*", q.text.split(" ", 1)[-1]))))
    key = [w for w in q.words if w not in _AUX and w not in names] or [w for w in q.words if w not in _AUX]

    def cover(s: ScoredUnit) -> int:
        have = set(content_words(s.line.text))
        return sum(1 for w in key if has_related(w, have))

    return max(head, key=lambda s: (cover(s), s.score))


def _anchor_unit(q: Question, ranked: Sequence[ScoredUnit], top_n: int = 15) -> ScoredUnit | None:
    """The candidate that best matches the "after X" phrase: the words of X first, then the rest of
    the question's words (which name the video: "what did Diane hear before ..."), then the re-ranker."""
    anchor_words = set(content_words(q.anchor)) or set(q.words)
    other = set(q.words) - anchor_words
    best, best_key = None, None
    for s in ranked[:top_n]:
        if s.flagged:
            continue
        have = set(content_words(s.line.text)) | set(content_words(kind_word(s.line.kind)))
        overlap = len(anchor_words & have) / max(len(anchor_words), 1) + 0.5 * len(other & have) / max(len(other), 1)
        key = (round(overlap, 3), s.score)
        if best_key is None or key > best_key:
            best, best_key = s, key
    return best


def _nth_unit(q: Question, top: PackedLine, pool: Sequence[PackedLine]) -> PackedLine | None:
    """For "first / second / last ..." questions: that unit, in time order, of the best unit's video
    and kind (or the kinds the question names); units that only restate the question are skipped."""
    has_speech = any(ln.video_id == top.video_id and ln.kind == "asr" for ln in pool)
    kinds = set(q.kinds) or ({"asr"} if has_speech else {top.kind})
    qwords = set(q.words)
    units = sorted({(ln.start_s, ln.end_s, ln.text): ln for ln in pool
                    if ln.video_id == top.video_id and ln.kind in kinds and not looks_like_instruction(ln.text)
                    and not _NON_EVENT.match(clean_text(ln.kind, ln.text))}.values(), key=lambda ln: (ln.start_s, ln.end_s))
    units = [ln for ln in units if set(content_words(ln.text)) - qwords]
    if not units:
        return None
    index = {"first": 0, "second": 1, "third": 2, "last": -1, "final": -1}.get(q.ordinal)
    if index is None or (index >= 0 and index >= len(units)):
        return None
    return units[index]


def _next_unit(q: Question, anchor: PackedLine, later: Sequence[PackedLine]) -> PackedLine | None:
    """The first unit after (or, for ``previous``, before) the anchor, preferring the kinds asked for."""
    if q.answer_type == "next":
        pool = [ln for ln in later if ln.start_s >= anchor.end_s - 0.3 and ln.text != anchor.text]
        pool.sort(key=lambda ln: (ln.start_s, ln.end_s))
    else:
        pool = [ln for ln in later if ln.end_s <= anchor.start_s + 0.3 and ln.text != anchor.text]
        pool.sort(key=lambda ln: (-ln.end_s, -ln.start_s))
    pool = [ln for ln in pool if not looks_like_instruction(ln.text) and not _NON_EVENT.match(clean_text(ln.kind, ln.text))]
    # the kinds the question names; for "what happens next" any event; else the anchor's own kind
    # ("which card was called after the seven of clubs")
    if q.kinds:
        kinds = set(q.kinds)
    elif _ANY_EVENT.search(q.text):
        kinds = {"asr", "audio", "ocr"}
    else:
        kinds = {anchor.kind}
    wanted: list[PackedLine | None] = [ln for ln in pool if ln.kind in kinds]
    return (wanted or pool or [None])[0]


def _named_part(q: Question, line: PackedLine) -> str | None:
    """In an on-screen block, the one line that holds the question's words and more (``Chapter 1``
    of ``Sense and Sensibility / Chapter 1 / Jane Austen`` for "which chapter ...?")."""
    parts = parts_of(line.text, line.parts) if line.kind == "ocr" else []
    if len(parts) < 2:
        return None
    qwords = set(q.words)
    scored = []
    for p in parts:
        have = set(content_words(p))
        hit = len(have & qwords)
        if hit and have - qwords:
            scored.append((hit, -len(p), p))
    return max(scored)[2] if scored else None


@dataclass(frozen=True, slots=True)
class Composed:
    text: str
    cited: tuple[PackedLine, ...]
    typed: bool  # an answer of the question's type was found (not just the best unit quoted)
    supported: bool = True  # the unit it came from holds one of the question's own words


_GENERIC = frozenset(content_words(
    "name named many much number amount time people person thing things kind type called call happen happens "
    "video clip recording film day year"))


def supports(q: Question, line: PackedLine) -> bool:
    """Whether a unit holds at least one of the question's words besides names, numbers and generic
    words (stems count: "edited" ~ "EDITOR"). An answer of the right type from a unit that shares
    only a name with the question ("How many people attended the 1961 inauguration?" -> a date
    card saying 1961) is not evidence for it."""
    names = set(content_words(" ".join(re.findall(r"\b[A-Z][\w'’]*", q.text.split(" ", 1)[-1]))))
    key = [w for w in q.words if w not in names and w not in _GENERIC and w not in _AUX and not w[0].isdigit()]
    have = set(content_words(clean_text(line.kind, line.text)))
    if not key or len(names & have) >= 2:  # "... calling from New Jersey?" -> "This is Diane in New Jersey."
        return True
    return any(has_related(w, have) for w in key)


def compose(q: Question, ranked: Sequence[ScoredUnit], following: Context | None = None) -> Composed:
    """The extractive answer: the words of the question's type from the best units."""
    usable = [s for s in ranked if not s.flagged]
    top = usable[0]
    if q.answer_type in ("next", "previous"):
        anchor = _anchor_unit(q, usable)
        if anchor is not None:
            later = list(following(anchor.line)) if following is not None else []
            later += [s.line for s in usable if s.line.video_id == anchor.line.video_id]
            nxt = _next_unit(q, anchor.line, later)
            if nxt is not None:
                return Composed(f"{clean_text(nxt.kind, nxt.text)} {_at(nxt)}", (nxt,), True)
    if q.answer_type == "yes_no":
        support = _yes_no_support(q, usable)
        return Composed(f"{yes_or_no(q, support.line)} {_at(support.line)}", (support.line,), True)
    if q.ordinal and q.answer_type in ("text", "name", "number") and following is not None:
        nth = _nth_unit(q, top.line, following(top.line, whole=True))
        if nth is not None:
            spans = answer_spans(q, clean_text(nth.kind, nth.text), nth.parts, nth.kind)
            text = spans[0].text if spans and q.answer_type != "text" else clean_text(nth.kind, nth.text)
            return Composed(f"{text} {_at(nth)}", (nth,), True)
    if q.answer_type not in ("text", "time", "next", "previous"):
        # Among the well-ranked units holding an answer of the type, the best unit-and-span pair:
        # a value under the label the question names, a number next to the question's words.
        floor = 0.3 * top.score
        best, best_key = None, None
        for rank, s in enumerate(usable[:6]):
            if s.score < floor:
                break
            spans = answer_spans(q, clean_text(s.line.kind, s.line.text), s.line.parts, s.line.kind)
            if spans:
                key = s.score / top.score + SPAN_WEIGHT * min(spans[0].score, 4.0) - 0.05 * rank
                if best_key is None or key > best_key:
                    best, best_key = (s.line, spans[0]), key
        if best is not None:
            return Composed(f"{best[1].text} {_at(best[0])}", (best[0],), True, supports(q, best[0]))
    spans = answer_spans(q, clean_text(top.line.kind, top.line.text), top.line.parts, top.line.kind)
    if spans and top.line.kind == "ocr":  # the value after the label the question names
        return Composed(f"{spans[0].text} {_at(top.line)}", (top.line,), True)
    part = _named_part(q, top.line)
    if part:
        return Composed(f"{part} {_at(top.line)}", (top.line,), False)
    return Composed(f"{clean_text(top.line.kind, top.line.text)} {_at(top.line)}", (top.line,), False)


def _clean_output(text: str, small: bool) -> str:
    text = text.strip()
    if small:
        text = text.splitlines()[0] if text else ""
    text = re.sub(r"^\s*(?:answer\s*:)\s*", "", text, flags=re.IGNORECASE).strip().strip('"').strip()
    return text[:MAX_ANSWER_CHARS]


def _time_order(lines: Sequence[PackedLine]) -> list[PackedLine]:
    first: dict[str, int] = {}
    for i, ln in enumerate(lines):
        first.setdefault(ln.video_id, i)
    return sorted(dict.fromkeys(lines), key=lambda ln: (first[ln.video_id], ln.start_s, ln.end_s))


def answer_question(question: str, candidates: Sequence[PackedLine] | EvidencePack, backend: LLMBackend | None, *,
                    ranks: Ranks | None = None, reranker: Reranker | None = None,
                    abstain_threshold: float | None = None,
                    question_vector: np.ndarray | None = None,
                    following: Context | None = None,
                    extra_notice: str | None = None, budget_tokens: int = DEFAULT_BUDGET_TOKENS) -> Answer:
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

    def done(text: str, abstained: bool, cited: Sequence[PackedLine] = ()) -> Answer:
        return Answer(question, text, abstained, tuple(dict.fromkeys(citation_of(ln) for ln in cited)), evidence,
                      "; ".join(notices) or None, options)

    if not ranked:
        return done(NO_EVIDENCE_TEXT, True)
    n_flagged = sum(s.flagged for s in ranked)
    if n_flagged:
        notices.append(f"withheld {n_flagged} evidence line(s) that read like instructions to a model")
    usable = [s for s in ranked if not s.flagged]
    if not usable or usable[0].score < abstain_threshold:
        return done(ABSTAIN_TEXT, True)
    extracted = compose(q, usable, following)
    if not extracted.supported and usable[0].score < UNSUPPORTED_MIN_SCORE:
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
    text = _clean_output(raw, backend.small)
    if not text:
        return fallback("the model gave no answer; extractive answer")
    if says_dont_know(text):
        if backend.small or extracted.typed:
            return fallback("the model could not phrase an answer; extractive answer")
        return done(text, True)
    shown_text = " ".join(ln.text for ln in shown)
    if not numbers(strip_timecodes(text)) <= numbers(shown_text) and not (
            number_values(strip_timecodes(text)) <= number_values(shown_text)):
        return fallback("the model's answer had numbers not in the evidence; extractive answer")
    if is_echo(text, q, _labels(shown)):
        return fallback("the model's answer only repeated the question or a label; extractive answer")
    grounded, g = best_grounding(text, shown)
    if grounded is None or g < (0.6 if backend.small else 0.5):
        return fallback("the model's answer was not supported by the evidence; extractive answer")
    if extracted.typed:
        core = strip_timecodes(extracted.text)
        if q.answer_type == "yes_no":
            word = core.split()[0].lower()
            if not text.lower().startswith(word):
                return fallback("the model's yes/no disagreed with the evidence; extractive answer")
        elif core.casefold() not in text.casefold() and not (
                number_values(core) and number_values(core) <= number_values(strip_timecodes(text))):
            return fallback("the model's answer did not contain the span the evidence gives; extractive answer")
    text, cited, dropped = check_citations(text, list(dict.fromkeys([*shown, *(s.line for s in usable)])))
    if dropped:
        notices.append(f"dropped {dropped} timecode(s) that match no evidence line")
    if not cited:
        anchor = extracted.cited[0] if extracted.typed and extracted.cited else grounded
        text = f"{strip_timecodes(text)} {_at(anchor)}"
        cited = [anchor]
    return done(text, False, cited)
