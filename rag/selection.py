"""Which papers answer the question: a calibrated per-paper decision over the retrieved candidates.

"Cite the top two" threw away most of a set question's papers and quoted a neighbour beside
a single paper. Instead each candidate (the best `DEPTH` papers of the fused ranking) gets a
probability that it answers the question, from a small logistic regression over how it
stands in retrieval and how well it matches (fused score, rank, gap to the top, best-chunk
cosine, BM25, its best sentence's cosine to the question, term coverage of title and
abstract, whether the question names it) and the question's form. With a paper-level embedder
(the mpnet profile) it also weighs meaning (`SEMANTIC_FEATURES`: the paper vector's cosine to the
question, its gap and rank among the candidates, and its cohesion with the candidates nearest the
question), since a topic's papers often share few words with the question. It is fitted on the
tune half (`scripts/fit_selection.py`, gold papers are the positives) and shipped per retrieval
setup, like the answerability model: `rag/selection.json` (no paper vectors) and
`rag/selection-mpnet.json`; `Settings.selection_model` names another. With paper vectors a set question
has a model of its own (`SelectionModel.set_model`, fitted on the tune set questions alone): few features,
each candidate measured against the question's bare topic (`TOPIC_FEATURES`, `rag.question.topic`) and
placed among the other candidates, since question-level features fitted jointly over every form carried
poorly from tune to test. A set model may have a second pass (set expansion, `EXPANSION_FEATURES`: each candidate
against the paper the first pass is surest of); the shipped one has none. The form then decides how many to cite:

- a set question cites every candidate at or above `set_threshold` (the set model's, if any; past the top
  k too), or, when the model has a `set_cut`, as many as that per-question rule says (`SetCut`);
- a single-paper question cites the top-ranked paper (or a clearly more probable shown one, by
  `lead_margin`), and a second one only when it is about as strong (`second_ratio` of the first
  and above `second_threshold`);
- a comparison cites the best paper for each named side (a side no paper names falls back
  to the single-paper rule for it).
"""

from __future__ import annotations

import itertools
import math
import re
from collections import Counter
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from rag.model_file import load_model_file, save_model_file, standardized_score
from rag.models import Source
from rag.question.form import QuestionForm

DEFAULT_SELECTION_FILE = Path(__file__).with_name("selection.json")
DEPTH = 15  # candidates a set question looks through
FEATURES = (
    "fused",
    "rel",
    "rank",
    "gap",
    "dense",
    "bm25_rel",
    "sent_top",
    "sent_gap",
    "sent_top3",
    "sent_share",
    "coverage_rel",
    "coverage",
    "title_coverage",
    "density",
    "named",
    "form_set",
    "form_comparison",
)
# Meaning, from the paper-level embedder (mpnet over title+abstract) when the profile has one. Shared
# words miss a topic's papers that use other words for it (NAS papers never say "AutoML"):
SEMANTIC_FEATURES = (
    "mp_cos",  # the paper vector's cosine to the question
    "mp_gap",  # the best candidate's mp_cos minus this one's
    "mp_rank",  # log(1 + rank) among the candidates by mp_cos
    "mp_cohesion",  # cosine to the centroid of the COHESION_TOP other candidates nearest the question (topic)
)
COHESION_TOP = 3
# A set question's candidates measured against its bare topic (rag.question.topic), not the whole question,
# whose "which papers are about" they all share: only the set model (`SelectionModel.set_model`) reads these.
TOPIC_FEATURES = (
    "topic_title",  # idf-weighted share of the best topic alternative's words (plurals folded) in the title
    "topic_cover",  # ... in the title and abstract
    "topic_phrase",  # 1 if an alternative's head (`topic_head`) appears whole in the abstract, 2 in the title
    "sent_topic",  # the best MiniLM sentence cosine to the topic
    "sent_topic_z",  # its z-score among the candidates (a topic's own scale)
    "mp_topic",  # the paper vector's mpnet cosine to the topic
    "mp_topic_z",  # its z-score among the candidates
    "mp_topic_gap",  # the best candidate's mp_topic minus this one's
)


# The set model's features (`SelectionModel.set_model`, fitted on set questions alone): few, and relative to the
# question's own candidates, so that they carry across topics (leave-one-question-out on tune: TUNING in
# docs/evaluation-forms.md). Only with paper vectors: the small profile's sets keep the joint model.
SET_FEATURES = ("rank", "rel", "coverage_rel", "mp_cohesion", "mp_gap", *TOPIC_FEATURES)
# Set expansion: a set model's second pass (`SelectionModel.second_pass`) also places each candidate against the
# paper its first pass is surest of (the most probable other candidate) and the off-topic tail (the `EXPANSION_TAIL`
# least probable others): a topic's papers resemble its clearest member more than they resemble the question.
EXPANSION_FEATURES = (
    "sure_cos",  # the paper vector's cosine to the surest other candidate's
    "sure_margin",  # ... minus its cosine to the centroid of the EXPANSION_TAIL least probable others
    "sure_words",  # idf-weighted share of the surest other candidate's rare words (idf >= RARE_IDF) it shares
)
EXPANSION_TAIL = 5
RARE_IDF = 4.0  # a word in fewer than about 1 in 55 papers (BM25 idf, 505 seeds: df <= 9)


def features_for(paper_embedder: str) -> tuple[str, ...]:
    """The features a model is fitted with for a retrieval setup (the semantic ones need paper vectors)."""
    return FEATURES if paper_embedder == "none" else FEATURES + SEMANTIC_FEATURES


def default_selection_file(paper_embedder: str = "none") -> Path:
    """The shipped model for a retrieval setup: `selection.json`, or `selection-<embedder>.json`."""
    if paper_embedder == "none":
        return DEFAULT_SELECTION_FILE
    return DEFAULT_SELECTION_FILE.with_name(f"selection-{paper_embedder}.json")


def _logit(p: float) -> float:
    p = min(max(p, 1e-9), 1 - 1e-9)
    return math.log(p / (1 - p))


class SetCut(BaseModel):
    """How many of a set question's candidates to cite, decided per question: the papers at or above
    `threshold`, or, when more, every paper above the largest log-odds drop among the `gap_top` most probable.

    One threshold shared by every topic is too high for one topic's candidates and too low for the next; the
    idea: a drop in a question's own sorted probabilities may mark where its topic's papers end. Fitted on the
    tune set questions' held-out probabilities (`scripts/fit_selection.py`; relative and expected-count cuts
    did worse). Not in the shipped model file: on the test half it cost recall (docs/evaluation-forms.md,
    "A per-question cut").
    """

    model_config = ConfigDict(frozen=True)

    threshold: float = Field(ge=0, le=1, description="Every candidate at or above this is cited.")
    gap_top: int = Field(
        0,
        ge=0,
        le=DEPTH,
        description="Also cite down to the largest log-odds drop among this many most probable candidates "
        "(0 or 1: off).",
    )

    def count(self, probabilities: Sequence[float]) -> int:
        """How many of the most probable candidates to cite (at least one, if there are any)."""
        ranked = sorted(probabilities, reverse=True)
        if not ranked:
            return 0
        above = sum(p >= self.threshold for p in ranked)
        top = [_logit(p) for p in ranked[: self.gap_top]]
        at_gap = 0
        if len(top) >= 2:
            drops = [top[i] - top[i + 1] for i in range(len(top) - 1)]
            at_gap = max(range(len(drops)), key=drops.__getitem__) + 1
        return max(1, above, at_gap)


class SelectionModel(BaseModel):
    """P(paper answers the question | features) = sigmoid(intercept + coef . (x - mean) / scale)."""

    model_config = ConfigDict(frozen=True)

    features: list[str]
    mean: list[float]
    scale: list[float]
    coef: list[float]
    intercept: float
    set_threshold: float = Field(0.5, ge=0, le=1, description="A set question cites every paper at or above this.")
    second_threshold: float = Field(0.5, ge=0, le=1, description="A single-paper answer's second paper needs this.")
    second_ratio: float = Field(0.8, ge=0, le=1, description="... and this share of the first paper's probability.")
    lead_margin: float = Field(
        1.0,
        ge=0,
        le=1,
        description="A single-paper answer leads with its most probable shown paper, not the top-ranked one, when "
        "that is more probable by over this much (1: never).",
    )
    pool_threshold: float | None = Field(
        None,
        ge=0,
        le=1,
        description='A follow-up asking which of the last answer\'s papers fit ("which of them work on ...") cites '
        "every candidate at or above this; None: set_threshold. Fitted on the tune among conversations.",
    )
    fitted_on: str = ""
    notes: dict[str, float | int | str] = Field(default_factory=dict)
    set_model: SelectionModel | None = Field(
        None,
        description="A set question's own model (its features may include TOPIC_FEATURES; its set_threshold cuts "
        "the set); None: this model decides sets too.",
    )
    set_cut: SetCut | None = Field(
        None, description="A set question's per-question cut (its own numbers); None: every paper >= set_threshold."
    )

    second_pass: SelectionModel | None = Field(
        None,
        description="A set model's second pass: re-scores the candidates with EXPANSION_FEATURES measured from "
        "this model's probabilities (`expansion_features`); its set_threshold (or set_cut) then cuts the set. "
        "None: one pass.",
    )

    def set_count(self, probabilities: Sequence[float]) -> int:
        """How many of a set question's most probable candidates this model cites (at least one)."""
        cut = self.set_cut or SetCut(threshold=self.set_threshold)
        return cut.count(probabilities)

    def for_form(self, form: QuestionForm) -> SelectionModel:
        """The model that scores a question of this form's candidates: the set model for a set question."""
        return self.set_model if form.form == "set" and self.set_model is not None else self

    @property
    def final(self) -> SelectionModel:
        """The pass whose probabilities and cut decide: the second pass when there is one."""
        return self.second_pass or self

    def probability(self, features: dict[str, float]) -> float:
        """A feature the candidate lacks (no paper vectors in this index) reads as its mean: it adds nothing."""
        z = standardized_score(features, self.features, self.mean, self.scale, self.coef, start=self.intercept)
        return 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, z))))

    def missing(self, features: dict[str, float]) -> list[str]:
        """The model's features a candidate lacks."""
        return [name for name in self.features if name not in features]

    @classmethod
    def load(cls, path: Path | str | None = None) -> SelectionModel:
        return load_model_file(
            cls,
            path or DEFAULT_SELECTION_FILE,
            "selection model",
            "scripts/fit_selection.py --write",
            "RAG_SELECTION_MODEL",
        )

    def save(self, path: Path | str | None = None) -> None:
        save_model_file(self, path or DEFAULT_SELECTION_FILE)


@dataclass
class Candidate:
    """One retrieved paper with its features, its probability and its sentences' cosines to the question."""

    source: Source
    features: dict[str, float]
    sims: dict[int, float] = field(default_factory=dict)  # sentence start -> cosine
    probability: float = 0.0


def _unit(vector: np.ndarray) -> np.ndarray:
    """`vector` as float64 scaled to length 1 (a zero vector stays zero)."""
    a = np.asarray(vector, dtype=float)
    return a / max(float(np.linalg.norm(a)), 1e-12)


def semantic_features(question: np.ndarray | None, papers: Sequence[np.ndarray | None]) -> list[dict[str, float]]:
    """SEMANTIC_FEATURES of each candidate from the question's and the papers' paper-level vectors.

    A candidate without a vector (or every candidate, without a question vector) gets none: the
    model then reads their means. Cohesion is the cosine to the normalised mean of the `COHESION_TOP`
    other candidates nearest the question: a set's papers sit near each other, a neighbour that
    merely shares a word with the question does not.
    """
    rows: list[dict[str, float]] = [{} for _ in papers]
    have = [i for i, v in enumerate(papers) if v is not None]
    if question is None or not have:
        return rows
    unit = np.array([papers[i] for i in have], dtype=float)
    unit /= np.maximum(np.linalg.norm(unit, axis=1, keepdims=True), 1e-12)
    q = _unit(question)
    cos = unit @ q
    order = np.argsort(-cos, kind="stable")
    rank = np.empty(len(have), dtype=int)
    rank[order] = np.arange(len(have))
    top = float(cos.max())
    for j, i in enumerate(have):
        others = [o for o in order if o != j][:COHESION_TOP]
        if others:
            centroid = unit[others].mean(axis=0)
            cohesion = float(unit[j] @ centroid / max(float(np.linalg.norm(centroid)), 1e-12))
        else:
            cohesion = 1.0
        rows[i] = {
            "mp_cos": float(cos[j]),
            "mp_gap": top - float(cos[j]),
            "mp_rank": math.log1p(int(rank[j])),
            "mp_cohesion": cohesion,
        }
    return rows


def expansion_features(
    probabilities: Sequence[float],
    paper_vectors: Sequence[np.ndarray | None],
    words: Sequence[Collection[str]],
    idf: Callable[[str], float],
) -> list[dict[str, float]]:
    """EXPANSION_FEATURES of each candidate from the first pass's `probabilities` (set expansion).

    For each candidate the sure member is the most probable other candidate (not itself, so the first pass's own
    favourite is measured too) and the tail the `EXPANSION_TAIL` least probable others. `words`: each candidate's
    title+abstract terms. A candidate without a paper vector (or whose sure member has none) gets the word feature
    alone; the vector ones read as the mean.
    """
    n = len(probabilities)
    rows: list[dict[str, float]] = [{} for _ in range(n)]
    if n < 2:
        return rows
    order = sorted(range(n), key=lambda i: -probabilities[i])
    unit = [None if v is None else _unit(v) for v in paper_vectors]
    for i in range(n):
        sure = next(j for j in order if j != i)
        rare = {t: w for t in words[sure] if (w := idf(t)) >= RARE_IDF}
        mass = sum(rare.values())
        rows[i]["sure_words"] = sum(w for t, w in rare.items() if t in words[i]) / mass if mass else 0.0
        vi, vs = unit[i], unit[sure]
        if vi is None or vs is None:
            continue
        tail = [u for j in reversed(order) if j != i and (u := unit[j]) is not None][:EXPANSION_TAIL]
        centroid = _unit(np.mean(tail, axis=0))
        cos = float(vi @ vs)
        rows[i]["sure_cos"] = cos
        rows[i]["sure_margin"] = cos - float(vi @ centroid)
    return rows


STEM = 7  # topic words match on their first STEM letters: recommender ~ recommendation, tokenizer ~ tokenization


def fold(word: str) -> str:
    """A word's matching stem: plural folded, then its first `STEM` letters ("Tokenizers" -> "tokeniz")."""
    word = word.lower().removesuffix("'s").removesuffix("’s")
    if len(word) > 4 and word.endswith("ies"):
        word = word[:-3] + "y"
    elif len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        word = word[:-1]
    return word[:STEM]


def folded(text: str) -> list[str]:
    """A text's stems (`fold`), hyphens read as spaces: "Mixture-of-Experts" -> mixture of expert."""
    return [fold(w) for w in re.findall(r"\w+", text.lower().replace("-", " "))]


# a topic phrase's head ends at its first preposition or clause word: "sparse representations for text retrieval"
HEAD_END = re.compile(r"\s(?:for|with|between|of|to|from|in|on|at|into|by|via|using|that|which|trained)\s", re.I)


def topic_head(alternative: str) -> str:
    """The head of a topic alternative, the words before its first preposition ("equivariant linear layers")."""
    match = HEAD_END.search(" " + alternative + " ")
    return alternative[: match.start()].strip() if match and match.start() > 0 else alternative


def _share(words: dict[str, float], text: set[str]) -> float:
    """The idf-weighted share of `words` that `text` holds."""
    return sum(w for t, w in words.items() if t in text) / (sum(words.values()) or 1.0)


def _zscores(values: Sequence[float]) -> list[float]:
    arr = np.asarray(values, dtype=float)
    spread = float(arr.std()) if len(arr) > 1 else 0.0
    return ((arr - arr.mean()) / spread).tolist() if spread > 1e-9 else [0.0] * len(arr)


def topic_features(
    alternatives: Sequence[str],
    sources: Sequence[Source],
    tokenize: Callable[[str], list[str]],
    idf: Callable[[str], float],
    topic_sims: Sequence[dict[int, float]] | None = None,
    topic_vector: np.ndarray | None = None,
    paper_vectors: Sequence[np.ndarray | None] | None = None,
) -> list[dict[str, float]]:
    """TOPIC_FEATURES of each candidate against a set question's topic.

    `alternatives`: the phrases that name the topic (`rag.question.topic.topic_of`); `topic_sims`:
    each candidate's sentence cosines to the topic's sentence-embedder vector; `topic_vector`: the
    topic's paper-embedder vector. A part not given leaves its features out (they read as the mean).
    """
    rows: list[dict[str, float]] = [{} for _ in sources]
    if not sources:
        return rows
    phrases = [words for words in (folded(topic_head(a)) for a in alternatives) if words]
    weighted = []  # per alternative: (folded content word, idf weight)
    for alternative in alternatives:
        words = {fold(t): idf(t) for t in tokenize(alternative.replace("-", " "))}
        if words:
            weighted.append(words)
    for row, source in zip(rows, sources, strict=True):
        title = folded(source.paper.title)
        body = title + folded(source.paper.abstract)

        title_set, body_set = set(title), set(body)
        row["topic_title"] = max((_share(w, title_set) for w in weighted), default=0.0)
        row["topic_cover"] = max((_share(w, body_set) for w in weighted), default=0.0)
        title_text, body_text = " " + " ".join(title) + " ", " " + " ".join(body) + " "
        row["topic_phrase"] = (
            max(
                (2.0 if f" {' '.join(p)} " in title_text else 1.0 if f" {' '.join(p)} " in body_text else 0.0)
                for p in phrases
            )
            if phrases
            else 0.0
        )
    if topic_sims is not None:
        tops = [max(s.values(), default=0.0) for s in topic_sims]
        for row, top, z in zip(rows, tops, _zscores(tops), strict=True):
            row["sent_topic"], row["sent_topic_z"] = top, z
    if topic_vector is not None and paper_vectors is not None:
        present = [(i, v) for i, v in enumerate(paper_vectors) if v is not None]
        have = [i for i, _ in present]
        if have:
            q = _unit(topic_vector)
            cos = [float(_unit(v) @ q) for _, v in present]
            best = max(cos)
            for i, c, z in zip(have, cos, _zscores(cos), strict=True):
                rows[i].update({"mp_topic": c, "mp_topic_z": z, "mp_topic_gap": best - c})
    return rows


def _terms(tokenize: Callable[[str], list[str]], text: str) -> list[str]:
    return list(dict.fromkeys(tokenize(text)))


_COUNTS: dict[tuple[str, int], Counter[str]] = {}  # (paper id, text hash) -> its word counts


def _counts(tokenize: Callable[[str], list[str]], paper_id: str, text: str) -> Counter[str]:
    """A paper's word counts, computed once per process (bounded by the corpus size)."""
    key = (paper_id, hash(text))
    counts = _COUNTS.get(key)
    if counts is None:
        if len(_COUNTS) > 50_000:
            _COUNTS.clear()
        counts = _COUNTS[key] = Counter(tokenize(text))
    return counts


def paper_words(tokenize: Callable[[str], list[str]], source: Source) -> Collection[str]:
    """A candidate's title+abstract terms (counted once per process, shared with `candidate_features`)."""
    return _counts(tokenize, source.paper.id, source.paper.title + " " + source.paper.abstract).keys()


def candidate_features(
    form: QuestionForm,
    sources: Sequence[Source],
    hits: Sequence[Any],
    terms: Sequence[str],
    idf: Callable[[str], float],
    tokenize: Callable[[str], list[str]],
    sims: Sequence[dict[int, float]],
    named: set[str],
) -> list[dict[str, float]]:
    """Features of each candidate (sources and their PaperHits in the same order)."""
    if not sources:
        return []
    weights = {t: idf(t) for t in terms}
    mass = sum(weights.values()) or 1.0
    top = sources[0].score or 1e-9
    bm25_top = max((h.scores.get("bm25", 0.0) for h in hits), default=0.0) or 1.0
    sent_tops = [max(s.values(), default=0.0) for s in sims]
    paper_counts = [_counts(tokenize, s.paper.id, s.paper.title + " " + s.paper.abstract) for s in sources]
    coverages = [sum(w for t, w in weights.items() if counts[t]) / mass for counts in paper_counts]
    best_coverage = max(coverages, default=0.0) or 1.0
    best_sent = max(sent_tops, default=0.0)
    rows = []
    for rank, (source, hit, sent_top, sim) in enumerate(zip(sources, hits, sent_tops, sims, strict=True)):
        values = sorted(sim.values(), reverse=True)
        title = set(tokenize(source.paper.title))
        counts = paper_counts[rank]
        rows.append(
            {
                "fused": source.score,
                "rel": source.score / top,
                "rank": math.log1p(rank),
                "gap": top - source.score,
                "dense": hit.scores.get("dense", 0.0),
                "bm25_rel": hit.scores.get("bm25", 0.0) / bm25_top,
                "sent_top": sent_top,
                "sent_gap": best_sent - sent_top,
                "sent_top3": sum(values[:3]) / max(1, len(values[:3])),
                "sent_share": sum(v >= 0.4 for v in values) / max(1, len(values)),
                "coverage_rel": coverages[rank] / best_coverage,
                "coverage": sum(w for t, w in weights.items() if counts[t]) / mass,
                "title_coverage": sum(w for t, w in weights.items() if t in title) / mass,
                "density": sum(w * min(counts[t], 3) / 3 for t, w in weights.items()) / mass,
                "named": float(source.paper.id in named),
                "form_set": float(form.form == "set"),
                "form_comparison": float(form.form == "comparison"),
            }
        )
    return rows


GENERIC = frozenset(
    [
        "a",
        "an",
        "the",
        "of",
        "in",
        "on",
        "for",
        "to",
        "and",
        "or",
        "with",
        "use",
        "uses",
        "using",
        "its",
        "their",
        "approach",
        "approaches",
        "method",
        "methods",
        "model",
        "models",
        "paper",
        "work",
        "standard",
        "ordinary",
        "usual",
        "plain",
        "regular",
        "layer",
        "layers",
        "version",
    ]
)


TITLE_WORDS = 4  # a side named by this many capitalised words is a paper's title, not a coined name


def side_words(side: str) -> tuple[list[str], bool]:
    """A side's words to look for, and whether they are a name (capitals or digits: all must appear).

    A long side with one or two capitalised words among many plain ones is a description that
    mentions a name ("linear representation hypothesis and the geometry of LLMs", a quoted title
    the question's sentence casing lowered): its words count as a description's, not the name alone.
    """
    tokens = [re.sub(r"['’]s$", "", t.strip("'’")) for t in re.findall(r"[\w\-^'’]+", side)]
    names = [t.lower() for t in tokens if len(t) > 1 and (any(c.isupper() for c in t) or any(c.isdigit() for c in t))]
    words = [t.lower() for t in tokens if len(t) > 2 and t.lower() not in GENERIC]
    if names and not (len(words) >= TITLE_WORDS and 2 * len(names) < len(words)):
        return names, True
    return words, False


def _mentions(source: Source, side: str) -> int:
    """3 if the side is the paper's own name (its title, or its short name, `Paper.short_name`: the head before ":"
    when that is five words at most), 2 if the title carries the side's name, 1 if its abstract does, else 0.

    "SPLADE" is the name of "SPLADE: Sparse Lexical ...", and only carried by "SPLADE v2: ...": a comparison of
    SPLADE and ColBERT quotes the SPLADE paper, not its sequel. A longer head ("CBOW Is Not All You Need: ...") is no
    short name: a side typing it is read by its words, as a title carrying it (2).

    A name (MoTE, BT^2, LQ-LoRA) must appear whole, as a word of its own; a description ("token pooling", "lattice
    decoding") or a title-length name counts when two thirds of its words do.
    """
    words, is_name = side_words(side)
    if not words:
        return 0
    if _same_name(side, source.paper.title) or _same_name(side, source.paper.short_name):
        return 3
    # a name of TITLE_WORDS or more capitalised words is a title, typed from memory or shortened
    # ("The Linear Representation Hypothesis and the Geometry of LLMs" for "... of Large Language
    # Models"): two thirds of its words will do, like a description's
    exact = is_name and len(words) < TITLE_WORDS
    need = len(words) if exact else max(1, math.ceil(2 * len(words) / 3))
    # a name ends where the word does (DER is not "derive", CLIP not "clipping"; a plural still
    # counts); a description's word may run on ("decod" of "decoding")
    end = r"(?:e?s)?(?!\w)" if is_name else ""
    for score, text in ((2, source.paper.title.lower()), (1, source.paper.abstract.lower())):
        found = sum(bool(re.search(rf"(?<![\w\-]){re.escape(w)}{end}", text)) for w in words)
        if found >= need:
            return score
    return 0


def _same_name(side: str, name: str) -> bool:
    """The same name up to case, quotes, spacing and a trailing plural ("SAEs" ~ "SAE")."""

    def plain(text: str) -> str:
        return " ".join(re.sub(r"[\"'“”‘’]", "", text).lower().split()).removesuffix("s")

    return bool(plain(side)) and plain(side) == plain(name)


def assign_sides(sides: Sequence[str], candidates: Sequence[Candidate]) -> list[Candidate]:
    """One distinct paper per side, the assignment that names the most sides, then most strongly, then
    most probably.

    Side by side in question order let the first side take a paper whose abstract merely mentions
    it (B's paper citing A as its baseline), leaving B to a neighbour that mentions B; judging the
    sides together gives each its own paper. A side no paper names gets none here.
    """
    mentions = {id(c): [_mentions(c.source, side) for side in sides] for c in candidates}
    options: list[list[Candidate | None]] = [
        [c for c in candidates if mentions[id(c)][i]] + [None] for i in range(len(sides))
    ]
    best: tuple[tuple[int, int, float], list[Candidate]] = ((0, 0, 0.0), [])
    for combo in itertools.product(*options):
        picked = [c for c in combo if c is not None]
        if len({id(c) for c in picked}) < len(picked):
            continue
        strength = sum(mentions[id(c)][i] for i, c in enumerate(combo) if c is not None)
        key = (len(picked), strength, sum(c.probability for c in picked))
        if key > best[0]:
            best = (key, picked)
    return best[1]


class Choice(NamedTuple):
    """The candidates the answer cites, in retrieval order, and the one of them that leads (`choice`)."""

    chosen: list[Candidate]
    lead: Candidate | None  # None only when nothing is cited


def choice(
    form: QuestionForm,
    candidates: Sequence[Candidate],
    model: SelectionModel,
    k: int,
    many: bool = False,
    named: Collection[str] = (),
    pool: bool = False,
) -> Choice:
    """The candidates the answer cites, in retrieval order (see the module docstring for the rule), and
    the one that leads: the paper a single-paper answer quotes.

    `many`: the question asks across papers ("limitations ... according to the papers here"), so it
    takes the set rule whatever its form; with `pool` it asks which of the last answer's papers fit
    ("which of them work on images?"), cut at the model's `pool_threshold`. `named`: ids of the papers
    the question names by a title name ("Tell me about VSA."); a single-paper answer always cites a
    shown paper it names, and it leads. A set or a comparison has no lead of its own: the first cited
    paper the question names leads, else the first cited (what a limitation answer across papers whose
    quotes state no weakness falls back to, `ExtractiveAnswerer`).
    """
    if not candidates:
        return Choice([], None)
    ranked = sorted(candidates, key=lambda c: -c.probability)
    best = ranked[0]
    if form.form == "set" or many:
        probabilities = [c.probability for c in candidates]
        if pool and form.form != "set" and model.pool_threshold is not None:
            chosen = ranked[: SetCut(threshold=model.pool_threshold).count(probabilities)]
        else:
            chosen = ranked[: model.for_form(form).final.set_count(probabilities)]
        if many and not pool:  # asked across papers: the ones it names (or a follow-up's, under discussion) too
            chosen += [c for c in candidates if c.source.paper.id in named and c.source.n <= k and c not in chosen]
    elif form.form == "comparison" and form.sides:
        chosen = assign_sides(form.sides, candidates)
        # a side no paper names by its words still gets a paper: the most probable one shown that
        # no other side took, if it is as likely as a single answer's second paper must be (a
        # comparison that cites one paper cannot compare)
        for _side in range(len(form.sides) - len(chosen)):
            rest = [
                c for c in ranked if c not in chosen and c.source.n <= k and c.probability >= model.second_threshold
            ]
            if not rest:
                break
            chosen.append(rest[0])
        if not chosen:
            chosen = [best]
    else:
        # the top-ranked paper leads (retrieval's first is right far more often than any re-ranking of it)
        # ... unless the question names a shown paper by a title name: that paper is what was asked about
        # ... or a shown paper is clearly more probable (by over `lead_margin`, fitted on tune)
        asked = [c for c in candidates if c.source.paper.id in named and c.source.n <= k]
        first = min(asked or candidates, key=lambda c: c.source.n)
        likeliest = next((c for c in ranked if c.source.n <= k), first)
        if not asked and likeliest.probability - first.probability > model.lead_margin:
            first = likeliest
        shown = [c for c in ranked if c.source.n <= k and c is not first]
        chosen = [first]
        if form.form == "summary":  # a summary is of one paper: the one asked about ("Tell me about SPLADE")
            return Choice(chosen, first)
        if shown:
            second = shown[0]
            if (
                second.probability >= model.second_threshold
                and second.probability >= model.second_ratio * first.probability
            ):
                chosen.append(second)
        chosen += [c for c in candidates if c.source.paper.id in named and c.source.n <= k and c not in chosen]
        return Choice(sorted(chosen, key=lambda c: c.source.n), first)
    chosen = sorted(chosen, key=lambda c: c.source.n)
    return Choice(chosen, next((c for c in chosen if c.source.paper.id in named), chosen[0] if chosen else None))


__all__ = [
    "DEPTH",
    "EXPANSION_FEATURES",
    "FEATURES",
    "SEMANTIC_FEATURES",
    "SET_FEATURES",
    "TOPIC_FEATURES",
    "Candidate",
    "Choice",
    "SelectionModel",
    "SetCut",
    "candidate_features",
    "choice",
    "default_selection_file",
    "expansion_features",
    "features_for",
    "fold",
    "folded",
    "paper_words",
    "semantic_features",
    "topic_features",
    "topic_head",
]
