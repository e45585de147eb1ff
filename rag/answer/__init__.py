"""Answer writers and the citation checker every answer passes through, one module each.

- `citations`: `check_citations` (only `[n]` naming a retrieved source survive, each resolved
  to the paper and the sentence it supports); the sentence splitter is `rag.text`'s, re-exported;
- `extractive`: the default answerer, offline, every claim a verbatim quote;
- `llm`: generation through any OpenAI-compatible endpoint, with its reply checks.
"""

from rag.answer.citations import (
    CITATION,
    NOT_IN_CORPUS,
    CheckedText,
    best_quote,
    check_citations,
    parse_citation_numbers,
)
from rag.answer.extractive import ExtractiveAnswerer
from rag.answer.llm import FALLBACK, LOW_CONFIDENCE, LLMAnswerer, LLMDeadlineExceeded, shorten
from rag.text import Sentence, split_sentences

__all__ = [
    "CITATION",
    "FALLBACK",
    "LOW_CONFIDENCE",
    "NOT_IN_CORPUS",
    "CheckedText",
    "ExtractiveAnswerer",
    "LLMAnswerer",
    "LLMDeadlineExceeded",
    "Sentence",
    "best_quote",
    "check_citations",
    "parse_citation_numbers",
    "shorten",
    "split_sentences",
]
