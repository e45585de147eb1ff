"""Which part of a quoted sentence answers: the extractive answer quotes a span, not always the whole sentence.

Answers ran 1.5-3.5x the reference's tokens (docs/evaluation-forms.md, "Concise answers"): whole
verbatim sentences carry framing that states no claim ("In this paper, ...", "To address this issue,
...", "..., heralding a new era of ..."). A quote here is still the abstract's own words, one
contiguous part of one sentence, never re-cased or re-worded; the writer marks each cut with "...", so a
trimmed quote reads as a fragment, and `check_citations` resolves it to its place in the abstract.

Two steps:
- `LEAD_RULES` / `TAIL_RULES`, a named rule table (each row with an example its test checks):
  framing at the start or end of a sentence, dropped when the rule is on.
- a small word model: each word's probability of being one of the reference answer's words (its IDF,
  a stop word, in the question, in the title, a number, in parentheses, its place, a capital; logistic,
  `word_rows`). The sentence is cut only at clause bounds (`CUT`: ", ", "; ", ": ", a dash), a part
  never starts on a word that leans on the clause before (`LEANING`: "but", "which", an -ing word)
  nor holds half a parenthesis or half a dashed aside ("-- inspired by fMRI --"), and the run of
  parts whose words sum the most probability above `keep_odds` is kept: a word adds to token F1 only
  when it is likely enough to be the reference's. Cutting inside phrases scored a
  little more on tune but quoted fragments such as "...with Group Aggregation framework". Asked for
  a number or a limitation, the run keeps what holds it.

A cut never keeps less than `SpanChoice.min_keep` of the sentence's words, so the quote still covers
the sentence the key-sentence measure looks for. The rules that are on, the weights and both numbers
are fitted on the tune halves (`scripts/fit_spans.py`) and ship as `rag/spans.json`.
"""

from __future__ import annotations

import bisect
import math
import re
import string
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, model_validator

from rag.answer.sentence_scorer import NUMBER, WEAKNESS
from rag.model_file import load_model_file, save_model_file

DEFAULT_SPANS_FILE = Path(__file__).resolve().parent.parent / "spans.json"

ELLIPSIS = "..."  # ASCII: the answer's own mark of a cut, never a token of its words


@dataclass(frozen=True)
class SpanRule:
    """One row of a rule table: framing `pattern` matches, and `example` loses exactly `dropped`."""

    name: str
    pattern: re.Pattern[str]
    example: str
    dropped: str


def _rule(name: str, pattern: str, example: str, dropped: str) -> SpanRule:
    return SpanRule(name, re.compile(pattern, re.IGNORECASE), example, dropped)


# framing before the claim; each pattern ends where the kept span starts
LEAD_RULES: tuple[SpanRule, ...] = (
    _rule(
        "this_paper",
        r"^(?:in|within|through|with) (?:this|the present|our) (?:paper|work|study|article|letter|report|note),\s+",
        "In this paper, we propose a sparse retriever.",
        "In this paper, ",
    ),
    _rule(
        "to_address",
        r"^(?:to|in order to) (?:address|tackle|overcome|solve|mitigate|alleviate|remedy|bridge|fill|fix|resolve|"
        r"handle|close|circumvent|avoid|meet) (?:[\w-]+ ){0,5}?[\w-]+,\s+",
        "To address this issue, we introduce Monet.",
        "To address this issue, ",
    ),
    _rule(
        "to_this_end",
        r"^(?:to (?:this|that) end|with (?:this|that) (?:in mind|goal|aim)|for (?:this|that) (?:purpose|reason)),\s+",
        "To this end, we train a small model.",
        "To this end, ",
    ),
    _rule(
        "given",
        r"^(?:(?:therefore|thus|hence|accordingly),\s+)?(?:given|motivated by|inspired by|building (?:up)?on|"
        r"drawing on|in light of|guided by|leveraging|capitalizing on|exploiting) [^,;:()]{3,120}?,\s+"
        r"(?=(?:we|our|this|these|the|it|they)\b)",
        "Therefore, given the excellent properties of SAEs, we use them to steer models.",
        "Therefore, given the excellent properties of SAEs, ",
    ),
    _rule(
        "connective",
        r"^(?:therefore|thus|hence|consequently|accordingly|moreover|furthermore|additionally|in addition|notably|"
        r"importantly|specifically|in particular|finally|overall|in summary|in conclusion|to summarize|"
        r"as a result|surprisingly|interestingly|crucially|concretely|further|besides|lastly|first|second|third|"
        r"firstly|secondly|thirdly|in practice|in short|in general|indeed|remarkably|empirically|experimentally),\s+",
        "Notably, our MoE variants match N individual models.",
        "Notably, ",
    ),
    _rule(
        "contrast",
        r"^(?:however|nevertheless|nonetheless|yet|still|instead|in contrast|by contrast|conversely|"
        r"on the other hand|unfortunately),\s+",
        "However, these models fail on long inputs.",
        "However, ",
    ),
)

# framing after the claim; each pattern starts where the kept span ends, and runs to the sentence's end
TAIL_RULES: tuple[SpanRule, ...] = (
    _rule(
        "new_era",
        r",\s+(?:heralding|paving the way|opening (?:up )?(?:new|a|the)|ushering|marking|shedding (?:new )?light|"
        r"setting (?:a|the) (?:new )?(?:stage|standard)|laying (?:the )?(?:a )?foundation|offering (?:a )?"
        r"(?:promising|new|fresh) (?:direction|avenue|perspective|path)s?)[^;]*$",
        "Our variants match N models, heralding a new era of versatile transformers.",
        ", heralding a new era of versatile transformers.",
    ),
    _rule(
        "showing_worth",
        r",\s+(?:demonstrating|highlighting|underscoring|showcasing|illustrating|confirming|validating|proving|"
        r"emphasizing|revealing|suggesting|indicating) (?:the|its|their|our) (?:[\w-]+ ){0,3}?(?:effectiveness|"
        r"efficacy|potential|superiority|promise|value|importance|utility|usefulness|viability|feasibility|"
        r"benefits?|advantages?|strengths?|robustness|generality|generali[sz]ability|versatility|merits?|power|"
        r"applicability|practicality)\b[^;]*$",
        "It beats BM25 on five datasets, demonstrating the effectiveness of our method.",
        ", demonstrating the effectiveness of our method.",
    ),
    _rule(
        "hope",
        r",\s+(?:and )?(?:we )?(?:hope|believe|anticipate|expect) (?:that )?(?:this|our|these|it)\b[^;]*$",
        "We release the benchmark, and we hope it will foster research.",
        ", and we hope it will foster research.",
    ),
)

# a quoted part may start or end only at a clause boundary: a comma, semicolon, colon or dash (dropped),
# never inside a phrase ("Mixture of Experts with Group Aggregation" stays whole), so a part reads on its own
DASH = re.compile(r"\s+(?:--|—|–)\s+")  # a dash between words; in pairs it sets off an aside (`dash_asides`)
CUT = re.compile(r"(?<!e\.g\.)(?<!i\.e\.)[;,:]\s+|" + DASH.pattern)
# a part may not start on a word that leans on the clause before it ("...but instead has", "...where the")
LEANING = re.compile(
    r"(?:and|or|but|nor|yet|so|which|where|whereas|while|when|who|whose|that|than|as|because|since|although|"
    r"though|if|unless|thus|thereby|hence|i\.e\.|e\.g\.|respectively|such as|including|especially|"
    r"\w+ing)\b",
    re.IGNORECASE,
)
WORD = re.compile(r"\w[\w'-]*")
_PUNCT = str.maketrans("", "", string.punctuation)
ARTICLES = frozenset({"a", "an", "the"})
# what tells whether a word of a quoted sentence is likely one of the reference answer's (`word_rows`)
WORD_FEATURES = (
    "bias",
    "idf",
    "stop",
    "in_question",
    "in_title",
    "number",
    "in_parens",
    "position",
    "capital",
    "self_words",
    "said",
    "repeats",
    "long_word",
)
# how a paper speaks of itself; a reference answer speaks of the paper in the third person
SELF_WORDS = frozenset({"we", "our", "us", "ours", "this", "paper", "work", "here", "novel", "propose", "proposed"})


class SpanChoice(BaseModel):
    """What is cut: the framing rules that are on, and the word model that picks a long sentence's part.

    `SpanChoice.load()` reads `rag/spans.json`, written by `scripts/fit_spans.py` from the tune halves.
    """

    model_config = ConfigDict(frozen=True)

    lead: tuple[str, ...] = ()
    tail: tuple[str, ...] = ()
    coef: tuple[float, ...] | None = Field(
        None, description="Logistic weights over WORD_FEATURES: P(a quoted word is one of the answer's); None: no cut."
    )
    keep_odds: float = Field(
        0.2, ge=0, le=1, description="A part of a sentence is kept when its words' mean probability beats this."
    )
    min_keep: float = Field(0.5, ge=0, le=1, description="A cut keeps at least this share of the sentence's words.")
    features: tuple[str, ...] = Field(WORD_FEATURES, description="The names of `coef`'s features, in order.")
    fitted_on: str = ""
    notes: dict[str, float | int | str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _features_match(self) -> SpanChoice:
        """A file fitted on other features than `word_rows` makes is refused, not read with shifted weights."""
        if self.coef is not None and (self.features != WORD_FEATURES or len(self.coef) != len(WORD_FEATURES)):
            raise ValueError(f"span weights are for {self.features}, not {WORD_FEATURES}")
        return self

    @classmethod
    def load(cls, path: Path = DEFAULT_SPANS_FILE) -> SpanChoice:
        return load_model_file(cls, path, "span model", "scripts/fit_spans.py --write")

    def save(self, path: Path = DEFAULT_SPANS_FILE) -> None:
        save_model_file(self, path)


@dataclass(frozen=True)
class Span:
    """The quoted part of a sentence: `text` is `sentence[start:end]`; `cut_left`/`cut_right`: words dropped there."""

    text: str
    start: int
    end: int
    cut_left: bool
    cut_right: bool

    def rendered(self) -> str:
        """The quote as the answer shows it, each cut marked "..." outside the quoted words."""
        return f"{ELLIPSIS if self.cut_left else ''}{self.text}{' ' + ELLIPSIS if self.cut_right else ''}"


def _words(text: str) -> int:
    return len(WORD.findall(text))


def whole(sentence: str) -> Span:
    text = sentence.strip()
    start = sentence.find(text) if text else 0
    return Span(text, start, start + len(text), False, False)


@dataclass(frozen=True)
class Asked:
    """What the question gives the span choice: its words, the paper's title, and the index's word statistics."""

    question: str = ""
    title: str = ""
    tokenize: Callable[[str], list[str]] | None = None
    idf: Callable[[str], float] | None = None
    cue: str = ""  # "number" or "limitation" when the question asks for one (a part must keep it)
    said: Counter[str] = field(default_factory=Counter)  # the answer's words so far (`said_words`)
    abstract: str = ""  # the paper's abstract: a word it repeats is one of what the paper is about


def word_rows(sentence: str, start: int, end: int, asked: Asked) -> list[tuple[int, int, str, list[float]]]:
    """(start, end, normalised word, features) of each word of `sentence[start:end]` that token F1 would count."""
    question = {_norm(w) for w in asked.question.split()}
    in_abstract = said_words(asked.abstract)
    title = {_norm(w) for w in asked.title.split()}
    depth, rows = 0, []
    length = max(end - start, 1)
    for match in re.finditer(r"\S+", sentence[start:end]):
        raw = match.group()
        word = _norm(raw)
        opened = raw.count("(") - raw.count(")")
        inside = depth > 0 or raw.startswith("(")
        depth = max(depth + opened, 0)
        if not word or word in ARTICLES:
            continue
        terms = asked.tokenize(raw) if asked.tokenize else [word]
        idf = max((asked.idf(t) for t in terms), default=0.0) if asked.idf else 1.0
        features = [
            1.0,
            idf,
            float(not terms),
            float(word in question),
            float(word in title),
            float(any(c.isdigit() for c in word)),
            float(inside),
            match.start() / length,
            float(raw[:1].isupper() and match.start() > 0),
            float(word in SELF_WORDS),
            float(min(asked.said[word], 2)),
            float(min(max(in_abstract[word] - 1, 0), 3)),
            float(len(word) >= 8),
        ]
        rows.append((start + match.start(), start + match.end(), word, features))
    return rows


def _norm(word: str) -> str:
    return word.lower().translate(_PUNCT)


def said_words(text: str) -> Counter[str]:
    """The words of a piece of the answer as `word_rows` normalises them (articles and bare punctuation left out)."""
    words = (_norm(w) for w in text.split())
    return Counter(w for w in words if w and w not in ARTICLES)


def choose_span(sentence: str, choice: SpanChoice, asked: Asked | None = None) -> Span:
    """The part of `sentence` to quote: framing dropped by the rules that are on, then the run of parts
    whose words the model finds likely enough (their mean probability above `keep_odds`).

    Falls back to the whole sentence whenever a cut would keep under `choice.min_keep` of its words.
    """
    asked = asked or Asked()
    keep = choice.min_keep
    full = whole(sentence)
    total = _words(full.text)
    if not total:
        return full
    start, end = full.start, full.end
    lead_rules = [r for r in LEAD_RULES if r.name in choice.lead]
    for _ in range(2):  # "Therefore, to address this, we ..." holds two leads
        for rule in lead_rules:
            match = rule.pattern.match(sentence, start, end)
            if match and match.end() < end:
                start = match.end()
                break
        else:
            break
    body = sentence[start:end]
    for rule in (r for r in TAIL_RULES if r.name in choice.tail):
        match = rule.pattern.search(body)
        if match and match.start() > 0:
            end = start + match.start()
            break
    if choice.coef is not None:
        start, end = _likely_part(sentence, start, end, asked, choice, keep * total)
    text = sentence[start:end].rstrip(" ,;:")
    end = start + len(text)
    if _words(text) < keep * total or not text:
        return full
    cut_left = start > full.start
    cut_right = end < full.end and bool(WORD.search(sentence[end : full.end]))
    if not cut_right:  # only punctuation after: keep the sentence's own stop
        end = full.end
        text = sentence[start:end]
    return Span(text, start, end, cut_left, cut_right)


def _skip_separator(sentence: str, at: int, end: int) -> int:
    """Where the words after a cut begin: past the comma, semicolon, colon or dash the cut sits on."""
    while at < end and sentence[at] in " ,;:-—–":
        at += 1
    return at


def dash_asides(sentence: str, start: int, end: int) -> list[tuple[int, int]]:
    """The dashed asides of a sentence ("(fTRI) -- inspired by fMRI -- we identify"): each pair of dashes,
    from the first's space to the second's, when the dashes pair up; an odd count reads as clause bounds."""
    dashes = list(DASH.finditer(sentence, start, end))
    if len(dashes) % 2:
        return []
    return [(dashes[i].start(), dashes[i + 1].end()) for i in range(0, len(dashes), 2)]


def _likely_part(
    sentence: str, start: int, end: int, asked: Asked, choice: SpanChoice, floor: float
) -> tuple[int, int]:
    """The run of parts (cut at `CUT`) maximising the sum over its words of (probability - keep_odds).

    A word adds to token F1 when it is likely enough to be the reference's, and costs precision otherwise.
    The run never holds half a parenthesis, keeps at least `floor` words and, asked for a number or a limitation,
    what holds it.
    """
    assert choice.coef is not None
    rows = word_rows(sentence, start, end, asked)
    if not rows:
        return start, end
    coef = choice.coef
    value = [
        1 / (1 + math.exp(-sum(c * f for c, f in zip(coef, row[3], strict=True)))) - choice.keep_odds for row in rows
    ]
    prefix = [0.0]
    for v in value:
        prefix.append(prefix[-1] + v)
    starts = [row[0] for row in rows]
    spots = [m.start() for m in WORD.finditer(sentence, start, end)]
    separators = list(CUT.finditer(sentence, start, end))
    # a part starts after a separator and ends before one, so it never opens or closes on its comma or dash
    openings = sorted({start, *(m.end() for m in separators)})
    closings = sorted({end, *(m.start() for m in separators)})
    asides = dash_asides(sentence, start, end)
    need = {"number": NUMBER, "limitation": WEAKNESS}.get(asked.cue)
    must = need.search(sentence, start, end) if need else None
    best: tuple[float, int, int] | None = None
    for a in openings:
        if a > start and LEANING.match(sentence, _skip_separator(sentence, a, end)):
            continue
        if any(left < a < right for left, right in asides):  # never from inside a dashed aside
            continue
        for b in closings[bisect.bisect_right(closings, a) :]:
            count = bisect.bisect_left(spots, b) - bisect.bisect_left(spots, a)
            if count < floor or not count:
                continue
            if must and not (a <= must.start() and must.end() <= b):
                continue
            if sentence.count("(", a, b) != sentence.count(")", a, b):  # never half a parenthesis
                continue
            if any(left < b < right for left, right in asides):  # nor half a dashed aside
                continue
            first, last = bisect.bisect_left(starts, a), bisect.bisect_left(starts, b)  # the words starting in [a, b)
            gain = prefix[max(last, first)] - prefix[first]
            if best is None or gain > best[0] + 1e-12:
                best = (gain, a, b)
    if best is None:
        return start, end
    a, b = best[1], best[2]
    while a < b and sentence[a] in " ,;:":
        a += 1
    return a, b
