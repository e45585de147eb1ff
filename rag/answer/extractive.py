"""The default answerer: offline, no key, every claim a verbatim quote of its source.

It writes the plan (`rag.answer.plan`): a lead line in the question's own form, then one
item per cited paper, each quoting that paper's best sentence(s) with its `[n]`:

- a set question: "Five papers in the collection are about sparse autoencoders:", then one
  item per paper (its short name or title, its best sentence);
- a comparison: one item per side, quoting the sentences about the compared aspect;
- a summary: problem, method, result, in that order;
- anything else: the paper's best sentences ("From “Title” [n]: ...").

A sentence's score is its MiniLM cosine to the question (embedded at ingest, `rag.sentences`)
plus its IDF-weighted share of the question's words, plus a bonus when it carries what the
question's aspect asks for (results for "how well", method for "how does", weaknesses for
"limitations"). A bare link, a code/data-availability sentence and motivation boilerplate
("In recent years, X has attracted ...") are never quoted unless the question asks for them.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from rag.answer.plan import Plan
from rag.models import Source
from rag.selection import Candidate
from rag.text import Sentence, split_sentences

log = logging.getLogger(__name__)

CONTRIBUTION = re.compile(
    r"\b(?:we|this (?:paper|work|study)|our (?:paper|work))\s+(?:\w+\s+){0,2}?"
    r"(?:propose|introduce|present|develop|describe|design|address|tackle|show|find|study|investigate)",
    re.IGNORECASE,
)
ASPECT_CUES = {
    "result": re.compile(
        r"\d|\b(?:outperform\w*|achiev\w*|improv\w*|state-of-the-art|sota|results? (?:show|demonstrate)|"
        r"experiments? (?:show|demonstrate)|surpass\w*|beat\w*|gains?|accura\w*|speed-?ups?|faster|better)\b",
        re.IGNORECASE,
    ),
    "method": re.compile(
        r"\b(?:we (?:propose|introduce|present|design|develop|use|leverage)|our (?:method|approach|model|framework)|"
        r"by (?:\w+ing)|consists? of|based on|uses?|via|mechanism|architecture)\b",
        re.IGNORECASE,
    ),
    "limitation": re.compile(
        r"\b(?:however|limit\w*|fail\w*|struggl\w*|cannot|can't|challeng\w*|drawbacks?|lack\w*|poorly|suffer\w*|"
        r"difficult\w*|unable|insufficient|costly|expensive|problem\w*|issues?|bottleneck\w*|remains? unclear|"
        r"not (?:yet )?(?:well|fully|clear))\b",
        re.IGNORECASE,
    ),
    "data": re.compile(
        r"\b(?:datasets?|benchmarks?|corpus|corpora|evaluat\w*|experiments? on|trained on|tested on)\b"
        r"|\b[A-Z]{2,}\w*\b",
    ),
    "contribution": CONTRIBUTION,
}
PROBLEM = re.compile(
    r"\b(?:however|challeng\w*|problem\w*|limit\w*|remains?|difficult\w*|struggl\w*|lack\w*|costly|expensive|"
    r"bottleneck|gap|open question)\b",
    re.IGNORECASE,
)
LINK = re.compile(r"https?://|www\.|github\.com|\.io/|huggingface\.co", re.IGNORECASE)
AVAILABILITY = re.compile(
    r"\b(?:code|models?|weights|checkpoints?|data(?:sets?)?|implementation|demo)\b[^.]{0,80}?"
    r"\b(?:available|released|open-?sourced?|public(?:ly)?|can be found|will be made)\b"
    r"|\b(?:available|released) at\b|\bopen-?source (?:our|the) (?:code|model)",
    re.IGNORECASE,
)
BOILERPLATE = re.compile(
    r"^\s*(?:in recent years|recently|over the (?:past|last) (?:few )?(?:years|decades?)|with the (?:rapid )?(?:advent|"
    r"development|rise|success|growth)|nowadays|in the (?:era|age) of)\b"
    r"|\b(?:has|have) (?:recently )?(?:attracted|gained|received|garnered|drawn) (?:\w+ ){0,2}(?:attention|interest|"
    r"popularity)|\b(?:has|have) (?:recently )?(?:become|emerged as) (?:a |an |the )?(?:\w+ ){0,3}(?:popular|"
    r"prominent|promising|powerful|dominant|standard|important|key|widely)|\b(?:are|is) (?:increasingly|widely) "
    r"(?:used|popular|adopted)|\bhave (?:recently )?(?:shown|demonstrated|achieved) (?:remarkable|impressive|great|"
    r"significant|tremendous)",
    re.IGNORECASE,
)
OWN_WORK = re.compile(r"\b(?:we|our|us|this (?:paper|work|study|article)|here)\b", re.IGNORECASE)
ASKS_FOR_CODE = re.compile(r"\b(?:code|github|available|release[sd]?|open[- ]source|link|url|download)\b", re.I)
COUNT_WORDS = ("No", "One", "Two", "Three", "Four", "Five", "Six", "Seven", "Eight", "Nine", "Ten", "Eleven", "Twelve")
TOPIC_LEAD = re.compile(
    r"^(?:(?:are|is) (?:about|on)|about|on|study|studies|studying|deal with|deals with|address|tackle|look at|"
    r"looking at|use|using|work on|research on|that|which)\s+",
    re.IGNORECASE,
)
LEXICAL_WEIGHT = 0.5  # the IDF share of the question's words, beside the cosine
ASPECT_BONUS = 0.12
SHUNNED = 0.5  # taken off a link, an availability statement or boilerplate
BACKGROUND = 0.3  # taken off the opening sentences about the field when the question asks what papers do
TOPICAL_MATCH = 0.5  # weight of matching the question in a set answer, where it names only the topic
SET_SENTENCES = 1  # quoted per paper of a set answer
SECOND_SENTENCE = 0.5  # a second sentence of a paper is quoted when it scores this share of the first


@dataclass
class ScoredSentence:
    source: Source
    sentence: Sentence
    score: float


def count_word(n: int) -> str:
    return COUNT_WORDS[n] if n < len(COUNT_WORDS) else str(n)


def short_name(title: str) -> str:
    """ "SPLADE: Sparse Lexical ..." -> "SPLADE"; a title with no short head stays whole."""
    head = title.split(":", 1)[0].strip()
    return head if ":" in title and 0 < len(head.split()) <= 5 else title


class ExtractiveAnswerer:
    """Writes a plan as verbatim quotes with `[n]` markers."""

    mode = "extractive"

    def __init__(self, idf: Callable[[str], float], max_sentences: int = 3, source_floor: float = 0.0) -> None:
        """`idf`: a word's inverse document frequency over the index (the BM25 index's)."""
        self._idf = idf
        self.max_sentences = max_sentences
        self.source_floor = source_floor

    # -- scoring ----------------------------------------------------------------------------
    def scored(
        self, question: str, aspect: str, candidate: Candidate, tokenize, topical: bool = False
    ) -> list[ScoredSentence]:
        """Every sentence of the candidate's abstract, scored for the question (best first).

        `topical`: the question names only a topic (a set question); its words are in the lead line
        already, so matching them counts for less than saying what the paper does.
        """
        match_weight = TOPICAL_MATCH if topical else 1.0
        terms = set(tokenize(question))
        mass = sum(self._idf(t) for t in terms) or 1.0
        cue = ASPECT_CUES.get(aspect)
        wants_code = bool(ASKS_FOR_CODE.search(question))
        out = []
        sentences = split_sentences(candidate.source.paper.abstract)
        # the sentences before the paper first speaks of itself ("we", "this paper") are the field's background
        own = next((i for i, s in enumerate(sentences) if OWN_WORK.search(s.text)), 1)
        for index, sentence in enumerate(sentences):
            text = sentence.text
            words = set(tokenize(text))
            lexical = sum(self._idf(t) for t in terms & words) / mass
            score = match_weight * (candidate.sims.get(sentence.start, 0.0) + LEXICAL_WEIGHT * lexical)
            if cue is not None and cue.search(text):
                score += ASPECT_BONUS * (2.5 if aspect == "limitation" else 1.0)
            elif aspect == "limitation":
                score -= ASPECT_BONUS * 2.5  # asked for a weakness: a sentence naming none does not answer
            if aspect in ("contribution", "") and CONTRIBUTION.search(text):
                score += ASPECT_BONUS  # what the paper itself does, not its background
            elif index < own and aspect != "limitation":  # a limitation is often stated as background
                score -= BACKGROUND  # an opening sentence about the field, not the paper
            if not wants_code and (AVAILABILITY.search(text) or LINK.search(text)):
                score -= SHUNNED
            if index == 0 and BOILERPLATE.search(text):
                score -= SHUNNED / 2
            elif BOILERPLATE.search(text):
                score -= SHUNNED / 4
            if len(words) < 4:
                score -= SHUNNED  # a fragment ("Code: https://...", "(2) ...")
            out.append(ScoredSentence(candidate.source, sentence, score))
        return sorted(out, key=lambda s: (-s.score, s.sentence.start))

    def best(
        self, question: str, aspect: str, candidate: Candidate, tokenize, n: int, topical: bool = False
    ) -> list[ScoredSentence]:
        """The paper's n best sentences, in abstract order (a second only when it scores near the first)."""
        ranked = self.scored(question, aspect, candidate, tokenize, topical)
        picked = ranked[:1]
        for item in ranked[1:n]:
            if item.score >= SECOND_SENTENCE * picked[0].score and item.score > 0:
                picked.append(item)
        return sorted(picked, key=lambda s: s.sentence.start)

    def summary(self, question: str, candidate: Candidate, tokenize) -> list[tuple[str, ScoredSentence]]:
        """Problem, method, result: one sentence each, in that order, never the same one twice."""
        sentences = split_sentences(candidate.source.paper.abstract)
        scored = {s.sentence.start: s for s in self.scored(question, "contribution", candidate, tokenize)}
        used: set[int] = set()
        parts: list[tuple[str, ScoredSentence]] = []
        for label, pattern, pool in (
            ("Problem", PROBLEM, sentences[: max(2, len(sentences) // 2)]),
            ("Method", ASPECT_CUES["contribution"], sentences),
            ("Result", ASPECT_CUES["result"], sentences[1:]),
        ):
            options = [
                s for s in pool if s.start not in used and not (LINK.search(s.text) or AVAILABILITY.search(s.text))
            ]
            if not options:
                continue
            cued = [s for s in options if pattern.search(s.text)] or (options if label != "Result" else [])
            if not cued:
                continue
            if label == "Problem":
                choice = cued[0]
            elif label == "Result":
                choice = cued[-1] if len(cued) == 1 else max(cued, key=lambda s: scored[s.start].score)
            else:
                choice = max(cued, key=lambda s: scored[s.start].score)
            used.add(choice.start)
            parts.append((label, scored[choice.start]))
        order = {"Problem": 0, "Method": 1, "Result": 2}
        return sorted(parts, key=lambda p: order[p[0]])

    # -- writing ----------------------------------------------------------------------------
    def write(self, question: str, plan: Plan, tokenize) -> Iterator[str]:
        """Yield the answer text piece by piece: the lead line, then one piece per item."""
        chosen = sorted(plan.chosen, key=lambda c: c.source.n)
        if not chosen:
            return
        form, aspect = plan.form.form, plan.form.aspect
        if form == "summary" and len(chosen) >= 1:
            yield from self._summary(question, chosen[0], tokenize)
            return
        if form == "comparison" and plan.form.sides:
            yield from self._comparison(question, plan, chosen, tokenize)
            return
        if len(chosen) >= 2 or form == "set":
            topical = form == "set"
            items = [(c, self.best(question, aspect, c, tokenize, SET_SENTENCES, topical)) for c in chosen]
            if aspect == "limitation":  # across papers: only those whose abstract names a weakness
                stated = [
                    (c, picked)
                    for c, picked in items
                    if any(ASPECT_CUES["limitation"].search(p.sentence.text) for p in picked)
                ]
                items = stated or items[:1]
            yield self._set_lead(len(items), form, aspect, plan.topic)
            for candidate, picked in items:
                yield self._item(candidate, picked)
            return
        candidate = chosen[0]
        picked = self.best(question, aspect, candidate, tokenize, 2)
        n = candidate.source.n
        yield f"From “{candidate.source.paper.title}” [{n}]: " + " ".join(
            f"{s.sentence.text.strip()} [{n}]" for s in picked
        )

    @staticmethod
    def _item(candidate: Candidate, picked: Sequence[ScoredSentence]) -> str:
        n = candidate.source.n
        quotes = " ".join(f"{s.sentence.text.strip()} [{n}]" for s in picked)
        return f"\n- {short_name(candidate.source.paper.title)} [{n}]: {quotes}"

    @staticmethod
    def _set_lead(count: int, form: str, aspect: str, topic: str) -> str:
        topic = TOPIC_LEAD.sub("", topic.strip().rstrip("?.!")).strip()
        topic = topic[:1].lower() + topic[1:] if topic[:2].istitle() else topic  # "Sparse autoencoders" mid-line
        many = count != 1
        noun = "papers" if many else "paper"
        verb = "are" if many else "is"
        if form == "limitation" or aspect == "limitation":
            return f"{count_word(count)} {noun} in the collection {'state' if many else 'states'} limitations:"
        if topic and len(topic.split()) <= 8:
            return f"{count_word(count)} {noun} in the collection {verb} about {topic}:"
        return f"{count_word(count)} {noun} in the collection answer this:"

    def _summary(self, question: str, candidate: Candidate, tokenize) -> Iterator[str]:
        n = candidate.source.n
        yield f"“{candidate.source.paper.title}” [{n}] in brief:"
        parts = self.summary(question, candidate, tokenize)
        if not parts:
            parts = [("Summary", s) for s in self.best(question, "contribution", candidate, tokenize, 2)]
        for label, item in parts:
            yield f"\n- {label}: {item.sentence.text.strip()} [{n}]"

    def _comparison(self, question: str, plan: Plan, chosen: list[Candidate], tokenize) -> Iterator[str]:
        from rag.selection import _mentions

        sides = plan.form.sides
        aspect = plan.form.aspect or "method"
        yield f"Comparing {sides[0]} and {sides[1]}:"
        matched: set[int] = set()
        for side in sides:
            naming = [c for c in chosen if c.source.n not in matched and _mentions(c.source, side)]
            if not naming:
                continue
            owner = max(naming, key=lambda c: (_mentions(c.source, side), c.probability))
            matched.add(owner.source.n)
            picked = self.best(f"{side} {question}", aspect, owner, tokenize, 2)
            n = owner.source.n
            quotes = " ".join(f"{s.sentence.text.strip()} [{n}]" for s in picked)
            yield f"\n- {side}, in “{short_name(owner.source.paper.title)}” [{n}]: {quotes}"
        for candidate in chosen:
            if candidate.source.n not in matched:
                yield self._item(candidate, self.best(question, aspect, candidate, tokenize, 2))
        missing = [side for side in sides if not any(_mentions(c.source, side) for c in chosen)]
        if missing:
            yield f"\n\nNo paper in the collection is about {missing[0]} itself."
