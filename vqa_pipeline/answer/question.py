"""What a question asks for: which kind of evidence, which type of answer, and any time order.

Rules, not a model: the words people use to ask about on-screen text, speech and sounds are few
and stable, and a small rule set is predictable and cheap. The result feeds the re-ranker
(kind and answer-type match) and the answer step (what to pick out of the chosen unit).

- evidence kind: ``ocr`` ("written", "shown", "on the slide", "logo", "typed", "website", ...),
  ``asr`` ("say", "mention", "tell", ...), ``audio`` ("hear", "sound", "beep", ...), ``visual``
  ("colour", "scene", "what is seen", ...); none when the question does not say.
- answer type: ``yes_no``, ``number``, ``name``, ``url``, ``command``, ``time`` ("when"),
  ``next`` / ``previous`` ("what happens after X"), ``count`` or ``text``.
- order: the anchor phrase X of "after X" / "before X" / "first" / "then".

Example:
    >>> q = analyze("Who edited the film?")
    >>> q.answer_type, sorted(q.kinds)
    ('name', [])
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from vqa_pipeline.answer.citations import STOPWORDS, content_words

_KIND_CUES: dict[str, tuple[str, ...]] = {
    "ocr": (
        r"\bwritten\b", r"\bwrites?\b", r"\bshown\b", r"\bshows?\b", r"\bdisplayed\b", r"\bdisplays?\b",
        r"\bon[- ]screen\b", r"\bon the (?:slide|screen|card|sign|board|banner|title|poster|page|label)\b",
        r"\bslides?\b", r"\blogo\b", r"\btyped?\b", r"\btypes\b", r"\bwebsite\b", r"\burl\b", r"\bweb ?address\b",
        r"\btitle\b", r"\bcaption\b", r"\bsubtitle\b", r"\bsign\b", r"\bheading\b", r"\bcredits?\b", r"\bbanner\b",
        r"\bread(?:s)?\b", r"\btext\b", r"\bterminal\b", r"\bcommand\b", r"\blabel(?:led)?\b", r"\bspelled\b",
    ),
    "asr": (
        r"\bsays?\b", r"\bsaid\b", r"\bsaying\b", r"\bmentions?(?:ed)?\b", r"\btells?\b", r"\btold\b",
        r"\bspeaker\b", r"\bnarrat", r"\bannounce", r"\btalks?(?:ed|ing)?\b", r"\bspoken\b", r"\bvoice\b",
        r"\bexplains?\b", r"\baccording to\b", r"\breads? out\b", r"\bpronounce", r"\brecit", r"\bquote",
    ),
    "audio": (
        r"\bhear[ds]?\b", r"\bsounds?\b", r"\bbeeps?\b", r"\bnoise\b", r"\brings?\b", r"\bringing\b",
        r"\balarm\b", r"\bmusic\b", r"\bbell\b", r"\bchime\b", r"\bwhistle\b", r"\bsiren\b", r"\bhorn\b",
        r"\bbark", r"\bapplause\b", r"\blaugh", r"\baudible\b", r"\bloud\b", r"\btone\b", r"\bsaxophone\b",
        r"\binstrument\b", r"\bsong\b", r"\bplaying\b",
    ),
    "visual": (
        r"\bcolou?r\b", r"\bscene\b", r"\bseen\b", r"\bvisible\b", r"\bappears?\b", r"\bmoving\b", r"\bmotion\b",
        r"\bbackground\b", r"\bbright\b", r"\bdark\b", r"\bpicture\b", r"\bimage\b",
        # what the object detector says; a thing it names is not a cue by itself ("how does the trailer
        # describe the bird?" is about words)
        r"\bobjects?\b", r"\bin (?:the )?(?:frame|shot)\b",
    ),
}
_KIND_RES = {k: re.compile("|".join(v), re.IGNORECASE) for k, v in _KIND_CUES.items()}
_STRONG_OCR = re.compile(r"\b(?:written|shown|on[- ]screen|slides?|typed|banner|sign|caption|card|logo|poster|"
                         r"board|label|displayed|terminal)\b", re.IGNORECASE)
_CONTRACTIONS = re.compile(r"\b(what|who|where|when|which|how|that|it|there)['’]s\b", re.IGNORECASE)
_SPOKEN_OVERRIDES = re.compile(r"\b(?:say|said|says|mention|tell|told|spoken|announce)", re.IGNORECASE)

_YES_NO = re.compile(
    r"^\s*(?:is|are|was|were|do|does|did|can|could|will|would|should|has|have|had|isn't|aren't|wasn't|doesn't|"
    r"didn't|does|am)\b", re.IGNORECASE)
_WH = re.compile(r"\b(?:what|which|who|whom|whose|when|where|why|how)\b", re.IGNORECASE)

_WHO = re.compile(r"^\s*(?:who|whom|whose)\b", re.IGNORECASE)
_TYPE_RULES: tuple[tuple[str, re.Pattern], ...] = (
    ("url", re.compile(r"\b(?:which|what) (?:web ?site|website|url|web address|domain|site)\b|\burl\b|"
                       r"\bweb ?address\b|\bwebsite\b", re.IGNORECASE)),
    ("command", re.compile(r"\b(?:what|which) (?:command|instruction)s?\b|\bcommand (?:is|was) (?:typed|run|entered)\b|"
                           r"\btyped? (?:in|into) the terminal\b|\bwhat (?:is|was) typed\b|\bcommand\b",
                           re.IGNORECASE)),
    ("count", re.compile(r"\bhow many\b|\bnumber of\b|\bcount\b", re.IGNORECASE)),
    ("date", re.compile(r"\b(?:what|which) (?:date|day)\b|\bon what (?:date|day)\b|\bwhat day of the week\b",
                        re.IGNORECASE)),
    ("number", re.compile(
        r"\bhow much\b|\bhow long\b|\bhow old\b|\bhow far\b|\bhow fast\b|\bhow high\b|\bhow hot\b|\bhow big\b|"
        r"\bhow full\b|\bhow heavy\b|\bhow deep\b|\bhow wide\b|\bhow tall\b|\bhow cold\b|\bhow warm\b|"
        r"\bwhat (?:is |was |are |were )?(?:the )?(?:[\w'’]+ ){0,2}(?:number|price|cost|temperature|percentage|percent|year|"
        r"total|score|amount|extension|code|pin|platform|gate|room|page|speed|distance|weight|height|age|rate|"
        r"fee|figure|revenue|budget|salary|dose|capacity|size|version|channel|floor|seat|flight|bus|track|time)\b|"
        r"\bwhich (?:number|platform|gate|room|page|year|extension|floor|channel|track|version|seat|flight|bus)\b|"
        r"\bwhich [\w'’]+ number\b|"
        r"\bwhat time\b|\bwhat digits?\b|\bwhich digits?\b|\bpress\b", re.IGNORECASE)),
    ("name", re.compile(r"^\s*who\b|\bwho(?:se|m)?\b|\bwhat (?:is|was) (?:the |his |her |their )?name\b|"
                        r"\bwhich (?:person|speaker|company|brand|team|city|country|organi[sz]ation)\b|\bnamed\b|"
                        r"\bwhat (?:company|brand|team|city|country|organi[sz]ation)\b", re.IGNORECASE)),
    ("time", re.compile(r"^\s*when\b|\bat what (?:point|moment)\b|\bwhat time in the (?:video|clip)\b",
                        re.IGNORECASE)),
)
_AFTER = re.compile(r"\b(?:right |just |immediately |directly )?(?:after|following|once|then)\b(?P<x>.*)$",
                    re.IGNORECASE)
_BEFORE = re.compile(r"\b(?:right |just |immediately |directly )?(?:before|prior to|preceding)\b(?P<x>.*)$",
                     re.IGNORECASE)
_WHAT_HAPPENS = re.compile(r"\bwhat (?:happens|happened|comes|came|follows|followed|is (?:said|heard|shown|seen)|"
                           r"was (?:said|heard|shown|seen)|(?:does|did) (?:he|she|they|it|the \w+) (?:say|do|show))\b"
                           r"|\bwhat (?:is|was) the (?:next|following|previous) (?:step|event|sound|thing)\b",
                           re.IGNORECASE)
_AT_START = re.compile(r"\b(?:at|in|near) the (?:very )?(?:start|beginning|opening)\b|\bopening (?:card|title|shot|scene)\b",
                       re.IGNORECASE)
_AT_END = re.compile(r"\b(?:at|in|near) the (?:very )?end\b|\bend credits\b|\bclosing (?:card|title|shot|scene)\b|"
                     r"\bfinally\b", re.IGNORECASE)
_SCORE = re.compile(r"\b(?:score|scoreline|result)s?\b(?! (?:of|in) (?:the )?(?:test|exam|quiz))", re.IGNORECASE)
_PHONE = re.compile(r"\b(?:tele)?phone\b|\b(?:call|ring|dial|text)(?:ed)?(?: \w+)? back\b|"
                    r"\bnumber\b.*\b(?:call|ring|dial)\b|\b(?:call|ring|dial)\b.*\bnumber\b", re.IGNORECASE)
_FIRST_LAST = re.compile(r"\b(?:first|last|final|second|third|next)\b", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Question:
    """What :func:`analyze` found.

    Attributes:
        text: the question, whitespace-normalized.
        kinds: evidence kinds the question names (empty when it does not say).
        answer_type: ``yes_no``, ``number``, ``count``, ``name``, ``url``, ``command``, ``time``,
            ``next``, ``previous`` or ``text``.
        anchor: for ``next``/``previous``, the phrase X of "after X" ("" otherwise).
        words: content words of the question (stemmed, see :func:`content_words`).
        ordinal: "first", "last", ... when the question asks for one event of a sequence.
        measure: the question asks for an amount with a unit ("how long", "how much", "cost").
        position: ``"start"`` or ``"end"`` when the question places the answer there ("at the
            start", "in the end credits"), else ``""``.
        names: the proper names the question mentions, as spelled there (see :func:`proper_names`).
        form: for a ``number`` question, the shape the answer has when it is one people write in a
            fixed form: ``"score"`` (a result such as ``3-2``) or ``"phone"`` (a number to call);
            ``""`` otherwise.
    """

    text: str
    kinds: frozenset[str] = field(default_factory=frozenset)
    answer_type: str = "text"
    anchor: str = ""
    words: tuple[str, ...] = ()
    ordinal: str = ""
    measure: bool = False
    position: str = ""
    names: tuple[str, ...] = ()
    form: str = ""


def number_form(text: str, answer_type: str) -> str:
    """``"score"`` or ``"phone"`` for a number question asking for one (see :class:`Question`)."""
    if answer_type != "number":
        return ""
    if _PHONE.search(text):
        return "phone"
    return "score" if _SCORE.search(text) else ""


def proper_names(text: str) -> tuple[str, ...]:
    """Capitalized words that do not start a sentence: "the train to Manchester" -> ``("Manchester",)``.

    Acronyms ("URL", "PIN"), words under 3 letters and stopwords ("What", "The" in a Title-Case
    question) are left out; a possessive 's is dropped.
    """
    out = []
    for clause in re.split(r"[.?!:;]\s+", text):
        words = re.findall(r"[^\W\d_]+(?:['’][^\W\d_]+)?", clause)
        for w in words[1:]:
            w = re.sub(r"['’]s$", "", w)
            if not w[0].isupper() or w.isupper() or len(w) < 3 or w.casefold() in STOPWORDS:
                continue
            out.append(w)
    return tuple(dict.fromkeys(out))


def _clean_anchor(x: str) -> str:
    return re.sub(r"[?.!]+$", "", x).strip(" ,")


def analyze(question: str) -> Question:
    """Kind, answer type and order of ``question`` (never raises; odd input gives ``text``)."""
    text = " ".join(str(question).split())
    text = _CONTRACTIONS.sub(lambda m: m.group(1) + " is", text)
    kinds = {k for k, rx in _KIND_RES.items() if rx.search(text)}
    if "ocr" in kinds and "asr" in kinds:
        if _STRONG_OCR.search(text):
            kinds.discard("asr")  # "what does the sign say" is about on-screen text
        elif _SPOKEN_OVERRIDES.search(text):
            kinds.discard("ocr")  # "what does the narrator say the title is" is about speech
    answer_type = "text"
    anchor = ""
    if _YES_NO.match(text) and not _WH.search(text.split(",")[0]):
        answer_type = "yes_no"
    else:
        after, before = _AFTER.search(text), _BEFORE.search(text)
        if (after or before) and (_WHAT_HAPPENS.search(text) or re.match(r"^\s*(?:what|which)\b", text, re.I)):
            m = after or before
            assert m is not None  # the condition above
            answer_type = "next" if m is after else "previous"
            anchor = _clean_anchor(m.group("x"))
        elif _WHO.match(text):
            answer_type = "name"
        else:
            for name, rx in _TYPE_RULES:
                if rx.search(text):
                    answer_type = name
                    break
    if answer_type == "text" and _PHONE.search(text) and re.match(r"^\s*(?:what|which)\b", text, re.I):
        answer_type = "number"  # "what should I dial to call back?"
    form = number_form(text, answer_type)
    ordinal = ""
    m = _FIRST_LAST.search(text)
    if form == "score":
        m = None  # "the final score" is the result, not the last of several scores
    if m and answer_type in ("text", "name", "number", "next", "previous"):
        ordinal = m.group(0).lower()
    if answer_type == "command":
        kinds.add("ocr")
    position = ("start" if _AT_START.search(text) else "end" if _AT_END.search(text) else "")
    measure = bool(re.search(r"\bhow (?:long|much|far|fast|heavy|big)\b|\b(?:cost|price|fee|duration)\b", text, re.I))
    return Question(text, frozenset(kinds), answer_type, anchor, tuple(content_words(text)), ordinal, measure,
                    position, proper_names(text), form)
