"""The default answerer: offline, no key, every claim a verbatim quote of its source.

It quotes the sentences of the retrieved abstracts that best match the question
(IDF-weighted word overlap, a rank prior, a bonus for numbers when the question asks
"how many"), each followed by its paper's `[n]`.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from rag.answer.citations import Sentence, split_sentences
from rag.models import Source

if TYPE_CHECKING:
    pass

log = logging.getLogger(__name__)

# "Tell me about X", "What is X?", "What does the X paper propose?": the answer is what the paper contributes.
GENERAL_QUESTION = re.compile(
    r"^\s*(?:(?:can you |please )?(?:tell me (?:more )?about|explain|describe|summari[sz]e|overview of)\b"
    r"|(?:what|who) (?:is|are)\b(?!.*\b(?:how|which|why)\b)"
    r"|what (?:does|did|do) .{1,80}\b(?:propose|do|introduce|present|contribute|solve|address|tackle)\b"
    r"|what problem)",
    re.IGNORECASE,
)
CONTRIBUTION = re.compile(
    r"\b(?:we|this (?:paper|work|study)|our (?:paper|work))\s+(?:\w+\s+){0,2}?"
    r"(?:propose|introduce|present|develop|describe|design|address|tackle)",
    re.IGNORECASE,
)
NUMERIC_QUESTION = re.compile(r"\b(how (many|much|fast|big|large|long)|what (fraction|percentage|range|size))\b", re.I)


@dataclass
class ScoredSentence:
    source: Source
    sentence: Sentence
    score: float


class ExtractiveAnswerer:
    """Quotes the best-matching sentences of the retrieved abstracts with `[n]` markers."""

    mode = "extractive"

    def __init__(self, idf: Callable[[str], float], max_sentences: int = 3, source_floor: float = 0.0) -> None:
        """`idf`: a word's inverse document frequency over the index (the BM25 index's)."""
        self.source_floor = source_floor
        self._idf = idf
        self.max_sentences = max_sentences

    def score(self, question: str, sources: list[Source], tokenize) -> list[ScoredSentence]:
        terms = set(tokenize(question))
        wants_number = bool(NUMERIC_QUESTION.search(question))
        scored = []
        for source in sources:
            rank_prior = 1.0 / (1.0 + 0.35 * (source.n - 1))
            for sentence in split_sentences(source.paper.abstract):
                words = tokenize(sentence.text)
                overlap = sum(self._idf(t) for t in terms.intersection(words))
                length_norm = 1.0 + 0.02 * len(words)
                number_bonus = 1.25 if wants_number and re.search(r"\d", sentence.text) else 1.0
                scored.append(ScoredSentence(source, sentence, rank_prior * number_bonus * overlap / length_norm))
        return scored

    def select(self, question: str, sources: list[Source], tokenize) -> list[ScoredSentence]:
        """The best sentence of the top paper, then the strongest others (two per paper at most)."""
        scored = self.score(question, sources, tokenize)
        if not scored:
            return []
        first = [s for s in scored if s.source.n == sources[0].n]
        if GENERAL_QUESTION.search(question):
            # a question about the paper as a whole: lead with what it contributes
            contributions = [s for s in first if CONTRIBUTION.search(s.sentence.text)]
            first = contributions or first
        picked = [max(first, key=lambda s: (s.score, -s.sentence.start))] if first else []
        floor = 0.5 * max(s.score for s in scored)
        for candidate in sorted(scored, key=lambda s: (-s.score, s.source.n, s.sentence.start)):
            if len(picked) >= self.max_sentences:
                break
            if candidate in picked or candidate.score < floor or candidate.score <= 0:
                continue
            if sum(p.source.n == candidate.source.n for p in picked) >= 2:
                continue
            if candidate.source.score < self.source_floor * sources[0].score:
                continue  # a paper retrieval ranks far below the top one is not quoted
            picked.append(candidate)
        return sorted(picked, key=lambda s: (s.source.n, s.sentence.start))

    def write(self, question: str, sources: list[Source], tokenize) -> Iterator[str]:
        """Yield the answer text piece by piece (one quoted sentence per piece)."""
        picked = self.select(question, sources, tokenize)
        current = None
        for item in picked:
            if item.source.n != current:
                current = item.source.n
                lead = "" if item is picked[0] else "\n\n"
                yield f"{lead}From “{item.source.paper.title}” [{current}]: "
            else:
                yield " "
            yield f"{item.sentence.text.strip()} [{current}]"


# ------------------------------------------------------------------------------------------
# The LLM answerer (any OpenAI-compatible endpoint)
