"""Refusal evidence: does the corpus answer the question at all?

After retrieval ranks papers, `Refusal.evidence` measures how well the best of them match
the question: fusion scores and margins, how much of the question's rarer vocabulary the
best papers use, the names it uses that no top paper carries, whether a paper it asks for
by name or topic is among the candidates, and how much closer a famous paper outside the
collection (rag.landmarks) comes. `FEATURES` is the one list of these measures: the
evidence holds exactly these keys, scripts/tune.py fits the model over them, and a model
file naming another is refused at load. `decide` turns the evidence into a verdict with
the fitted logistic model (rag.refusal_model) and two overrides for short questions;
`outside` names the famous paper a refused question sounds like.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rag.landmarks import Landmark
from rag.models import Paper, PaperHit
from rag.question import QUOTED, CorpusNames, Query, coins, contains_token, discusses, quotes_a_name
from rag.question.form import comparison_sides
from rag.question.names import MAX_NAME_DF, goes_by
from rag.question.text import TOKEN
from rag.refusal_model import AnswerabilityModel, Verdict

MAX_SHORT_ASK = 6  # words (boilerplate stripped) of a question that asks for one thing only
LANDMARK_MATCH = 0.6  # cosine above which a question and a landmark's summary are about the same work

DESCRIPTOR = re.compile(r"-(?:style|like|based|type|esque|inspired)$", re.IGNORECASE)
# an amount ("1.6", "1000", "3B", "4-bit", "20%"): written many ways ("1,000", "three billion"), so no name
AMOUNT = re.compile(r"^\d[\d.,]*(?:[kmbt]|bn|-?bits?|%|x)?$", re.IGNORECASE)
ACRONYM = re.compile(r"^[a-z]?[A-Z][A-Za-z0-9]*[A-Z][a-z]?$")  # CNN, kNN, mBERT, ViT, NeRFs, PDEs


@dataclass(frozen=True)
class Feature:
    """One measure of the evidence; `paper_level` ones need the paper-level embedder."""

    name: str
    meaning: str
    paper_level: bool = False


# In the order scripts/tune.py offers them to the fit.
FEATURES: tuple[Feature, ...] = (
    Feature("fused_top", "the best paper's fused score"),
    Feature("fused_margin", "how far the best paper's fused score is ahead of the second's"),
    Feature("dense_top", "the best chunk's cosine"),
    Feature("dense_spread", "the best chunk's cosine above the mean of the top 20"),
    Feature("agree", "the share of retrievers that rank the best paper first"),
    Feature("coverage", "the share of the question's words (by idf) the best paper uses"),
    Feature("coverage_top3", "the share of the question's words (by idf) the best three papers use"),
    Feature("rarest_missing", "the most specific word of the question that the best paper never uses"),
    Feature("unknown_words", "the share of the question's words no chunk uses"),
    Feature("named", "a top paper is one the question names by a title name"),
    Feature("named_in_abstract", "a top paper is one whose abstract coins a name the question uses"),
    Feature("missing_names", "names and quoted phrases of the question that no top paper carries (0, 1/2, 1)"),
    Feature("famous_name", "a well-known name (BERT, ResNet) that no top title carries"),
    Feature(
        "asked_name_absent",
        'the question asks for a paper by name ("the BERT paper") that no top paper goes by, or asks about '
        'a topic ("what is capsule networks?") that no candidate paper is about',
    ),
    Feature("landmark_top", "the cosine of the famous paper outside the collection closest to the question"),
    Feature("landmark_margin", "how much closer that famous paper comes than the best chunk"),
    Feature("paper_dense_top", "the best paper's cosine from the paper-level embedder", paper_level=True),
)
FEATURE_NAMES = frozenset(f.name for f in FEATURES)


def candidate_features(paper_level: bool) -> list[str]:
    """The features a model can be fitted on for a retrieval setup, in registry order."""
    return [f.name for f in FEATURES if paper_level or not f.paper_level]


def load_model(path: Path | str | None = None) -> AnswerabilityModel:
    """The fitted model at `path`, checked to read only features the evidence holds."""
    model = AnswerabilityModel.load(path)
    unknown = [name for name in model.features if name not in FEATURE_NAMES]
    if unknown:
        raise ValueError(f"answerability model {path} reads unknown features {unknown}; known: {sorted(FEATURE_NAMES)}")
    return model


def named_terms(question: str) -> list[str]:
    """Quoted phrases and name-like tokens (MusicLM, LLaMA-2, Chinchilla) of a question.

    "GPT-style" or "BERT-based" only says what something resembles, and an amount can be
    written many ways, so neither is a name the papers must carry; a number right after a
    capitalised word is part of a name ("Atari 2600").
    """
    names = [m.group(1).strip() for m in QUOTED.finditer(question) if quotes_a_name(question, m)]
    previous = ""
    for match in TOKEN.finditer(question):
        word, before = match.group(), previous
        previous = word
        if len(word) < 2 or DESCRIPTOR.search(word):
            continue
        if AMOUNT.match(word) and not before[:1].isupper():  # "Atari 2600", "Llama 2": part of a name
            continue
        inner_capital = any(c.isupper() for c in word[1:])
        capitalised = word[0].isupper() and match.start() > 0 and question[: match.start()].rstrip()[-1:] not in ".?!:"
        if inner_capital or capitalised or any(c.isdigit() for c in word):
            names.append(word)
    return names


def _mentions(text: str, name: str, acronyms: dict[str, str] | None = None) -> bool:
    """Case-insensitive, forgiving a plural and a `-style`/`-based` suffix on hyphenated names.

    An acronym also counts as mentioned when the text spells it out: by the long form
    the abstracts or the common list give it ("ViT": vision transformer), or by words
    whose initials are its letters ("kNN": k-nearest neighbours, "PDEs": partial
    differential equations).
    """
    lowered = name.lower()
    variants = {lowered, lowered.removesuffix("s")}
    variants |= {v.split("-")[0] for v in list(variants) if "-" in v and len(v.split("-")[0]) >= 4}
    if any(v in text for v in variants):
        return True
    if not ACRONYM.match(name):
        return False
    singular = name[:-1] if name.endswith("s") and name[-2:-1].isupper() else name
    long = (acronyms or {}).get(singular.lower())
    if long and long in text:
        return True
    return _spelled_out(text, singular.lower())


def _spelled_out(text: str, letters: str) -> bool:
    """Do consecutive words of `text` start with exactly these letters, in order?"""
    if not letters.isalpha() or not 2 <= len(letters) <= 6:
        return False
    return letters in "".join(w[0] for w in re.findall(r"[a-z0-9]+", text))


def decide(
    model: AnswerabilityModel, query: Query, fused: Sequence[PaperHit], evidence: dict[str, float], k: int
) -> tuple[float, Verdict]:
    """The model's probability and verdict, with two overrides, one each way.

    A question that asks about nothing but a name a retrieved paper goes by ("what is
    HYPO?", "what does CALM do") is answered: the user named the paper, and such short
    questions give the model too little evidence to be sure. A short question asking for a
    name or topic that no candidate paper goes by or is about ("What is Deep Sets?",
    "Which paper introduced capsule networks?", "explain layer normalization") is refused
    for the same reason the other way: the asked thing is not here. This evidence
    (`asked_name_absent`) fires for none of the 367 answerable questions of the tune, test,
    dev, fresh and blind sets, nor in the sweeps of tests/test_unseen.py.
    """
    if not evidence:
        return 0.0, "refuse"
    probability = model.probability(evidence)
    verdict = model.verdict(probability)
    if set(query.only_name) & {h.paper_id for h in fused[:k]}:
        verdict = "answer"
    elif compares_a_shown_paper(query, fused[:k]):
        verdict = "answer"  # "Compare KERPLE and ALiBi": KERPLE's side is answered, ALiBi's said to be absent
    elif evidence.get("asked_name_absent") and (query.asked_topic or len(query.text.split()) <= MAX_SHORT_ASK):
        verdict = "refuse"  # "Which paper introduced capsule networks?": no paper here is that one
    return probability, verdict


def compares_a_shown_paper(query: Query, shown: Sequence[PaperHit]) -> bool:
    """A comparison (two sides, `comparison_sides`, read from the question as the analyzer tidied it, `Query.plain`)
    one of whose sides names a shown paper: the answer quotes that side and says the other has no paper here
    (`ExtractiveAnswerer`), rather than hide the one it has."""
    named = set(query.named) & {h.paper_id for h in shown}
    return bool(named) and len(comparison_sides(query.plain)) == 2


def outside(landmark: Landmark | None, cosine: float, evidence: dict[str, float]) -> Landmark | None:
    """The famous paper a refused question is about, when the evidence points at one.

    Its summary (at `cosine` to the question) must match the question better than any chunk
    of the collection does, and closely (cosine >= LANDMARK_MATCH), so the hint is seldom wrong.
    """
    if landmark is not None and cosine >= LANDMARK_MATCH and evidence.get("landmark_margin", 0.0) > 0:
        return landmark
    return None


class Refusal:
    """The evidence and the decision for one index: its papers, words and names, and the fitted model."""

    def __init__(
        self,
        model: AnswerabilityModel,
        papers: dict[str, Paper],
        paper_text: dict[str, str],
        paper_terms: dict[str, set[str]],
        names: CorpusNames,
        tokenize: Callable[[str], list[str]],
        idf: Callable[[str], float],
    ) -> None:
        self.model = model
        self.papers = papers
        self.paper_text = paper_text
        self.paper_terms = paper_terms
        self.names = names
        self.tokenize = tokenize
        self.idf = idf

    def evidence(
        self,
        query: Query,
        fused: Sequence[PaperHit],
        rankings: dict[str, list[tuple[int, float]]],
        k: int,
        landmark_top: float,
    ) -> dict[str, float]:
        """Every feature of `FEATURES` for the ranked papers (`landmark_top`: the closest famous
        paper's cosine to the question); empty when nothing was ranked."""
        if not fused:
            return {}
        best = fused[0]
        second = fused[1].fused if len(fused) > 1 else 0.0
        terms = [t for t in dict.fromkeys(self.tokenize(query.lexical_text))]
        known = [t for t in terms if t in self.names.vocabulary]
        idf = {t: self.idf(t) for t in known}
        mass = sum(idf.values()) or 1.0
        top_terms = self.paper_terms[best.paper_id]
        top3_terms = set().union(*(self.paper_terms[h.paper_id] for h in fused[:3]))
        max_idf = max(idf.values(), default=1.0)
        texts = [self.paper_text[h.paper_id] for h in fused[:k]]
        top_titles = [self.papers[h.paper_id].title.lower() for h in fused[:k]]
        missing = [
            name for name in named_terms(query.text) if not any(_mentions(t, name, self.names.acronyms) for t in texts)
        ]
        dense = rankings.get("dense") or []
        paper_dense = rankings.get("paper_dense") or []
        dense_scores = [score for _, score in dense[:20]]
        return {
            "fused_top": best.fused,
            "fused_margin": best.fused - second,
            "dense_top": dense_scores[0] if dense_scores else 0.0,
            "paper_dense_top": paper_dense[0][1] if paper_dense else 0.0,
            "dense_spread": (dense_scores[0] - float(np.mean(dense_scores))) if dense_scores else 0.0,
            "agree": sum(best.ranks.get(name) == 0 for name in rankings) / max(len(rankings), 1),
            "coverage": sum(v for t, v in idf.items() if t in top_terms) / mass,
            "coverage_top3": sum(v for t, v in idf.items() if t in top3_terms) / mass,
            "rarest_missing": max((v for t, v in idf.items() if t not in top_terms), default=0.0) / max_idf,
            "unknown_words": (len(terms) - len(known)) / max(len(terms), 1),
            "named": float(any(h.paper_id in query.named for h in fused[:k])),
            "named_in_abstract": float(any(h.paper_id in query.named_in_abstract for h in fused[:k])),
            "missing_names": min(len(missing), 2) / 2,
            "famous_name": float(any(not any(contains_token(t, name) for t in top_titles) for name in query.famous)),
            # the asked-for paper is none of the top k; the asked-about topic none of all candidates
            "asked_name_absent": float(
                any(not self.names_paper(name, fused[:k]) for name in query.asked_names)
                or bool(query.asked_topic and not self.discussed(query.asked_topic, fused))
            ),
            "landmark_top": landmark_top,
            "landmark_margin": landmark_top - (dense_scores[0] if dense_scores else 0.0),
        }

    def decide(
        self, query: Query, fused: Sequence[PaperHit], evidence: dict[str, float], k: int
    ) -> tuple[float, Verdict]:
        """`decide` with this index's model."""
        return decide(self.model, query, fused, evidence, k)

    def discussed(self, topic: str, hits: Sequence[PaperHit]) -> bool:
        """Is one of these papers about `topic` (not just mentioning it once)?"""
        return any(
            discusses(self.papers[h.paper_id].title, self.papers[h.paper_id].abstract, topic)
            or goes_by(self.papers[h.paper_id].abstract, topic)
            for h in hits
        )

    def names_paper(self, name: str, hits: Sequence[PaperHit]) -> bool:
        """Is `name` the title (or a title word, or the coined name) of one of these papers?

        A hyphenated variant counts as its paper's name ("MIGA-Conv" is MIGA's). So does a rare
        word an abstract introduces though it does not look coined ("we introduce a new paradigm
        Coconut"); a word many chunks use (BERT) is a well-known name, not the paper's.
        """
        stem = name.split("-")[0]  # "MIGA-Conv": MIGA's
        owners = set().union(*(self.names.owners(n) for n in ({name, stem} if len(stem) >= 3 else {name})))
        rare = self.names.vocabulary.get(name, 0) <= MAX_NAME_DF  # "Coconut", not "BERT"
        return any(
            h.paper_id in owners
            or contains_token(self.papers[h.paper_id].title.lower().split(":")[0], name)  # the stem only as a name
            or (
                rare
                and (coins(self.papers[h.paper_id].abstract, name) or goes_by(self.papers[h.paper_id].abstract, name))
            )
            for h in hits
        )
