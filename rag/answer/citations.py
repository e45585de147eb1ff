"""The citation checker every answer passes through (quoting sentences as `rag.text.split_sentences` cuts them).

Whatever wrote an answer, `check_citations` keeps only `[n]` that name a retrieved source
(`[n, m]`, `[n-m]` and `[Source n]` are read too), resolves each to the paper's title and
the abstract sentence it supports, and lists the numbers it removed (a model's made-up
citations) and the sentences left without a citation.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from rag.models import Citation, Source
from rag.text import Sentence, split_sentences

if TYPE_CHECKING:
    pass

log = logging.getLogger(__name__)

NOT_IN_CORPUS = "I could not find this in the listed papers, so I will not guess."

# `[1]`, `[1, 2]`, `[1;2]`, `[2-4]`, `[1, 2, and 3]`, `[Source 1]`: the forms LLMs write.
_CITE_BODY = r"\s*\d+(?:\s*(?:,\s*and|[-–,;]|and)\s*\d+)*\s*"
CITATION = re.compile(rf"\[(?:sources?\s*)?({_CITE_BODY})\]", re.IGNORECASE)
WORD = re.compile(r"(?u)\b\w\w+\b")
# "claim. [1]" -> "claim [1]."; not after an ellipsis ("part of a sentence ... [1]" marks a cut, not a stop)
TRAILING_MARKERS = re.compile(rf"(?<!\.\.)([.!?])((?:\s*\[(?:sources?\s*)?{_CITE_BODY}\])+)", re.IGNORECASE)
ELLIPSIS = "..."
# a quoted part of a sentence is a claim of its own: cut after "... [n]" and before a "..." that opens one
# (an opening "..." touches the part's first word; a closing one stands apart: "(e.g. ... [1]" is no opening)
FRAGMENT_CUT = re.compile(r"\.\.\.(?:\s*\[[^\]\n]*\])+\s+(?=\S)|(?:[.!?]|\])\s+(?=\.\.\.\S)")
MIN_FRAGMENT_WORDS = 3


# ------------------------------------------------------------------------------------------
# Citation checking


def parse_citation_numbers(body: str) -> list[int]:
    """`1`, `1, 3`, `2-4`, `1 and 2`, `1; 2, and 3` -> [1], [1, 3], [2, 3, 4], [1, 2], [1, 2, 3] (ranges: 50 max)."""
    numbers: list[int] = []
    for part in re.split(r"\s*(?:,|;|\band\b)\s*", body.strip()):
        if not part:
            continue
        bounds = re.split(r"\s*[-–]\s*", part)
        if len(bounds) == 2 and bounds[0].isdigit() and bounds[1].isdigit():
            lo, hi = int(bounds[0]), int(bounds[1])
            if lo <= hi and hi - lo <= 50:
                numbers.extend(range(lo, hi + 1))
        elif part.isdigit():
            numbers.append(int(part))
    return list(dict.fromkeys(numbers))


@dataclass
class CheckedText:
    text: str
    citations: list[Citation]
    uncited_sentences: list[str] = field(default_factory=list)
    removed: list[int] = field(default_factory=list)


def best_quote(claim: str, source: Source) -> Sentence:
    """The sentence of the cited abstract quoted in the claim, else the one sharing most words."""
    sentences = split_sentences(source.paper.abstract) or [
        Sentence(source.paper.abstract, 0, len(source.paper.abstract))
    ]
    verbatim = [s for s in sentences if s.text.strip().rstrip(".!?") in claim]
    if verbatim:
        return max(verbatim, key=lambda s: len(s.text))
    part = quoted_part(claim, sentences)
    if part is not None:
        return part
    claim_words = set(WORD.findall(claim.lower()))
    return max(sentences, key=lambda s: (len(claim_words & set(WORD.findall(s.text.lower()))), -s.start))


def _find(words: list[str], sentences: list[Sentence]) -> Sentence | None:
    """Where these words stand, in this order and up to whitespace, in one of the sentences."""
    pattern = re.compile(r"\s+".join(map(re.escape, words)))
    for sentence in sentences:
        match = pattern.search(sentence.text)
        if match:
            return Sentence(match.group(), sentence.start + match.start(), sentence.start + match.end())
    return None


def quoted_part(claim: str, sentences: list[Sentence]) -> Sentence | None:
    """The part of one abstract sentence a claim quotes beside a "..." that marks a cut, or None.

    The words before a "..." end the quoted part ("From “X”: we propose Y ..." -> its longest
    tail found in a sentence), the words after one begin it ("...we propose Y." -> its longest
    head), and words between two are the part itself. At least `MIN_FRAGMENT_WORDS` words.
    """
    if ELLIPSIS not in claim:
        return None
    pieces = claim.split(ELLIPSIS)
    best: Sentence | None = None
    for i, piece in enumerate(pieces):
        words = piece.split()
        after, before = i > 0, i < len(pieces) - 1
        if len(words) < MIN_FRAGMENT_WORDS:
            continue
        if after and before:
            runs = [words]
        elif after:
            runs = [words[:j] for j in range(len(words), MIN_FRAGMENT_WORDS - 1, -1)]
        else:
            runs = [words[j:] for j in range(0, len(words) - MIN_FRAGMENT_WORDS + 1)]
        for run in runs:
            found = _find(run, sentences)
            if found is not None:
                if best is None or len(found.text) > len(best.text):
                    best = found
                break
    return best


def claims(text: str) -> list[Sentence]:
    """The answer's claims: its sentences, never running across a line break.

    A list item ("- Problem: ... [1]" then "- Method: ... [1]") is a claim of its own: the splitter
    breaks only before a capital, so without the line cut three items quoting one paper read as one
    sentence and kept only one of their three quotes. So is a quoted part of a sentence ("...we propose
    Y [1]. ...it beats Z ... [1]"): the splitter does not break before a "...".
    """
    out: list[Sentence] = []
    for line in re.finditer(r"[^\n]+", text):
        for s in split_sentences(line.group()):
            start = s.start + line.start()
            cuts = [m.end() for m in FRAGMENT_CUT.finditer(s.text)]
            for a, b in zip([0, *cuts], [*cuts, len(s.text)], strict=True):
                piece = s.text[a:b].rstrip()
                if piece.strip():
                    out.append(Sentence(piece, start + a, start + a + len(piece)))
    return out


def _cite(citations: dict[tuple[int, int], Citation], n: int, quote: Sentence, source: Source) -> None:
    key = (n, quote.start)
    if key not in citations:
        citations[key] = Citation(
            n=n, paper_id=source.paper.id, title=source.paper.title, quote=quote.text, start=quote.start, end=quote.end
        )


def check_citations(text: str, sources: list[Source]) -> CheckedText:
    """Drop `[n]` that are not retrieved sources; resolve the rest to title + quote.

    Citation forms `[n]`, `[n, m]`, `[n-m]` are read; what survives is rewritten
    as `[n][m]` so every marker a reader sees is one clickable source.
    """
    text = TRAILING_MARKERS.sub(lambda m: m.group(2) + m.group(1), text)  # "claim. [1]" -> "claim [1]."
    by_n = {s.n: s for s in sources}
    citations: dict[tuple[int, int], Citation] = {}
    removed: list[int] = []
    uncited: list[str] = []
    out_parts: list[str] = []
    cursor = 0

    headings: list[tuple[int, str]] = []  # (n, claim) of heading lines: resolved only if cited nowhere else
    for sentence in claims(text):
        numbers: list[int] = []

        def rewrite(match: re.Match[str], numbers: list[int] = numbers) -> str:
            kept = []
            for n in parse_citation_numbers(match.group(1)):
                if n in by_n:
                    kept.append(n)
                    numbers.append(n)
                else:
                    removed.append(n)
            return "".join(f"[{n}]" for n in kept)

        cleaned = CITATION.sub(rewrite, sentence.text)
        # "claim [1] ." -> "claim [1]."; a "..." that opens a quoted part keeps its space
        cleaned = re.sub(r"[ \t]+(?!\.\.\.)([.,;:!?])", r"\1", re.sub(r"[ \t]{2,}", " ", cleaned))
        claim = CITATION.sub("", cleaned).strip()
        if numbers and claim.endswith(":"):  # a heading ("“Title” [1] in brief:") names a paper, it quotes none
            headings.extend((n, claim) for n in dict.fromkeys(numbers))
        elif numbers:
            for n in dict.fromkeys(numbers):
                _cite(citations, n, best_quote(claim, by_n[n]), by_n[n])
        elif len(WORD.findall(claim)) >= 4 and not claim.endswith(":"):
            uncited.append(claim)
        out_parts.append(text[cursor : sentence.start])  # the original whitespace keeps paragraphs
        out_parts.append(cleaned)
        cursor = sentence.end
    cited = {n for n, _ in citations}
    for n, claim in headings:  # a paper only a heading cites ("Monet [1] introduces:" over uncited items)
        if n not in cited:
            _cite(citations, n, best_quote(claim, by_n[n]), by_n[n])
    clean_text = "".join(out_parts).strip()
    ordered = sorted(citations.values(), key=lambda c: (c.n, c.start))
    return CheckedText(clean_text, ordered, uncited, list(dict.fromkeys(removed)))


# ------------------------------------------------------------------------------------------
# The extractive answerer
