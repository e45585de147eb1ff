"""The abstract sentence splitter: one cut shared by the index (sentence vectors) and the answers (quotes).

It lives below both so data flows one way (corpus -> index -> retrieve -> answer): the
index embeds exactly the sentences the answerer later quotes, without importing the answer
package. Offsets index into the text, so a quote can always be found in its abstract.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"“(])")
# abbreviations a sentence does not end on
NO_BREAK_AFTER = re.compile(r"(?:\bet al|\be\.g|\bi\.e|\bcf|\bvs|\bFigs?|\bEqs?|\bSec|\bTab|\bapprox|\bNo)\.$")


@dataclass(frozen=True)
class Sentence:
    text: str
    start: int
    end: int


def split_sentences(text: str) -> list[Sentence]:
    """Sentences with character offsets into `text` (abstract debris stays verbatim)."""
    out, start = [], 0
    for match in SENTENCE_END.finditer(text):
        piece = text[start : match.start()]
        if NO_BREAK_AFTER.search(piece) or piece.rfind("(") > max(piece.rfind(")"), len(piece) - 60):
            continue  # "Welleck et al. (2020)." and "(e.g. Python)" are one sentence each
        if piece.strip():
            out.append(Sentence(piece, start, match.start()))
        start = match.end()
    if text[start:].strip():
        out.append(Sentence(text[start:].rstrip(), start, len(text.rstrip())))
    return out
