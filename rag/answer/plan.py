"""The answer's plan: the question's form, the papers it cites, and the sources it shows.

Between retrieval and writing: reads the form (`rag.question.form`), scores every candidate
(up to `rag.selection.DEPTH` of them) with the selection model, and picks the papers to cite
by the form's rule. Sources shown are the top k, then any chosen paper from past the top k,
renumbered k+1, k+2, ... so every `[n]` the answer writes is a shown source. The extractive
writer and the LLM prompt both take the plan, so both paths make the same decisions.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Collection
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from rag.models import Source
from rag.question import plain_question
from rag.question.form import (
    QuestionForm,
    asks_across,
    classify,
    set_asked_across,
    set_predicate,
    set_topic,
    weakness_of,
)
from rag.question.text import LIST_REFERENCE
from rag.question.topic import Topic, across_topic, topic_of
from rag.selection import (
    SEMANTIC_FEATURES,
    TOPIC_FEATURES,
    Candidate,
    SelectionModel,
    candidate_features,
    choice,
    expansion_features,
    paper_words,
    semantic_features,
    topic_features,
)

if TYPE_CHECKING:
    from rag.search import Retrieval
    from rag.sentences import SentenceIndex

log = logging.getLogger(__name__)
# a follow-up choosing among the last answer's papers, and the word after its reference: "which of them
# work on images?" asks for every paper that fits (a plural verb), "which of them works ..." for one
_AMONG_VERB = re.compile(
    rf"\b(?:which|what)\s+(?:of\s+{LIST_REFERENCE}|ones)"
    r"(?:\s+(?:also|mainly|mostly|actually|really|still|only|specifically|both|all))*\s+(?P<verb>[a-z]+)\b",
    re.IGNORECASE,
)
_AMONG_ALL = re.compile(
    rf"\b(?:all|any|some|many|both|none)\s+of\s+{LIST_REFERENCE}\b"
    r"|\bthe\s+ones\s+(?:on|about|that|which|with|for|using)\b",
    re.IGNORECASE,
)


def among_asks_many(question: str) -> bool:
    """Whether a follow-up that chooses among the last answer's papers asks for all that fit: "which of
    them work on images?", "do any of them ...", "the ones that ..." (agreement decides: "which of them
    works ..." and "the one that ..." ask for one)."""
    if _AMONG_ALL.search(question):
        return True
    match = _AMONG_VERB.search(question)
    if match is None:
        return False
    verb = match.group("verb").lower()
    if verb in ("are", "were", "do", "have"):
        return True
    return not verb.endswith("s") or verb.endswith("ss")  # "work", "learn", "discuss": plural


@dataclass
class Plan:
    """What the answer will say: its form, the cited candidates, and every source shown."""

    form: QuestionForm
    sources: list[Source]
    chosen: list[Candidate] = field(default_factory=list)
    candidates: list[Candidate] = field(default_factory=list)
    topic: str = ""  # a set question's topic, for the lead line
    predicate: str = ""  # what a "which papers ..." question says of them, in its words, for the lead line
    asked: str = ""  # what an across question asks for, in its words ("limitations of sparse autoencoders"), ditto
    lead: Candidate | None = None  # the cited paper a single-paper answer quotes (`choice`); None: the first cited
    others: bool = False  # the papers cited past those the last answer cited (`beyond`): the lead says "other"
    found: int = 0  # papers chosen before a count the question asked for cut them ("List three papers ...")

    @property
    def used(self) -> list[int]:
        """Source numbers the answer cites."""
        return [c.source.n for c in self.chosen]

    def beyond(self, known: Collection[str]) -> Plan:
        """The plan without the `known` papers ("Are there other papers on ...?" after an answer citing them): the
        sources still show them, the answer cites only the others (none: nothing to say)."""
        chosen = [c for c in self.chosen if c.source.paper.id not in known]
        lead = self.lead if self.lead is not None and self.lead.source.paper.id not in known else None
        return replace(self, chosen=chosen, lead=lead, others=True)

    @property
    def layout(self) -> str:
        """The form the answer is written in: one item per paper ("set") whenever it cites two or more
        papers ("which of them work on ...", a second paper about as strong), as the extractive writer
        lists them; a comparison or a summary keeps its own layout."""
        if len(self.chosen) >= 2 and self.form.form not in ("comparison", "summary"):
            return "set"
        return self.form.form


class Planner:
    """Built once per retriever: needs its tokenizer, IDF and query vectors, and the sentence vectors."""

    def __init__(self, retriever: Any, sentences: SentenceIndex, model: SelectionModel) -> None:
        self.retriever = retriever
        self.sentences = sentences
        self.model = model
        self._warned = False

    def paper_vectors(self, question: str, sources: list[Source]) -> tuple[np.ndarray | None, list[np.ndarray | None]]:
        """The question's and each source's paper-level vector, when the retriever has a paper embedder.

        The question's vector is the one retrieval just embedded (the embedder caches it); the papers'
        come from the retriever, which reads each from its paper collection once.
        """
        embedder = getattr(self.retriever, "paper_embedder", None)
        if embedder is None or getattr(self.retriever, "paper_collection", None) is None:
            return None, [None] * len(sources)
        vectors = self.retriever.paper_vectors([s.paper.id for s in sources])
        return embedder.embed_query(question), [vectors[s.paper.id] for s in sources]

    def form(self, question: str) -> QuestionForm:
        return classify(plain_question(question))

    @staticmethod
    def topic(question: str) -> str:
        return set_topic(plain_question(question))

    def topic_of(self, question: str, form: QuestionForm) -> Topic | None:
        """A set question's topic when the model that scores it reads TOPIC_FEATURES, else None."""
        return self._topic_of_plain(plain_question(question), form)

    def _reads_topic(self, form: QuestionForm) -> bool:
        """Whether the model that scores this form reads TOPIC_FEATURES (only then is a topic worth embedding)."""
        return any(name in TOPIC_FEATURES for name in self.model.for_form(form).features)

    def _topic_of_plain(self, plain: str, form: QuestionForm) -> Topic | None:
        """`topic_of` for a question already tidied by `plain_question`."""
        if form.form != "set" or not self._reads_topic(form):
            return None
        return topic_of(plain)

    def scoring(self, question: str, form: QuestionForm) -> tuple[QuestionForm, Topic | None]:
        """The form a question's papers are chosen by, and the topic they are measured against.

        A question asked across papers ("What limitations of sparse autoencoders do the papers here point
        out?") is chosen as a set question over its topic (`across_topic`) when there is a set model: every
        paper on the topic may answer, not the one a single-paper model finds likeliest. It keeps its own form
        for how it is written (the sentences that state a limitation).
        """
        return self._scoring(question, plain_question(question), form)

    def _scoring(self, question: str, plain: str, form: QuestionForm) -> tuple[QuestionForm, Topic | None]:
        """`scoring` for a question already tidied by `plain_question` (`plain`)."""
        if across(question, plain, form) and self.model.set_model is not None:
            scoring = replace(form, form="set")
            return scoring, across_topic(plain) if self._reads_topic(scoring) else None
        return form, self._topic_of_plain(plain, form)

    def candidates(self, form: QuestionForm, retrieval: Retrieval, topic: Topic | None = None) -> list[Candidate]:
        """Every retrieved source with its features, sentence cosines and probability.

        With a `topic` (a set question's, see `topic_of`) each candidate is also measured against the
        bare topic: one more query embedding by each embedder.
        """
        model = self.model.for_form(form)
        retriever = self.retriever
        query = retrieval.query
        sources = retrieval.sources
        hits = retrieval.hits if len(retrieval.hits) == len(sources) else [_NoHit()] * len(sources)
        vector = retriever.query_vector(query.dense_text)
        sims = [self.sentences.similarities(vector, s.paper.id) for s in sources]
        terms = [t for t in dict.fromkeys(retriever.tokenize(query.lexical_text)) if t in retriever.bm25.vocab_df]
        named = {*query.named, *query.named_in_abstract}
        rows = candidate_features(form, sources, hits, terms, retriever.idf, retriever.tokenize, sims, named)
        fetched: tuple[np.ndarray | None, list[np.ndarray | None]] | None = None

        def vectors() -> tuple[np.ndarray | None, list[np.ndarray | None]]:
            """The question's and the sources' paper-level vectors, fetched once for every feature group below."""
            nonlocal fetched
            if fetched is None:
                fetched = self.paper_vectors(query.dense_text, sources)
            return fetched

        if any(name in SEMANTIC_FEATURES for name in model.features):
            question_vector, paper_vectors = vectors()
            for row, extra in zip(rows, semantic_features(question_vector, paper_vectors), strict=True):
                row.update(extra)
        if topic is not None and topic.text:
            embedder = getattr(retriever, "paper_embedder", None)
            topic_vector = embedder.embed_query(topic.text) if embedder is not None else None
            sentence_vector = retriever.query_vector(topic.text)
            topic_sims = [self.sentences.similarities(sentence_vector, s.paper.id) for s in sources]
            extras = topic_features(
                topic.alternatives,
                sources,
                retriever.tokenize,
                retriever.idf,
                topic_sims,
                topic_vector,
                vectors()[1] if topic_vector is not None else None,
            )
            for row, extra in zip(rows, extras, strict=True):
                row.update(extra)
        if rows and not self._warned and (missing := model.missing(rows[0])):
            self._warned = True
            log.warning(
                "the selection model uses %s, which this index lacks (no paper-level vectors: run `rag ingest` "
                "with its profile); they count as average",
                ", ".join(missing),
            )
        probabilities = [model.probability(row) for row in rows]
        if model.second_pass is not None and rows:
            # set expansion: measure each candidate against the first pass's surest paper, then score again
            words = [paper_words(retriever.tokenize, s) for s in sources]
            extras = expansion_features(probabilities, vectors()[1], words, retriever.idf)
            for row, extra in zip(rows, extras, strict=True):
                row.update(extra)
            probabilities = [model.second_pass.probability(row) for row in rows]
        return [
            Candidate(source, row, sim, probability)
            for source, row, sim, probability in zip(sources, rows, sims, probabilities, strict=True)
        ]

    def plan(self, question: str, retrieval: Retrieval, k: int, form: QuestionForm | None = None) -> Plan:
        """Choose the cited papers among the retrieved ones and number the sources shown."""
        plain = plain_question(question)  # tidied once for the form, the topic and the lead
        form = form or classify(plain)
        if form.form == "comparison":
            form = replace(form, sides=named_sides(form.sides, retrieval))
        asked_across = across(question, plain, form)
        scoring, topic = self._scoring(question, plain, form)
        candidates = self.candidates(scoring, retrieval, topic)
        query = retrieval.query
        many = asks_across(question, form)
        among_many = bool(query.pool) and form.form != "comparison" and among_asks_many(question)
        named = [pid for pid in query.named if pid not in query.pool]  # a pool is chosen among, not cited whole
        chosen, lead = choice(scoring, candidates, self.model, k, many=many or among_many, named=named, pool=among_many)
        found, wanted = len(chosen), asked_count(plain)
        if wanted and found > wanted:  # "List three papers about attention heads": the three likeliest
            kept = {id(c) for c in sorted(chosen, key=lambda c: -c.probability)[:wanted]}
            chosen = [c for c in chosen if id(c) in kept]
        shown = [c.source for c in candidates if c.source.n <= k]
        renumbered: dict[int, Source] = {}
        for candidate in chosen:
            if candidate.source.n > k:
                moved = candidate.source.model_copy(update={"n": len(shown) + 1})
                renumbered[candidate.source.n] = moved
                shown.append(moved)
        for candidate in candidates:
            if candidate.source.n in renumbered:
                candidate.source = renumbered[candidate.source.n]
        if asked_across:  # its topic is read by `across_topic`; the set lead's reading of it ("raise") is not one
            return Plan(form, shown, chosen, candidates, asked=weakness_of(plain), lead=lead)
        if form.form != "set":
            return Plan(form, shown, chosen, candidates, lead=lead)
        return Plan(form, shown, chosen, candidates, set_topic(plain), set_predicate(plain), lead=lead, found=found)


COUNT_ASKED = re.compile(
    r"\b(?:list|show|give|find|name|recommend|suggest)(?: me)? (?:only |just )?(\d+|two|three|four|five|six|seven)"
    r" (?:\w+ )?(?:papers|works|studies|articles)\b",
    re.IGNORECASE,
)
NUMBER_WORDS = {"two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7}


def asked_count(question: str) -> int:
    """How many papers the question asks for ("List three papers about attention heads" -> 3); 0: no number."""
    match = COUNT_ASKED.search(question)
    if not match:
        return 0
    word = match.group(1).lower()
    return int(word) if word.isdigit() else NUMBER_WORDS[word]


# a comparison side that only points back ("How does it compare to ColBERT?" after an answer about SPLADE v2)
POINTING_SIDE = re.compile(
    r"^(?:it|this|that|this one|that one|(?:this|that|the) (?:paper|work|method|model|approach|one))$", re.IGNORECASE
)


def named_sides(sides: tuple[str, ...], retrieval: Retrieval) -> tuple[str, ...]:
    """A comparison's sides with one that only points back named: the short name of the paper under discussion
    (the first the question names or the conversation carries, `Query.named`), so the answer reads "Comparing
    SPLADE v2 and ColBERT", not "Comparing it and ColBERT ... No paper in the collection is about it itself"."""
    if not any(POINTING_SIDE.match(side.strip()) for side in sides):
        return sides
    papers = {s.paper.id: s.paper for s in retrieval.sources}
    named = [papers[pid] for pid in retrieval.query.named if pid in papers]
    if not named:
        return sides
    return tuple(named[0].short_name if POINTING_SIDE.match(side.strip()) else side for side in sides)


def across(question: str, plain: str, form: QuestionForm) -> bool:
    """Whether a question asks what several papers say (`asks_across`, or a set question that opens on what it
    asks, `set_asked_across`): its papers are chosen as a set over its topic."""
    return asks_across(question, form) or set_asked_across(plain, form)


class _NoHit:
    """A source with no retriever scores (a retrieval made without them): features read 0."""

    scores: dict[str, float] = {}  # noqa: RUF012
