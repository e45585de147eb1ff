"""Reading a question: the search text and what it names, as one `Query`."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from functools import cached_property

from rag.question.acronyms import COMMON_ACRONYMS
from rag.question.asks import ASKING_WORDS, asked_names, asked_topic
from rag.question.names import (
    MAX_NAME_DF,
    MAX_NAME_PAPERS,
    NAME_TOKEN,
    NAME_WORD,
    CorpusNames,
    coined,
    contains_token,
    outside_longer_names,
)
from rag.question.spelling import Speller, respell
from rag.question.text import WORD
from rag.question.tidy import TIDY_RULES, plain_question, strip_boilerplate


@dataclass(frozen=True)
class Query:
    """A question as the retrievers see it."""

    question: str  # as typed (cleaned of control characters)
    text: str  # tidied and boilerplate stripped: what is embedded
    plain: str = ""  # tidied only (`plain_question`, less the analyzer's skipped rules), before any respelling
    expansions: list[str] = field(default_factory=list)  # acronym long/short forms and typo repairs
    named: list[str] = field(default_factory=list)  # ids of papers whose name-like title word it mentions
    named_in_abstract: list[str] = field(default_factory=list)  # ids of papers whose abstract coins a name it uses
    famous: list[str] = field(default_factory=list)  # coined names it uses that many abstracts mention (baselines)
    asked_names: list[str] = field(default_factory=list)  # "the BERT paper" -> ["bert"]: papers asked for by name
    only_name: list[str] = field(default_factory=list)  # ids named by a question that asks about nothing else
    asked_topic: str = ""  # "what is capsule networks?" -> "capsule networks": a short question's one topic
    spelled: dict[str, str] = field(default_factory=dict)  # a misspelt name as typed -> the name searched for
    # "which of them ...": the last answer's papers, kept in the ranking like named ones (in `named`) but
    # chosen among by the question, not cited for being carried (ids the question does not name itself)
    pool: list[str] = field(default_factory=list)

    @property
    def lexical_text(self) -> str:
        """What BM25 scores: the stripped question plus its expansions."""
        return " ".join([self.text, *self.expansions])

    @property
    def dense_text(self) -> str:
        """What is embedded: the stripped question plus acronym expansions in brackets."""
        return f"{self.text} ({'; '.join(self.expansions)})" if self.expansions else self.text


class QueryAnalyzer:
    """Reads questions against one corpus's names (`CorpusNames`).

    `known_names` (famous names outside the collection, and their words) and `common_words`
    (everyday English: the embedder's vocabulary) are never taken for misspellings.
    `skip_rules` names tidy rules to leave out (a sweep measuring what each rule is worth).
    """

    def __init__(
        self,
        names: CorpusNames,
        known_names: frozenset[str] = frozenset(),
        common_words: frozenset[str] = frozenset(),
        skip_rules: frozenset[str] = frozenset(),
    ) -> None:
        unknown = skip_rules - {rule.name for rule in TIDY_RULES}
        if unknown:
            raise ValueError(f"no tidy rule is named {sorted(unknown)}")
        self.names = names
        self.skip_rules = skip_rules
        self.speller = Speller(names, known_names, common_words)
        self.long_forms = {long: short for short, long in names.acronyms.items()}

    def analyze(
        self, question: str, strip: bool = True, expand: bool = True, absent: Collection[str] = frozenset()
    ) -> Query:
        """`absent`: ids of papers to read the question as if they were gone (deleted, not yet reloaded):
        a question naming one of them asks about something the collection does not hold."""
        names = self.names
        typed = question
        plain = plain_question(typed, self.skip_rules)
        spelled = self.speller.misspelt(plain)
        question = respell(plain, spelled)
        text = strip_boilerplate(question) if strip else question.strip()
        lowered = text.lower()
        words = WORD.findall(lowered)
        expansions = self._expansions(lowered, words) if expand else []
        named_as = [
            name
            for word in dict.fromkeys(NAME_WORD.findall(lowered))
            for name in self._names_by_first_word.get(word, ())
            if contains_token(lowered, name)
        ]
        named_as = outside_longer_names(lowered, named_as)
        named = [pid for name in named_as for pid in names.title_names[name] if pid not in absent]
        coined_here = [
            pid
            for word in NAME_TOKEN.findall(text)
            if any(coined(part) for part in word.split("-")) or self._rare_lower_case(word)
            for pid in names.abstract_names.get(word.lower(), ())
            if pid not in absent
        ]
        famous = [
            word.lower()
            for word in NAME_TOKEN.findall(text)
            if names.coined_papers.get(word.lower(), 0) > MAX_NAME_PAPERS
            and any(coined(p) for p in word.split("-"))
            and word.lower().removesuffix("s") not in COMMON_ACRONYMS
        ]
        name_words = [w for w in NAME_TOKEN.findall(text) if w.lower() not in ASKING_WORDS]
        named_here = [*named, *coined_here]
        # "How well does The Same But Different work?": nothing asked but a (multi-word) title name
        rest = [w for w in name_words if not any(contains_token(name, w.lower()) for name in named_as)]
        only_name = named_here if named_here and (len(name_words) == 1 or not rest) else []
        return Query(
            question=typed,
            plain=plain,
            spelled=spelled,
            only_name=list(dict.fromkeys(only_name)),
            text=text,
            expansions=expansions,
            asked_names=asked_names(question, names),
            # "what's special about VanillaNet": a named paper is no lower-case topic
            asked_topic="" if named_here else asked_topic(question, names.stop_words),
            famous=list(dict.fromkeys(famous)),
            named=list(dict.fromkeys(named)),
            named_in_abstract=[pid for pid in dict.fromkeys(coined_here) if pid not in named],
        )

    def _rare_lower_case(self, word: str) -> bool:
        """ "pcme", "kilogram": a paper's coined name typed in lower case, not an everyday word.

        Rare here means in at most MAX_NAME_DF chunks (the rule title names follow).
        """
        return (
            word.isalnum()
            and word.islower()
            and len(word) >= 3
            and word not in ASKING_WORDS
            and word not in self.names.stop_words
            and self.names.vocabulary.get(word, 0) <= MAX_NAME_DF
        )

    def _expansions(self, lowered: str, words: list[str]) -> list[str]:
        """Acronym long forms, short forms of spelled-out terms, and typo repairs (`expand_query`, off by default)."""
        acronyms, vocabulary = self.names.acronyms, self.names.vocabulary
        expansions: list[str] = []
        for word in dict.fromkeys(words):
            singular = word[:-1] if word.endswith("s") and word[:-1] in acronyms else word
            long = acronyms.get(singular)
            if long and long not in lowered:
                expansions.append(long)
            elif word not in vocabulary and word not in self.names.stop_words and (fix := self.speller.repair(word)):
                expansions.append(fix)
        for long, short in self.long_forms.items():
            if " " in long and long in lowered and short not in words:
                expansions.append(short)
        return expansions

    @cached_property
    def _names_by_first_word(self) -> dict[str, list[str]]:
        """Title names by their first word: a question is matched against the names its words start,
        not against every name of the corpus (50,000 papers: 0.4 s a question the other way)."""
        index: dict[str, list[str]] = {}
        for name in self.names.title_names:
            first = NAME_WORD.findall(name)
            if first:
                index.setdefault(first[0], []).append(name)
        return index
