"""The default answerer: offline, no key, every claim a verbatim quote of its source.

It writes the plan (`rag.answer.plan`): a lead line in the question's own form, then one
item per cited paper, each quoting that paper's best sentence(s) with its `[n]`:

- a set question: "Five papers in the collection are about sparse autoencoders:", then one
  item per paper (its short name or title, its best sentence);
- a comparison: one item per side, quoting the sentences about the compared aspect;
- a summary: problem, method, result, in that order;
- anything else: the paper's best sentences ("From “Title” [n]: ...").

A sentence's score is the learned scorer's probability that it holds the answer
(`rag.answer.sentence_scorer`: its MiniLM cosine to the question, embedded at ingest by
`rag.sentences`, shared words, position, and role cues crossed with what the question asks:
results for "how well", method for "how does", weaknesses for "limitations"). A bare link, a
code/data-availability sentence, a fragment and opening motivation boilerplate ("In recent
years, X has attracted ...") are never quoted unless the question asks for them.
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from rag.answer.plan import Plan
from rag.answer.sentence_scorer import (
    ASKS_FOR_CODE,
    ASKS_WHERE_CODE,
    STATED_WEAKNESS,
    WEAKNESS,
    SentenceScorer,
    own_work_index,
    says_where,
    sentence_features,
    shunned,
)
from rag.answer.spans import Asked, SpanChoice, choose_span, said_words
from rag.models import Source, short_name
from rag.question.form import as_written, asks_across_papers
from rag.selection import Candidate
from rag.text import Sentence, split_sentences

log = logging.getLogger(__name__)

COUNT_WORDS = ("No", "One", "Two", "Three", "Four", "Five", "Six", "Seven", "Eight", "Nine", "Ten", "Eleven", "Twelve")
TOPIC_LEAD = re.compile(
    r"^(?:(?:are|is) (?:about|on)|about|on|study|studies|studying|deal with|deals with|address|tackle|look at|"
    r"looking at|use|using|work on|research on|that|which)\s+",
    re.IGNORECASE,
)
PREDICATE_WORDS = 10  # a longer predicate ("deal with X, so a gallery need not ...") reads as "answer this"
SET_SHORTER = 0.5  # a set item quotes the shortest sentence scoring this share of the paper's best
SINGLE_SENTENCES = 2  # quoted from a single-paper answer's paper (at most)
SIDE_SENTENCES = 2  # quoted per side of a comparison (at most)
SUMMARY_SENTENCES = 3  # quoted in a summary (at most)
ROLES = ("Problem", "Method", "Result")
# a result stated outright ("outperforms", "without degrading", "reaches 24 %"), not any digit ("seq2seq")
RESULT_CLAIM = re.compile(
    r"\b(?:outperform\w*|achiev\w*|improv\w*|state-of-the-art|(?:results?|experiments?|evaluations?) "
    r"(?:show|demonstrate|indicate|reveal)\w*|surpass\w*|gains?|speed-?ups?|faster|reduc\w*|"
    r"without (?:degrading|sacrificing|loss|losing)|we (?:show|find|found|demonstrate|observe))\b"
    r"|(?<![\w-])\d[\d,.]*(?![\w-])",
    re.IGNORECASE,
)


@dataclass
class ScoredSentence:
    source: Source
    sentence: Sentence
    score: float


def count_word(n: int) -> str:
    return COUNT_WORDS[n] if n < len(COUNT_WORDS) else str(n)


def singular(predicate: str) -> str:
    """A plural predicate for one paper: "are about X" -> "is about X", "study X" -> "studies X"."""
    verb, _, rest = predicate.partition(" ")
    lower = verb.lower()
    if lower in ("are", "were"):
        verb = "is" if lower == "are" else "was"
    elif lower == "have":
        verb = "has"
    elif re.search(r"[^aeiou]y$", lower):
        verb = verb[:-1] + "ies"
    elif re.search(r"(?:s|sh|ch|x|z|o)$", lower):
        verb += "es"
    else:
        verb += "s"
    return f"{verb} {rest}".strip()


def side_label(side: str, title: str) -> str:
    """A comparison item's label: the side, and the paper it is quoted from unless the side is its short name
    ("Monet [1]", not "Monet, in “Monet” [1]"; "mixture-of-experts layer, in “Emergent Mixture-of-Experts” [2]")."""
    name = short_name(title)
    same = " ".join(side.strip("“”").lower().split()) == " ".join(name.lower().split())  # a quoted title is its name
    return side if same else f"{side}, in “{name}”"


def summary_role(text: str, index: int, own: int) -> str:
    """What a sentence tells in a summary: the problem (background before the paper speaks of itself),
    a result it states, or else the method."""
    if index < own:
        return "Problem"
    if RESULT_CLAIM.search(text) and not re.search(r"\bwe (?:propose|introduce|present)\b", text, re.IGNORECASE):
        return "Result"
    return "Method"


class ExtractiveAnswerer:
    """Writes a plan as verbatim quotes with `[n]` markers."""

    mode = "extractive"

    def __init__(
        self,
        idf: Callable[[str], float],
        max_sentences: int = 3,
        scorer: SentenceScorer | None = None,
        spans: SpanChoice | None = None,
    ) -> None:
        """`idf`: a word's inverse document frequency over the index (the BM25 index's); `spans`: what part of a
        sentence is quoted (`rag.answer.spans`; default: `rag/spans.json`)."""
        self._idf = idf
        self.max_sentences = max_sentences
        self.scorer = scorer or SentenceScorer.load()
        self.spans = spans if spans is not None else SpanChoice.load()

    # -- scoring ----------------------------------------------------------------------------
    def scored(
        self, question: str, form: str, aspect: str, candidate: Candidate, tokenize, weak_first: bool = False
    ) -> list[ScoredSentence]:
        """Every sentence of the candidate's abstract with its probability of holding the answer (best first).

        The probabilities come from the learned scorer (`rag.answer.sentence_scorer`); a shunned
        sentence (a link, an availability statement, a fragment, opening boilerplate) goes last
        with a negative score unless the question asks for code, so it is quoted only when
        nothing else is left. `weak_first` (a limitation asked across papers): a sentence naming no
        weakness goes after those that name one.
        """
        sentences = split_sentences(candidate.source.paper.abstract)
        if not sentences:
            return []
        texts = [s.text for s in sentences]
        cosines = [candidate.sims.get(s.start, 0.0) for s in sentences]
        rows = sentence_features(
            question, form, aspect, texts, cosines, tokenize, self._idf, candidate.source.paper.title
        )
        probabilities = self.scorer.probabilities(rows)
        wants_code = bool(ASKS_FOR_CODE.search(question))
        asks_where = bool(ASKS_WHERE_CODE.search(question))  # not "models of source code": where to get it
        own = own_work_index(texts)
        # asked for the weaknesses the papers state: a sentence naming none does not answer while another one does
        weakness = weak_first and any(WEAKNESS.search(t) for t in texts)
        stated = weak_first and any(STATED_WEAKNESS.search(t) for t in texts)
        out = []
        for index, (sentence, probability) in enumerate(zip(sentences, probabilities, strict=True)):
            score = probability
            if shunned(sentence.text, index, own, wants_code):
                score -= 2.0
            elif asks_where and says_where(sentence.text):
                score += 1.0  # "Where can I find the code for Monet?": the sentence that says where
            elif weakness and not WEAKNESS.search(sentence.text):
                score -= 1.0
            elif stated and not STATED_WEAKNESS.search(sentence.text):
                score -= 0.5  # "expensive" may name what the paper fixes; "fails", "cannot" state a weakness
            out.append(ScoredSentence(candidate.source, sentence, score))
        return sorted(out, key=lambda s: (-s.score, s.sentence.start))

    def best(
        self,
        question: str,
        form: str,
        aspect: str,
        candidate: Candidate,
        tokenize,
        n: int,
        weak_first: bool = False,
        share_of_first: float | None = None,
    ) -> list[ScoredSentence]:
        """The paper's n best sentences, in abstract order (a further one only when it is itself likely enough).

        Likely enough: probability at least `scorer.second_share`, or, given `share_of_first`, at least that
        share of the first one's. Ranked by probability x (20 / words)^`scorer.length_power`, so of two nearly
        as likely sentences the shorter one is quoted (token F1 on the tune halves).
        """
        ranked = self.scored(question, form, aspect, candidate, tokenize, weak_first)
        ranked = sorted(ranked, key=lambda s: (-self._quote_rank(s), s.sentence.start))
        picked = ranked[:1]
        for item in ranked[1:n]:
            if share_of_first is None:
                likely = item.score >= self.scorer.second_share
            else:
                likely = item.score > 0 and item.score >= share_of_first * picked[0].score
            if likely:
                picked.append(item)
        return sorted(picked, key=lambda s: s.sentence.start)

    def _quote_rank(self, item: ScoredSentence) -> float:
        if item.score <= 0 or not self.scorer.length_power:
            return item.score
        return item.score * (20 / max(len(item.sentence.text.split()), 5)) ** self.scorer.length_power

    def item_sentence(
        self, question: str, form: str, aspect: str, candidate: Candidate, tokenize, weak_first: bool = False
    ) -> ScoredSentence:
        """A set item's one quote: the shortest sentence scoring at least `SET_SHORTER` of the paper's best.

        A set answer quotes one sentence for each of several papers; a shorter one that is nearly as
        likely to hold the answer says the same in fewer words (answer_f1 on the tune halves).
        """
        ranked = self.scored(question, form, aspect, candidate, tokenize, weak_first)
        top = ranked[0].score
        pool = [r for r in ranked if r.score > 0 and r.score >= SET_SHORTER * top] or ranked[:1]
        return min(pool, key=lambda r: (len(r.sentence.text), r.sentence.start))

    def summary(self, question: str, candidate: Candidate, tokenize) -> list[tuple[str, ScoredSentence]]:
        """Up to three of the paper's most likely sentences, each labelled problem, method or result, in that order.

        The sentences are the scorer's (a further one when its probability is at least `scorer.summary_share`
        of the best's), not one per role: a role's cue words chose sentences the reference summaries do not
        hold (tune: key sentence 0.3 -> 0.8, answer_f1 0.31 -> 0.36, n=10). A role a sentence does not hold
        is left out rather than filled with a weaker sentence. Same-role sentences share one item.
        """
        sentences = split_sentences(candidate.source.paper.abstract)
        own = own_work_index([s.text for s in sentences])
        index = {s.start: i for i, s in enumerate(sentences)}
        picked = self.best(
            question,
            "summary",
            "contribution",
            candidate,
            tokenize,
            SUMMARY_SENTENCES,
            share_of_first=self.scorer.summary_share,
        )
        labelled = [(summary_role(s.sentence.text, index[s.sentence.start], own), s) for s in picked]
        return sorted(labelled, key=lambda p: (ROLES.index(p[0]), p[1].sentence.start))

    # -- writing ----------------------------------------------------------------------------
    def quote(
        self,
        question: str,
        form: str,
        aspect: str,
        item: ScoredSentence,
        tokenize,
        said: Counter[str] | None = None,
    ) -> str:
        """The sentence's words the answer quotes: the span `rag.answer.spans` keeps, each cut marked "...".

        `said`: the words the answer has written so far (a word said again adds less to what it tells).
        """
        cue = "number" if form == "number" else "limitation" if "limitation" in (form, aspect) else ""
        paper = item.source.paper
        asked = Asked(question, paper.title, tokenize, self._idf, cue, Counter(said or ()), paper.abstract)
        span = choose_span(item.sentence.text, self.spans, asked)
        return span.rendered()

    def quotes(
        self,
        question: str,
        form: str,
        aspect: str,
        picked: Sequence[ScoredSentence],
        n: int,
        tokenize,
        said: Counter[str],
    ) -> str:
        """The picked sentences of source `n` as the answer quotes them, each followed by its `[n]`."""
        return " ".join(f"{self.quote(question, form, aspect, s, tokenize, said)} [{n}]" for s in picked)

    def write(self, question: str, plan: Plan, tokenize) -> Iterator[str]:
        """Yield the answer text piece by piece: the lead line, then one piece per item."""
        said: Counter[str] = Counter()
        for piece in self._write(question, plan, tokenize, said):
            said.update(said_words(piece))
            yield piece

    def _write(self, question: str, plan: Plan, tokenize, said: Counter[str]) -> Iterator[str]:
        chosen = sorted(plan.chosen, key=lambda c: c.source.n)
        if not chosen:
            return
        form, aspect = plan.form.form, plan.form.aspect
        lead = plan.lead if plan.lead is not None else chosen[0]  # the one a single-paper answer quotes
        if form == "summary":
            yield from self._summary(question, lead, tokenize, said)
            return
        if form == "comparison" and plan.form.sides:
            yield from self._comparison(question, plan, chosen, tokenize, said)
            return
        if len(chosen) >= 2 or form == "set":
            weak = aspect == "limitation"
            items = [(c, [self.item_sentence(question, form, aspect, c, tokenize, weak)]) for c in chosen]
            stated = items
            if aspect == "limitation":  # across papers: only those whose abstract names a weakness
                stated = [(c, picked) for c, picked in items if any(WEAKNESS.search(p.sentence.text) for p in picked)]
            if stated or form == "set":
                items = stated or items[:1]
                yield self._set_lead(
                    len(items), form, aspect, plan.topic, plan.predicate, plan.asked, plan.others, plan.found
                )
                for candidate, picked in items:
                    yield self._item(question, form, aspect, candidate, picked, tokenize, said)
                return
            # no cited paper names a weakness: one paper's answer, with no lead saying it "states limitations"
        # limitations asked of the papers here, even with one cited: quote a stated weakness, as a set item does
        weak = aspect == "limitation" and asks_across_papers(question)
        picked = self.best(question, form, aspect, lead, tokenize, SINGLE_SENTENCES, weak)
        n = lead.source.n
        # the short name ("SPLADE"), not the whole title: its words count against answer_f1, the quotes carry it
        quotes = self.quotes(question, form, aspect, picked, n, tokenize, said)
        yield f"From “{short_name(lead.source.paper.title)}” [{n}]: {quotes}"

    def _item(
        self,
        question: str,
        form: str,
        aspect: str,
        candidate: Candidate,
        picked: Sequence[ScoredSentence],
        tokenize,
        said: Counter[str],
    ) -> str:
        n = candidate.source.n
        quotes = self.quotes(question, form, aspect, picked, n, tokenize, said)
        return f"\n- {short_name(candidate.source.paper.title)} [{n}]: {quotes}"

    @staticmethod
    def _set_lead(
        count: int,
        form: str,
        aspect: str,
        topic: str,
        predicate: str = "",
        asked: str = "",
        others: bool = False,
        found: int = 0,
    ) -> str:
        """ "Five papers in the collection are about X:", in the question's own words where it has them
        ("Which papers automate X?" -> "Seven papers in the collection automate X:"; "What are the limitations
        of X according to the papers?" -> "Six papers in the collection state limitations of X:"); `others`:
        past those the last answer cited ("Two other papers in the collection are about X:"); `found`: how many
        there were to choose from when the question asked for fewer ("... about X (of seven found):")."""
        # the topic follows the question's lead, so its capitals are the user's own ("Othello", not "othello")
        topic = TOPIC_LEAD.sub("", topic.strip().rstrip("?.!")).strip()
        many = count != 1
        noun = ("other " if others else "") + ("papers" if many else "paper")
        verb = "are" if many else "is"
        end = f" (of {count_word(found).lower()} found):" if found > count else ":"
        if form == "limitation" or aspect == "limitation":
            state = "state" if many else "states"
            return f"{count_word(count)} {noun} in the collection {state} {asked or 'limitations'}{end}"
        if predicate and len(predicate.split()) <= PREDICATE_WORDS:
            return f"{count_word(count)} {noun} in the collection {predicate if many else singular(predicate)}{end}"
        if topic and len(topic.split()) <= 8:
            return f"{count_word(count)} {noun} in the collection {verb} about {topic}{end}"
        return f"{count_word(count)} {noun} in the collection {'answer' if many else 'answers'} this{end}"

    def _summary(self, question: str, candidate: Candidate, tokenize, said: Counter[str]) -> Iterator[str]:
        n = candidate.source.n
        yield f"“{candidate.source.paper.title}” [{n}] in brief:"
        last = ""
        for label, item in self.summary(question, candidate, tokenize):
            text = self.quote(question, "summary", "contribution", item, tokenize, said)
            yield f" {text} [{n}]" if label == last else f"\n- {label}: {text} [{n}]"
            last = label

    def _comparison(
        self, question: str, plan: Plan, chosen: list[Candidate], tokenize, said: Counter[str]
    ) -> Iterator[str]:
        from rag.selection import _mentions

        sides = plan.form.sides
        written = {side: as_written(side, question) for side in sides}  # named as the user wrote them
        aspect = plan.form.aspect or "method"
        yield f"Comparing {written[sides[0]]} and {written[sides[1]]}:"
        matched: set[int] = set()
        for side in sides:
            naming = [c for c in chosen if c.source.n not in matched and _mentions(c.source, side)]
            if not naming:
                continue
            owner = max(naming, key=lambda c: (_mentions(c.source, side), c.probability))
            matched.add(owner.source.n)
            picked = self.best(
                f"{side} {question}",
                "comparison",
                aspect,
                owner,
                tokenize,
                SIDE_SENTENCES,
                share_of_first=self.scorer.side_share,
            )
            n = owner.source.n
            quotes = self.quotes(f"{side} {question}", "comparison", aspect, picked, n, tokenize, said)
            yield f"\n- {side_label(written[side], owner.source.paper.title)} [{n}]: {quotes}"
        for candidate in chosen:
            if candidate.source.n not in matched:
                picked = self.best(
                    question,
                    "comparison",
                    aspect,
                    candidate,
                    tokenize,
                    SIDE_SENTENCES,
                    share_of_first=self.scorer.side_share,
                )
                yield self._item(question, "comparison", aspect, candidate, picked, tokenize, said)
        missing = [side for side in sides if not any(_mentions(c.source, side) for c in chosen)]
        if missing:
            yield f"\n\nNo paper in the collection is about {written[missing[0]]} itself."
