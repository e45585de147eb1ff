"""How many of the collection's papers use a word: a word most papers use names no topic of a question's own.

"What benchmarks was it evaluated on?" after an answer asks about the paper under discussion: "benchmarks"
and "evaluated" are the collection's common stock, whatever a search of them alone finds. Counted once per
corpus version, with the rest of retrieval's derived state (`rag.retrieve.IndexState`, saved by
`rag.snapshot`); `rag.conversation` decides with it which of a follow-up's words are its own.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable

_WORD = re.compile(r"[a-z0-9]+")
_SUFFIX = re.compile(r"(?:ations?|ates?|ated|ating|ions?|ings?|ed|es|e|s)$")


def lemma(word: str) -> str:
    """A crude common root, so "evaluated", "evaluate", "evaluating" and "evaluation" count as one word."""
    root = _SUFFIX.sub("", word.lower())
    return root if len(root) >= 3 else word.lower()


class CorpusWords:
    """The number of papers (title and abstract) that use each word, by `lemma`."""

    def __init__(self, texts: Iterable[str]) -> None:
        counts: Counter[str] = Counter()
        papers = 0
        for text in texts:
            papers += 1
            counts.update({lemma(w) for w in _WORD.findall(text.lower())})
        self.papers = papers
        self._counts = dict(counts)

    def share(self, word: str) -> float:
        """The share of papers that use `word` (0 for an empty collection)."""
        return self._counts.get(lemma(word), 0) / self.papers if self.papers else 0.0


__all__ = ["CorpusWords", "lemma"]
