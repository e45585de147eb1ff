"""Which sentence of a cited paper answers the question: a small learned scorer.

Hand-set weights (cosine + half the shared-word share + an aspect bonus) quoted the sentence
that holds the answer for under half of the gold papers. Here each sentence of a cited
abstract gets features (its MiniLM cosine to the question and how it stands among the paper's
sentences, IDF-weighted shared words, position in the abstract, role cues: results, method,
weakness, data, problem, contribution, each also crossed with what the question asks for) and a
linear score whose weights are fitted as a conditional logit: within one paper, the probability
of each sentence being the one closest to the reference answer (`scripts/fit_sentences.py`,
on the tune halves only). The weights ship as `rag/sentence_scorer.json`, like
`rag/selection.json`.

The features read only the question, the question's form and aspect, the abstract and the
sentence cosines stored at ingest, so the scorer does not depend on the retrieval profile.

Some sentences are never quoted unless the question asks for them (`shunned`): a bare link, a
code/data availability statement, a fragment, and motivation boilerplate the paper states before
it speaks of itself ("In recent years, X has attracted ..."), and a sentence holding a bracketed
number the citation check would take for a marker. That is a rule, not a weight.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from rag.answer.citations import CITATION
from rag.model_file import load_model_file, save_model_file

DEFAULT_SCORER_FILE = Path(__file__).resolve().parent.parent / "sentence_scorer.json"

RESULT = re.compile(
    r"\d|\b(?:outperform\w*|achiev\w*|improv\w*|state-of-the-art|sota|results? (?:show|demonstrate)|"
    r"experiments? (?:show|demonstrate)|surpass\w*|beat\w*|gains?|accura\w*|speed-?ups?|faster|better)\b",
    re.IGNORECASE,
)
METHOD = re.compile(
    r"\b(?:we (?:propose|introduce|present|design|develop|use|leverage)|our (?:method|approach|model|framework)|"
    r"by (?:\w+ing)|consists? of|based on|uses?|via|mechanism|architecture)\b",
    re.IGNORECASE,
)
WEAKNESS = re.compile(
    r"\b(?:however|limit\w*|fail\w*|struggl\w*|cannot|can't|challeng\w*|drawbacks?|lack\w*|poorly|suffer\w*|"
    r"difficult\w*|unable|insufficient|costly|expensive|problem\w*|issues?|bottleneck\w*|remains? unclear|"
    r"not (?:yet )?(?:well|fully|clear))\b",
    re.IGNORECASE,
)
# the words that state a weakness outright ("problem" or "expensive" often name what the paper fixes)
STATED_WEAKNESS = re.compile(
    r"\b(?:however|limit(?:s|ed|ation\w*)|fail\w*|struggl\w*|cannot|can't|unable|insufficient|lack\w*|poorly|"
    r"suffer\w*|drawbacks?|shortcomings?|compromis\w*|not (?:yet )?(?:well|fully))\b",
    re.IGNORECASE,
)
DATA = re.compile(
    r"\b(?:datasets?|benchmarks?|corpus|corpora|evaluat\w*|experiments? on|trained on|tested on)\b|\b[A-Z]{2,}\w*\b",
)
CONTRIBUTION = re.compile(
    r"\b(?:we|this (?:paper|work|study)|our (?:paper|work))\s+(?:\w+\s+){0,2}?"
    r"(?:propose|introduce|present|develop|describe|design|address|tackle|show|find|study|investigate)",
    re.IGNORECASE,
)
PROBLEM = re.compile(
    r"\b(?:however|challeng\w*|problem\w*|limit\w*|remains?|difficult\w*|struggl\w*|lack\w*|costly|expensive|"
    r"bottleneck|gap|open question)\b",
    re.IGNORECASE,
)
NUMBER = re.compile(r"\d+(?:\.\d+)?\s*(?:%|x\b|×|times\b)|\b\d+(?:\.\d+)?\b")
LINK = re.compile(r"https?://|www\.|github\.com|\.io/|huggingface\.co", re.IGNORECASE)
AVAILABILITY = re.compile(
    r"\b(?:code|models?|weights|checkpoints?|data(?:sets?)?|implementation|demo)\b[^.]{0,80}?"
    r"\b(?:available|released|open-?sourced?|public(?:ly)?|can be found|will be made)\b"
    r"|\b(?:available|released) at\b|\bopen-?source (?:our|the) (?:code|model)",
    re.IGNORECASE,
)
BOILERPLATE = re.compile(
    r"^\s*(?:in recent years|recently|over the (?:past|last) (?:few )?(?:years|decades?)|with the (?:rapid )?(?:advent|"
    r"development|rise|success|growth)|nowadays|in the (?:era|age) of)\b"
    r"|\b(?:has|have) (?:recently )?(?:attracted|gained|received|garnered|drawn) (?:\w+ ){0,2}(?:attention|interest|"
    r"popularity)|\b(?:has|have) (?:recently )?(?:become|emerged as) (?:a |an |the )?(?:\w+ ){0,3}(?:popular|"
    r"prominent|promising|powerful|dominant|standard|important|key|widely)|\b(?:are|is) (?:increasingly|widely) "
    r"(?:used|popular|adopted)|\bhave (?:recently )?(?:shown|demonstrated|achieved) (?:remarkable|impressive|great|"
    r"significant|tremendous)",
    re.IGNORECASE,
)
OWN_WORK = re.compile(r"\b(?:we|our|us|this (?:paper|work|study|article)|here)\b", re.IGNORECASE)
ASKS_FOR_CODE = re.compile(r"\b(?:code|github|available|release[sd]?|open[- ]source|link|url|download)\b", re.I)
# narrower: asks where to get it ("Where can I find the code for Monet?"), not about models of source code
ASKS_WHERE_CODE = re.compile(
    r"\b(?:where|how)\b.{0,30}\b(?:find|get|download|access|obtain)\b.{0,30}\b(?:code|implementation|checkpoints?|repo\w*)\b"
    r"|\bwhere (?:is|are) (?:the |its |their )?(?:\w+ )?(?:code|implementation|checkpoints?|repo\w*)\b"
    r"|\b(?:code|implementation|checkpoints?|weights)\b.{0,20}\b(?:available|released?|public|open[- ]sourced?)\b"
    r"|\bgithub\b|\blink to\b",
    re.IGNORECASE,
)
# the words that say what form a question has, not what it is about ("how well does X do" -> "X")
FORM_WORDS = frozenset(
    re.findall(
        r"\w+",
        """how what which why who when where does do did is are was were can could should would the a an of in on for
        to and or papers paper work works study studies collection here there any list find show name give me about
        well much many good better differ difference differs compare compared between from versus vs summarise
        summarize summary overview limitation limitations weakness weaknesses drawback drawbacks according its their
        it they this that these those method approach""",
    )
)
MIN_WORDS = 4  # fewer words is a fragment ("Code: https://...", "(2) ...")

# what the question asks for, read from its form and aspect; a cue counts double when it is what is asked
ASKS = ("result", "method", "limitation", "data", "topic")
CUES = {"result": RESULT, "method": METHOD, "limitation": WEAKNESS, "data": DATA, "problem": PROBLEM}
BASE_FEATURES = (
    "cos",
    "cos_gap",
    "cos_top",
    "lexical",
    "lexical_topic",
    "lexical_topic_top",
    "position",
    "first",
    "last",
    "background",
    "contribution",
    "number",
    "log_words",
    "title_words",
    "names_paper",
)
FEATURES: tuple[str, ...] = (
    *BASE_FEATURES,
    *(f"{cue}" for cue in CUES),
    *(f"{cue}_x_{ask}" for cue in CUES for ask in ASKS),
    *(f"position_x_{ask}" for ask in ASKS),
    *(f"background_x_{ask}" for ask in ASKS),
    *(f"title_words_x_{ask}" for ask in ASKS),
)


def asks(form: str, aspect: str) -> str:
    """What the question asks of a paper: result, method, limitation, data, or its topic."""
    if form == "limitation" or aspect == "limitation":
        return "limitation"
    if aspect == "data":
        return "data"
    if form == "number" or aspect == "result":
        return "result"
    if form == "how" or aspect == "method":
        return "method"
    return "topic"


def paper_name(title: str) -> str:
    """A title's short name, "" when it has none: "MIGA: Mixture-of-Experts ..." -> "MIGA"."""
    head = title.split(":", 1)[0].strip()
    return head if ":" in title and 0 < len(head.split()) <= 3 else ""


def says_where(text: str) -> bool:
    """A link, or a code/data availability statement: where to get the work, not what it found."""
    return bool(LINK.search(text) or AVAILABILITY.search(text))


def shunned(text: str, index: int, own: int, wants_code: bool) -> bool:
    """Never quoted unless asked: a link, a code/data availability statement, a fragment, or opening boilerplate.

    Nor a sentence holding a bracketed number ("Cohen-Karlik et al. [2020] proved ..."): the citation
    check would read it as a marker and drop it, and the quote would no longer be the abstract's words.
    """
    if CITATION.search(text):
        return True
    if not wants_code and says_where(text):
        return True
    if len(re.findall(r"\w\w+", text)) < MIN_WORDS:
        return True
    return index < max(own, 1) and bool(BOILERPLATE.search(text))


def own_work_index(texts: Sequence[str]) -> int:
    """The first sentence where the paper speaks of itself ("we", "this paper"); the ones before are background."""
    return next((i for i, t in enumerate(texts) if OWN_WORK.search(t)), 1)


def sentence_features(
    question: str,
    form: str,
    aspect: str,
    texts: Sequence[str],
    cosines: Sequence[float],
    tokenize: Callable[[str], list[str]],
    idf: Callable[[str], float],
    title: str = "",
) -> list[dict[str, float]]:
    """One feature row per sentence of one abstract (`texts` in abstract order, `cosines` to the question).

    `title`: the paper's title; the sentence that names the paper's method ("we present MIGA, ...")
    or shares its title's words is usually the one saying what the paper does.
    """
    ask = asks(form, aspect)
    terms = set(tokenize(question))
    mass = sum(idf(t) for t in terms) or 1.0
    topic_terms = {t for t in terms if t not in FORM_WORDS}
    topic_mass = sum(idf(t) for t in topic_terms) or 1.0
    top = max(cosines) if cosines else 0.0
    word_sets = [set(tokenize(text)) for text in texts]
    topic_shares = [sum(idf(t) for t in topic_terms & words) / topic_mass for words in word_sets]
    topic_top = max(topic_shares, default=0.0)
    own = own_work_index(texts)
    last = len(texts) - 1
    title_terms = set(tokenize(title))
    title_mass = sum(idf(t) for t in title_terms) or 1.0
    name = paper_name(title)
    own_name = re.compile(rf"(?<!\w){re.escape(name)}(?!\w)") if name else None
    rows = []
    for index, (text, cos, words) in enumerate(zip(texts, cosines, word_sets, strict=True)):
        row = {
            "cos": cos,
            "cos_gap": cos - top,
            "cos_top": float(cos >= top),
            "lexical": sum(idf(t) for t in terms & words) / mass,
            "lexical_topic": topic_shares[index],
            # the paper's sentence sharing most of the question's topic words (5-fold CV top-1 on tune 0.387 -> 0.407)
            "lexical_topic_top": float(topic_top > 0 and topic_shares[index] >= topic_top),
            "position": index / last if last > 0 else 0.0,
            "first": float(index == 0),
            "last": float(index == last and last > 0),
            "background": float(index < own),
            "contribution": float(bool(CONTRIBUTION.search(text))),
            "number": float(bool(NUMBER.search(text))),
            "log_words": math.log1p(len(text.split())),
            "title_words": sum(idf(t) for t in title_terms & words) / title_mass,
            "names_paper": float(own_name is not None and own_name.search(text) is not None),
        }
        # asked for data, the paper's own name ("MIGA") is capitalised like a dataset and names none
        data_text = own_name.sub(" ", text) if own_name is not None and ask == "data" else text
        for cue, pattern in CUES.items():
            hit = float(bool(pattern.search(data_text if cue == "data" else text)))
            row[cue] = hit
            row[f"{cue}_x_{ask}"] = hit
        row[f"position_x_{ask}"] = row["position"]
        row[f"background_x_{ask}"] = row["background"]
        row[f"title_words_x_{ask}"] = row["title_words"]
        rows.append(row)
    return rows


class SentenceScorer(BaseModel):
    """score(sentence) = coef . features; within a paper, softmax of the scores is P(it holds the answer)."""

    model_config = ConfigDict(frozen=True)

    features: list[str]
    coef: list[float]
    second_share: float = Field(
        0.25, ge=0, le=1, description="A second sentence of a paper is quoted when its probability is at least this."
    )
    side_share: float | None = Field(
        None,
        ge=0,
        le=1,
        description="A comparison side's second sentence is quoted when its probability is at least this share of "
        "the side's first; None: when it is at least `second_share`, as for one paper.",
    )
    summary_share: float = Field(
        0.0,
        ge=0,
        le=1,
        description="A summary quotes, besides its best sentence, the next ones whose probability is at least this "
        "share of the best (up to three in all).",
    )
    length_power: float = Field(
        0.0,
        ge=0,
        le=2,
        description="Quotes outside set items are ranked by probability x (20 / words)^this: of two nearly as likely "
        "sentences the shorter says it in fewer words.",
    )
    fitted_on: str = ""
    notes: dict[str, float | int | str] = Field(default_factory=dict)

    def score(self, row: dict[str, float]) -> float:
        return sum(weight * float(row.get(name, 0.0)) for name, weight in zip(self.features, self.coef, strict=True))

    def probabilities(self, rows: Sequence[dict[str, float]]) -> list[float]:
        """Softmax of the scores over one paper's sentences."""
        if not rows:
            return []
        scores = [self.score(r) for r in rows]
        top = max(scores)
        exps = [math.exp(s - top) for s in scores]
        total = sum(exps)
        return [e / total for e in exps]

    @classmethod
    def load(cls, path: Path | None = None) -> SentenceScorer:
        return load_model_file(cls, path or DEFAULT_SCORER_FILE, "sentence scorer", "scripts/fit_sentences.py --write")

    def save(self, path: Path) -> None:
        save_model_file(self, path)


@dataclass(frozen=True)
class Ranked:
    """One sentence of an abstract with its probability of holding the answer."""

    index: int
    probability: float
    shunned: bool


__all__ = [
    "ASKS_FOR_CODE",
    "ASKS_WHERE_CODE",
    "FEATURES",
    "Ranked",
    "SentenceScorer",
    "asks",
    "own_work_index",
    "says_where",
    "sentence_features",
    "shunned",
]
