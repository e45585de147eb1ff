"""Spelling repair: a misspelt paper name ("SPALDE") or everyday word ("reasoinng") is searched as meant.

One deletion index serves every repair (`DeletionIndex`: each known word under each of its
one-letter deletions finds the known words one edit from a typed one). It holds the corpus's
words and the paper names, is built on the first question with something to mend (0.13 s on
the seeds), and each repair keeps the candidates of its own kind: a misspelt name becomes a
name, a misspelt word a word.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cached_property

from rag.question.names import MAX_NAME_DF, NAME_TOKEN, CorpusNames
from rag.question.text import WORD, whole_token

MIN_TYPO_NAME = 5  # shorter names are too close to other words to guess from a misspelling
MIN_TYPO_WORD = 6  # an everyday word shorter than this has too many neighbours one edit away
MIN_REPAIR = 5  # letters of an unknown word `repair` mends (query expansion, off by default)

_ENDINGS = ("s", "es", "ed", "d", "ing", "er", "ers", "ly", "ment", "ments", "ness", "ise", "ize")
_PREFIXES = ("re", "pre", "un", "non", "de", "dis", "mis", "over", "under", "sub", "co", "multi", "self")
_KEYBOARD = ["qwertyuiop", "asdfghjkl", "zxcvbnm"]
_NEIGHBOURS = {
    key: {
        _KEYBOARD[r][c]
        for r in range(max(row - 1, 0), min(row + 2, 3))
        for c in (col - 1, col, col + 1)
        if 0 <= c < len(_KEYBOARD[r]) and (r, c) != (row, col)
    }
    for row, line in enumerate(_KEYBOARD)
    for col, key in enumerate(line)
}


def respell(text: str, spelled: dict[str, str]) -> str:
    """`text` with each misspelt word (as `Speller` found them) replaced by what was meant."""
    for word, name in spelled.items():
        text = whole_token(word).sub(name.replace("\\", "\\\\"), text)  # the name as it is, backslashes too
    return text


def _deletes(word: str) -> set[str]:
    return {word[:i] + word[i + 1 :] for i in range(len(word))}


class DeletionIndex:
    """Known words by each one-letter deletion: the words one edit from a typed one, fast."""

    def __init__(self, words: Iterable[str]) -> None:
        self.by_deletion: dict[str, list[str]] = {}
        for word in words:
            for key in _deletes(word) | {word}:
                self.by_deletion.setdefault(key, []).append(word)

    def one_edit_from(self, word: str) -> set[str]:
        """The known words one substitution, insertion, deletion or swap from `word`."""
        candidates = {c for key in _deletes(word) | {word} for c in self.by_deletion.get(key, ())}
        return {c for c in candidates if edit_distance_at_most_one(word, c)}


def edit_distance_at_most_one(a: str, b: str) -> bool:
    """Substitution, insertion, deletion or an adjacent transposition."""
    if a == b:
        return True
    if abs(len(a) - len(b)) > 1:
        return False
    if len(a) == len(b):
        diff = [i for i in range(len(a)) if a[i] != b[i]]
        if len(diff) == 1:
            return True
        return len(diff) == 2 and diff[1] == diff[0] + 1 and a[diff[0]] == b[diff[1]] and a[diff[1]] == b[diff[0]]
    short, long = sorted((a, b), key=len)
    return any(long[:i] + long[i + 1 :] == short for i in range(len(long)))


def slip_of_the_keys(typed: str, word: str) -> bool:
    """Could `typed` be `word` with one slip of the fingers inside it (not at its first letter or its end)?

    Swapped letters, a dropped letter, a doubled or neighbouring extra key, or a neighbouring
    key hit instead. A different ending ("refusals" for "refusal", "optima" for "optimal") or
    beginning ("retraining" for "pretraining") is another word, not a typo; so is a far key
    ("parses" for "passes").
    """
    prefix = 0
    while prefix < min(len(typed), len(word)) and typed[prefix] == word[prefix]:
        prefix += 1
    suffix = 0
    while suffix < min(len(typed), len(word)) - prefix and typed[-1 - suffix] == word[-1 - suffix]:
        suffix += 1
    if prefix < 1 or suffix < 1:
        return False
    typed_part, word_part = typed[prefix : len(typed) - suffix], word[prefix : len(word) - suffix]
    if len(typed_part) == len(word_part) == 2:  # swapped
        return typed_part == word_part[::-1]
    if len(typed_part) == len(word_part) == 1:  # a neighbouring key
        return typed_part in _NEIGHBOURS.get(word_part, ())
    if not word_part and len(typed_part) == 1:  # an extra key: doubled or beside its neighbour
        extra, around = typed_part, {typed[prefix - 1], typed[len(typed) - suffix]}
        return extra in around or bool(_NEIGHBOURS.get(extra, set()) & around)
    return not typed_part and len(word_part) == 1  # a dropped letter


class Speller:
    """Finds the misspelt names and words of a question, given what the corpus and English know.

    `known_names`: famous names outside the collection (rag.landmarks) and their words, never
    "corrected" ("ConvNeXt" is not a misspelt "ConvNet"); `common_words`: everyday English words
    (the embedder's vocabulary: "money" is not a misspelt "Monet").
    """

    def __init__(
        self, names: CorpusNames, known_names: frozenset[str] = frozenset(), common_words: frozenset[str] = frozenset()
    ) -> None:
        self.names = names
        self.vocabulary = names.vocabulary
        self.known_names = known_names
        self.common_words = common_words

    @cached_property
    def _words(self) -> frozenset[str]:
        """The corpus's words of 4+ letters: what a misspelt word can be mended into."""
        return frozenset(t for t in self.vocabulary if len(t) >= 4 and t.isalpha())

    @cached_property
    def _names(self) -> frozenset[str]:
        """One-word paper names (title or coined, 5+ letters) that are no everyday word of the chunks:
        what a misspelt name can be respelt into."""
        return frozenset(
            name
            for name in {*self.names.title_names, *self.names.abstract_names}
            if len(name) >= MIN_TYPO_NAME and name.isalpha() and self.vocabulary.get(name, 0) <= MAX_NAME_DF
        )

    @cached_property
    def _index(self) -> DeletionIndex:
        return DeletionIndex(sorted(self._words | self._names))

    def misspelt(self, question: str) -> dict[str, str]:
        """Every repair of the question: misspelt names first, then misspelt everyday words."""
        spelled = self.misspelt_names(question)
        spelled |= self.misspelt_words(question, skip=spelled)
        return spelled

    def misspelt_names(self, question: str) -> dict[str, str]:
        """ "What is SPALDE?" -> {"SPALDE": "splade"}: words one edit from exactly one paper's name.

        Only words the corpus never uses are corrected, never an English word of `common_words`
        or a famous name of `known_names`, and only into a name that is no everyday word of the
        chunks. Letters only: "GPT-3" is not "GPT-4".
        """
        spelled: dict[str, str] = {}
        for word in NAME_TOKEN.findall(question):
            lowered = word.lower()
            if (
                len(lowered) < MIN_TYPO_NAME
                or not lowered.isalpha()
                or lowered in self.known_names
                or lowered in self.common_words
                or lowered in self.vocabulary
                or lowered in self.names.title_names
                or lowered in self.names.abstract_names
            ):
                continue
            candidates = self._index.one_edit_from(lowered) & self._names
            if len(candidates) == 1:
                spelled[word] = candidates.pop()
        return spelled

    def misspelt_words(self, question: str, skip: dict[str, str] | None = None) -> dict[str, str]:
        """ "reasoinng" -> "reasoning": an everyday word typed wrong, mended so that it counts as known.

        Only a lower-case word of MIN_TYPO_WORD+ letters that no chunk uses and that is no English
        word (`common_words`) or famous name is mended, into a corpus word one slip of the keys
        away (`slip_of_the_keys`) that is an English word or an everyday word of the chunks (in
        more than MAX_NAME_DF): a term the papers lack is not made into one paper's coined name.
        (English words the corpus lacks are no candidates: "juggle" would become "jungle".)
        Without `common_words` (an embedder with no vocabulary) nothing is mended.
        """
        spelled: dict[str, str] = {}
        if not self.common_words:
            return spelled
        for word in WORD.findall(question):
            lowered = word.lower()
            if (
                (skip and word in skip)
                or len(lowered) < MIN_TYPO_WORD
                or not lowered.isalpha()
                or not (word.islower() or word[1:].islower())  # "reasoinng", "Reasoinng"; never "SPALDE"
                or lowered in self.vocabulary
                or lowered in self.common_words
                or lowered in self.known_names
            ):
                continue
            stems = self._known_stems(lowered)  # "detects" is detect's, never a typo of "defects"
            candidates = [
                c
                for c in self._index.one_edit_from(lowered) & self._words
                if (c in self.common_words or self.vocabulary.get(c, 0) > MAX_NAME_DF)
                and slip_of_the_keys(lowered, c)
                and (not stems or any(stem in c for stem in stems))  # "embeding": embed's, so "embedding"
            ]
            if candidates:
                spelled[word] = max(sorted(candidates), key=lambda c: self.vocabulary.get(c, 0))
        return spelled

    def _known_stems(self, word: str) -> set[str]:
        """ "detects" -> {"detect"}, "retraining" -> {"training"}: known words it may inflect."""
        stems = {word[: -len(end)] for end in _ENDINGS if word.endswith(end)}
        stems |= {stem + "e" for stem in stems} | {stem[:-1] for stem in stems if stem[-1:] == stem[-2:-1]}
        stems |= {word[len(start) :] for start in _PREFIXES if word.startswith(start)}
        return {s for s in stems if len(s) >= 4 and (s in self.common_words or s in self.vocabulary)}

    def repair(self, word: str) -> str | None:
        """The corpus word one edit away from an unknown word (the most frequent one), if any."""
        if len(word) < MIN_REPAIR or not word.isalpha():
            return None
        candidates = self._index.one_edit_from(word) & self._words
        if not candidates:
            return None
        return max(sorted(candidates), key=lambda c: self.vocabulary.get(c, 0))
