"""Paper names: which words name a paper, which paper coins a name, and whether a paper is about a topic.

A title's coined word ("SoFar", "HYPO", "MM-Lego"), its head before a colon, or the whole
title names that paper; a word an abstract coins ("PCME", "LieGAN": used twice, or in a
"we propose ..." sentence) names the paper that coins it, unless many abstracts use it
(then it is a well-known baseline such as BERT). `CorpusNames` holds these tables for one
corpus; it is built with the index and saved in its snapshot.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from rag.question.acronyms import COMMON_ACRONYMS, COMMON_NAMES, mine_acronyms
from rag.question.text import whole_token

NAME_WORD = re.compile(r"[\w]+")  # the words a lower-cased name or question is matched on
NAME_TOKEN = re.compile(r"[A-Za-z0-9][\w\-]*[A-Za-z0-9]|[A-Za-z0-9]")
INTRODUCES = re.compile(
    r"\b(?:we|this (?:paper|work)|our)\b.{0,60}?"
    r"\b(?:propose|introduce|present|describe|develop|call|dub|name|term|design)",
    re.IGNORECASE,
)
# A capitalised name of up to four words: "DINO", "mip-NeRF", "Progressive GAN", "Network in Network"
CAPITALISED = r"[\w\-.]*[A-Z][\w\-.]*[A-Za-z0-9]"
NAME_WORDS = CAPITALISED + r"(?:\s+(?:(?:in|of|for|and|is|not)\s+)?[A-Z][\w\-.]*[A-Za-z0-9]){0,3}"
MAX_NAME_PAPERS = 2  # a coined word of more abstracts than this is a well-known name, not one paper's
MAX_NAME_DF = 6  # chunks a one-word title name may appear in and still name its paper

QUOTED = re.compile(r"(?<!\w)['\"\u2018\u201c]([^'\"\u2019\u201d]{3,60})['\"\u2019\u201d](?!\w)")
# "the 'dark knowledge' paper": a lower-case phrase quoted before one of these words is a name
# (not before "model": "a 'denoising generative' model" describes one)
NAMED_THINGS = frozenset(["paper", "papers"])


def contains_token(text: str, name: str) -> bool:
    """`name` as a whole token of `text` (a plural allowed), not inside another word ("bert" in "palbert").

    The substring test first: the pattern matches `name` literally and case-sensitively, so a text
    without it cannot match, and most lookups (a question against its candidate names) end there
    without compiling a pattern (at 10x a question is checked against ~150 names).
    """
    return name in text and whole_token(name, plural=True).search(text) is not None


def outside_longer_names(text: str, names: Sequence[str]) -> list[str]:
    """The names `text` holds somewhere other than inside a longer one of them: "matryoshka representation
    learning" names that paper, not also "Representation Learning: A Review ..." whose head it contains."""
    kept = []
    for name in names:
        longer = [other for other in names if len(other) > len(name) and name in other]  # substring first: cheap
        longer = [other for other in longer if contains_token(other, name)]
        if not longer:
            kept.append(name)
            continue
        rest = text
        for other in longer:
            rest = whole_token(other, plural=True).sub(" ", rest)
        if contains_token(rest, name):
            kept.append(name)
    return kept


def coined(word: str) -> bool:
    """ "SoFar", "HYPO", "GPT4" look coined; "Memory", "Efficient", "3D" do not."""
    letters = sum(c.isalpha() for c in word)
    if letters < 2:
        return False
    return any(c.isupper() for c in word[1:]) or any(c.isdigit() for c in word)


def looks_named(phrase: str) -> bool:
    """A capital or a digit marks a name ("Change is Hard", "seq2seq"); lower-case words describe."""
    return any(c.isupper() or c.isdigit() for c in phrase)


def describes(phrase: str) -> bool:
    """ "the multi-hop query paper" describes a paper in lower-case words; "the BERT paper", "the
    word2vec paper" and "the dropout paper" name one (a capital, a digit, or one word)."""
    return " " in phrase.strip() and not looks_named(phrase)


def quotes_a_name(question: str, quote: re.Match[str]) -> bool:
    """ "'Change is Hard'", "'seq2seq'" and "the 'dark knowledge' paper" quote a name; "the 'what job to
    do' summary" or "does it 'know'" only quote the asker's own words (scare quotes), which no
    abstract need carry."""
    if looks_named(quote.group(1)):
        return True
    following = question[quote.end() :].split(maxsplit=1)
    return bool(following) and following[0].lower().strip(",.?!") in NAMED_THINGS


def coined_words(texts: dict[str, str]) -> dict[str, list[str]]:
    """Every coined word (lower-cased) of the texts -> the ids of the texts using it."""
    names: dict[str, set[str]] = {}
    for pid, text in texts.items():
        for word in {m.group() for m in NAME_TOKEN.finditer(text)}:
            if any(coined(part) for part in word.split("-")):
                names.setdefault(word.lower(), set()).add(pid)
    return {n: sorted(p) for n, p in names.items()}


# "these networks, dubbed sinusoidal representation networks or Sirens, ...", "a system called Nugget"
DUBBED = re.compile(
    r"\b(?:dubbed|called|termed|coined|named)\s+(?:as\s+)?(?:an?\s+|the\s+)?([^,.;:()]{1,60})", re.IGNORECASE
)


def dubbed_names(abstracts: dict[str, str]) -> dict[str, list[str]]:
    """Names an abstract gives its work in words that do not look coined ("dubbed ... Sirens", "called Nugget"):
    the one capitalised word of the phrase after "dubbed/called/termed", lower-cased, and its singular."""
    names: dict[str, set[str]] = {}
    for pid, abstract in abstracts.items():
        for match in DUBBED.finditer(abstract):
            capitalised = [w for w in NAME_TOKEN.findall(match.group(1)) if w[0].isupper()]
            if len(capitalised) != 1 or len(capitalised[0]) < 3:
                continue  # none, or a phrase of several ("called Supervised Explicit Semantic Analysis")
            word = capitalised[0].lower()
            for form in {word, re.sub(r"(?<=\w{3})s$", "", word)}:
                names.setdefault(form, set()).add(pid)
    return {n: sorted(p) for n, p in names.items()}


def coins(abstract: str, name: str) -> bool:
    """The abstract introduces `name` (used twice, or in a "we propose ..." sentence), not just cites it."""
    return _introduces(abstract, whole_token(name, flags=re.IGNORECASE))


def goes_by(abstract: str, name: str) -> bool:
    """The abstract uses `name` at least twice, alone or as the head of its own coined names ("trained on Othello
    gameplay ... We analyze OthelloGPT"): a paper its reader would call "the Othello paper"."""
    alone = len(whole_token(name, plural=True, flags=re.IGNORECASE).findall(abstract))
    heading = len(re.findall(rf"(?<![\w\-])(?i:{re.escape(name)})(?=[A-Z0-9]|-[A-Za-z])", abstract))
    return alone + heading >= 2


def _introduces(abstract: str, pattern: re.Pattern[str]) -> bool:
    uses = len(pattern.findall(abstract))
    if uses != 1:  # twice or more: introduced; never: nothing to look for sentence by sentence
        return uses >= 2
    return any(pattern.search(s) and INTRODUCES.search(s) for s in re.split(r"(?<=[.!?])\s+", abstract))


def discusses(title: str, abstract: str, topic: str) -> bool:
    """The paper is about `topic` (its title has it, or the abstract uses it twice, abbreviates or introduces it).

    One passing mention ("... as well as all Capsule Network proposals") is not enough.
    Singular and plural count alike.
    """
    stem = re.sub(r"(?<=\w{3})s$", "", topic)  # "capsule networks" -> "capsule network"
    pattern = whole_token(stem, plural=True, flags=re.IGNORECASE)
    # "maximum inner product search (MIPS)": an abstract that abbreviates a topic goes on to use it
    abbreviated = re.compile(pattern.pattern + r"\s*\(\s*[A-Za-z][\w\-]*\s*\)", re.IGNORECASE)
    return bool(pattern.search(title) or abbreviated.search(abstract)) or _introduces(abstract, pattern)


def abstract_names(
    abstracts: dict[str, str], max_papers: int = MAX_NAME_PAPERS, coined: dict[str, list[str]] | None = None
) -> dict[str, list[str]]:
    """Coined words of abstracts ("PCME", "LieGAN", "MERU") -> the (at most two) papers using them.

    A name many abstracts use ("BERT", "GPT-4") is a baseline, not what a paper is about.
    """
    names: dict[str, list[str]] = {}
    for name, pids in (coined if coined is not None else coined_words(abstracts)).items():
        if len(pids) > max_papers or name in COMMON_NAMES:
            continue
        owners = [pid for pid in pids if coins(abstracts[pid], name)]
        if owners:
            names[name] = owners
    for name, pids in dubbed_names(abstracts).items():  # named in so many words: introduced, whatever it looks like
        if len(pids) <= max_papers and name not in COMMON_NAMES:
            names[name] = sorted({*names.get(name, []), *pids})
    return names


def title_names(titles: dict[str, str]) -> dict[str, list[str]]:
    """Name-like words of titles -> paper ids: "SoFar", "HYPO", "MM-Lego", a short title before ":".

    A word counts when it looks like a coined name (inner capital, all capitals, digits,
    or the whole head before a colon) and at most two titles use it, so "LLM" or "3D" is
    no paper's name.
    """
    names: dict[str, list[str]] = {}
    own: dict[str, list[str]] = {}
    for pid, title in titles.items():
        head = title.split(":", 1)[0].strip() if ":" in title else ""
        candidates: dict[str, None] = {}  # in the title's order, not a set's: the names' order is the same every run
        if head and len(head.split()) <= 5 and len(head) >= 3:
            candidates[head.lower()] = None
        candidates[title.lower().rstrip("?!.")] = None  # the whole title, quoted or typed out
        for match in NAME_TOKEN.finditer(title):
            word = match.group()
            letters = [c for c in word if c.isalpha()]
            if len(letters) < 2:
                continue
            if any(coined(part) for part in word.split("-")):
                candidates[word.lower()] = None
        for name in candidates:
            names.setdefault(name, []).append(pid)
            if name in (head.lower(), title.lower().rstrip("?!.")):
                own.setdefault(name, []).append(pid)
    # a name that is one paper's own (its head or whole title) names that paper, not also a sequel carrying it as
    # a word ("SPLADE" is "SPLADE: Sparse Lexical ...", not "SPLADE v2: ...")
    return {n: own.get(n, pids) for n, pids in names.items() if len(pids) <= 2 and n not in COMMON_NAMES}


@dataclass(frozen=True)
class CorpusNames:
    """What question reading knows of one corpus: its words, acronyms and paper names.

    Built from the papers and the BM25 vocabulary (`build`), once per corpus version.
    """

    vocabulary: dict[str, int]  # word -> chunks using it (BM25's document frequency)
    stop_words: frozenset[str]
    acronyms: dict[str, str]  # short form -> long form: the common list plus the abstracts' own
    abstract_names: dict[str, list[str]]  # coined name -> the papers whose abstract coins it
    coined_papers: dict[str, int]  # coined word -> how many abstracts use it
    title_names: dict[str, list[str]]  # title name -> its papers

    @classmethod
    def build(
        cls,
        abstracts: dict[str, str],
        titles: dict[str, str],
        vocabulary: dict[str, int],
        stop_words: frozenset[str] = frozenset(),
    ) -> CorpusNames:
        coined = coined_words(abstracts)
        return cls(
            vocabulary=vocabulary,
            stop_words=stop_words,
            acronyms={**COMMON_ACRONYMS, **mine_acronyms(abstracts.values())},
            abstract_names=abstract_names(abstracts, coined=coined),
            coined_papers={n: len(p) for n, p in coined.items()},
            # a one-word name that is also an everyday word of the abstracts ("Mask") names nothing
            title_names={
                name: pids
                for name, pids in title_names(titles).items()
                if not re.fullmatch(r"\w+", name) or vocabulary.get(name, 0) <= MAX_NAME_DF
            },
        )

    def owners(self, name: str) -> set[str]:
        """The papers `name` names, by their title or by the name their abstract coins."""
        return set(self.title_names.get(name, ())) | set(self.abstract_names.get(name, ()))
