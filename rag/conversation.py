"""Follow-up questions: is a message a follow-up, and what should be searched for?

A chat message like "What benchmarks was it evaluated on?" means nothing alone. Offline
(no LLM), `resolve` decides from the message's wording whether it continues the
conversation (pronouns and definite references: "it", "they", "that paper", "the
authors", "what about ...", "and the dataset?", "compare it with X") or starts a new
topic (it says "separately", "another question", or names a paper of its own and refers
to nothing). Each way a message can lean on the last answer is one named row of
`FOLLOW_UP_RULES` with an example (tests/unit/test_conversation.py checks every row); one
row reads the last answer's papers: "how does the constrained clustering part work?" names
a part of the paper the last answer cited, so it is a follow-up although it has no pronoun.
A follow-up is searched as the message plus the title of the paper the
last answer cited first, and the papers that answer cited stay in play (they get the
fusion bonus a named paper gets), so "compare it with pointer networks" finds both.
Wording can mislead: "what is FARM and how does it work?" has "it" but names its own topic, so the
pipeline also searches such a message alone and `OWN_TOPIC_RULES` decide whether it is fresh.
With an LLM endpoint the pipeline may instead condense the conversation through
prompts/condense.txt; this module is the offline resolution and the fallback.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from rag.models import Answer, HistoryTurn
from rag.question.common_words import CorpusWords
from rag.question.names import contains_token, title_names
from rag.question.text import LIST_REFERENCE

# "it", "they", "this paper", "the authors", "that benchmark": the message leans on earlier turns
PRONOUN = r"\b(?:it|its|it's|itself|they|them|their|theirs|these|those|this one|that one|the same)\b"
DEFINITE = (
    r"\b(?:this|that|the|these|those|said)\s+(?:paper|papers|work|study|method|methods|model|models|approach|"
    r"technique|framework|system|architecture|authors?|benchmark|benchmarks|dataset|datasets|results?|"
    r"experiments?|evaluation|idea|algorithm|proposal|one)\b"
)
CONTINUES = r"^\s*(?:and|also|so|but|what about|how about|compare(?:d)?)\b"
BARE_ASK = r"^\s*(?:why|how|what|which|where|when)\??\s*$"
REFERS_BACK = re.compile("|".join((PRONOUN, DEFINITE, CONTINUES, BARE_ASK)), re.IGNORECASE)
# "separately, ...", "another question:", "new topic:": the user says the topic changes
NEW_TOPIC = re.compile(
    r"^\s*(?:separately|unrelated(?:ly)?|on another (?:note|topic)"
    r"|(?:a |an )?(?:another|different|new|other|unrelated) (?:question|topic|thing)"
    r"|changing (?:the )?(?:topic|subject)|switching (?:topics?|gears))\b[\s,:;.!-]*",
    re.IGNORECASE,
)
MAX_CARRIED = 3  # papers of the last answer kept in play
# "what limitations do these papers mention?", "how do they train them?": a follow-up about every paper of a list
PLURAL_REFERENCE = re.compile(
    rf"\b(?:they|them|their|theirs|each of {LIST_REFERENCE}|all of {LIST_REFERENCE})\b"
    r"|\b(?:these|those|the)\s+(?:papers|works|studies)\b",
    re.IGNORECASE,
)
MAX_SHOWN = 15  # a follow-up over a set chooses among this many of the last answer's papers
# "which of them ...", "the one on stock prediction", "any of these": choose among the last answer's papers
AMONG = re.compile(
    r"\b(?:which|what|any|none|all|one|either|neither|some|many|how many)\s+of\s+"
    rf"{LIST_REFERENCE}\b"
    r"|\b(?:which|what) (?:one|paper|ones)\b(?=.*\b(?:them|these|those|above|listed|you (?:listed|mentioned|cited))\b)"
    r"|^\s*(?:and |so |ok,? |then,? )?(?:which|what) ones\b"  # "which ones are built on sheaves?" after a list
    r"|\bthe (?:one|paper|work)s? (?:on|about|that|which|with|for|using|from)\b|\bamong (?:them|these|those)\b",
    re.IGNORECASE,
)
# "which one is used for video?" after a list: a choice among the papers it cited (after one paper, a new question)
WHICH_ONE = re.compile(r"^\s*(?:and |so |ok,? |then,? )?(?:which|what) one\b", re.IGNORECASE)
ORDINALS = {"first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6, "seventh": 7, "eighth": 8,
            "ninth": 9, "tenth": 10, "1st": 1, "2nd": 2, "3rd": 3, "4th": 4, "5th": 5}  # fmt: skip
ORDINAL = re.compile(
    r"\b(?:the )?(" + "|".join(ORDINALS) + r"|last) (?:one|paper|item|result|source|work)\b", re.IGNORECASE
)


def _wordset(words: str) -> frozenset[str]:
    return frozenset(words.split())


# "the constrained clustering part", "this slot attention", "their contrastive loss": a definite
# reference to a phrase of the last answer's papers (see `names_a_part`)
DETERMINERS = frozenset({"the", "this", "that", "these", "those", "their", "its"})
# what a part of a paper is called; after "the", the phrase before it must be the paper's own
PART_NOUNS = _wordset(
    "part parts step steps stage stages component components module modules approach model method mechanism "
    "trick idea technique loss objective layer layers block architecture framework algorithm strategy scheme "
    "procedure design formulation variant encoder decoder"
)
# words a reference phrase stops at (function words, asking verbs) and words too common to name a part
FUNCTION_WORDS = _wordset(
    "a an and are as at be been but by can could did do does for from had has have how if in into is it of on or "
    "over should so such than that the their then there these they this those to under was were what when where "
    "which while who why will with would work works working worked help helps used use uses using make makes made "
    "get gets got compare compared differ differs mean means achieve achieves improve improves handle handles "
    "actually exactly really again also just only still all any each every some more most much many very"
)
GENERIC_WORDS = _wordset(
    "model models method methods approach approaches paper papers work data training result results task tasks "
    "performance new proposed main key first second third last same other different whole overall above "
    "previous following current problem problems question answer system systems way ways thing things one"
)
# "is there a paper on ...", "which paper shows ...": a message asking for a paper seeks a new one
ASKS_FOR_A_PAPER = re.compile(
    r"\b(?:which|what|any|another|other|a|an) (?:\w+ )?(?:papers?|studies|study|articles?)\b"
    r"(?! (?:did|does|do|was|were|is|are) (?:it|they|this|that|these|the authors)\b)"
    r"|\b(?:any|other|related|later|prior|earlier) work\b",
    re.IGNORECASE,
)
_TERM = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*|[^\sa-z0-9]")


def _stem(word: str) -> str:
    """A word as phrases are compared: hyphens apart, a plural "s" dropped ("clusterings" ~ "clustering")."""
    return word[:-1] if len(word) > 3 and word.endswith("s") and not word.endswith("ss") else word


def _words(text: str) -> list[str]:
    return [_stem(w) for w in re.findall(r"[a-z0-9]+", text.lower())]


def _contains(haystack: list[str], phrase: list[str]) -> bool:
    n = len(phrase)
    return n > 0 and any(haystack[i : i + n] == phrase for i in range(len(haystack) - n + 1))


def reference_phrases(question: str) -> list[tuple[str, list[str], bool]]:
    """Each definite reference of `question`: (its determiner, the words after it up to the first
    function word or punctuation, whether a part noun ends them). "that" after a content word opens
    a clause ("a method that works"), not a reference, so it is skipped."""
    terms = _TERM.findall(question.lower())
    found: list[tuple[str, list[str], bool]] = []
    for i, term in enumerate(terms):
        if term not in DETERMINERS:
            continue
        before = terms[i - 1] if i else ""
        if term == "that" and before and before[0].isalnum() and before not in FUNCTION_WORDS:
            continue
        phrase: list[str] = []
        for word in terms[i + 1 : i + 6]:
            if not word[0].isalnum() or word in FUNCTION_WORDS:
                break
            phrase.append(word)
        if phrase:
            found.append((term, phrase, phrase[-1] in PART_NOUNS))
    return found


def names_a_part(question: str, papers: Sequence[tuple[str, str]]) -> int | None:
    """Which of `papers` ((title, text) pairs, the last answer's, cited first) the question refers
    to by a definite phrase of its own words, or None.

    "the X part/step/module/..." refers back when X occurs in a paper; "this/that/their X" when X
    does; a bare "the X Y" only when the whole two-word-or-longer phrase does. X must hold a word
    that is not generic ("the model", "the data" name no part of one paper), and a message that
    asks for a paper ("is there a paper on ...") seeks a new one.
    """
    if ASKS_FOR_A_PAPER.search(question):
        return None
    texts = [_words(f"{title} {text}") for title, text in papers]
    for determiner, phrase, has_part in reference_phrases(question):
        core = phrase[:-1] if has_part and len(phrase) > 1 else phrase
        if has_part and len(phrase) == 1:
            continue  # "the method" alone: DEFINITE's row
        if not any(w not in GENERIC_WORDS for w in core):
            continue
        if determiner == "the" and not has_part and len(core) < 2:
            continue
        words = [_stem(w) for part in core for w in part.split("-")]
        for index, text in enumerate(texts):
            if _contains(text, words) and _mostly_of(question, text):
                return index
    return None


def _mostly_of(question: str, text: list[str]) -> bool:
    """Most of the question's own words are the paper's: a question that brings a topic of its own
    ("what did Imagen find about the diffusion model?") is a new question, whatever phrase it shares."""
    own = [
        _stem(w)
        for w in re.findall(r"[a-z0-9]+", question.lower())
        if w not in FUNCTION_WORDS and w not in GENERIC_WORDS and w not in PART_NOUNS and len(w) > 2
    ]
    present = set(text)
    return 2 * sum(w in present for w in own) > len(own)


def _pattern_rule(pattern: str) -> Callable[[str, Sequence[tuple[str, str]]], int | None]:
    compiled = re.compile(pattern, re.IGNORECASE)
    return lambda question, papers: 0 if compiled.search(question) else None


@dataclass(frozen=True)
class FollowUpRule:
    """One way a message leans on the last answer. `refers` takes the message and the last answer's
    papers ((title, text), cited first) and says which of them it refers to (0: the first cited), or
    None; `example` is a (last cited title, message) pair it must take as a follow-up."""

    name: str
    refers: Callable[[str, Sequence[tuple[str, str]]], int | None]
    example: tuple[str, str]


FOLLOW_UP_RULES: tuple[FollowUpRule, ...] = (
    FollowUpRule("pronoun", _pattern_rule(PRONOUN), ("Pointer Networks", "What benchmarks was it evaluated on?")),
    FollowUpRule("definite", _pattern_rule(DEFINITE), ("Pointer Networks", "How does that paper handle output?")),
    FollowUpRule("continues", _pattern_rule(CONTINUES), ("Pointer Networks", "and the dataset?")),
    FollowUpRule("bare_ask", _pattern_rule(BARE_ASK), ("Pointer Networks", "why?")),
    FollowUpRule(
        "names_a_part",
        names_a_part,
        (
            "Learning Discrete Representations via Constrained Clustering for Effective and Efficient Dense Retrieval",
            "How does the constrained clustering part work?",
        ),
    ),
)


def refers_back(question: str, papers: Sequence[tuple[str, str]]) -> tuple[str, int] | None:
    """The first row of `FOLLOW_UP_RULES` that takes `question` as a follow-up: (its name, the paper it refers to)."""
    for rule in FOLLOW_UP_RULES:
        index = rule.refers(question, papers)
        if index is not None:
            return rule.name, index
    return None


# -- a message with a topic of its own ---------------------------------------------------------
# "what is FARM and how does it represent molecules?" has a pronoun, but "it" is FARM: the message
# names its own topic. A message a row of FOLLOW_UP_RULES took by its wording only (these rows) is
# checked against what it finds searched alone (`OWN_TOPIC_RULES`), and so is one read as choosing
# among the papers shown (`AMONG`, against the shown paper its words fit best); the other rows
# already read the last answer's papers or the message has no words of its own. A message that
# opens by continuing ("and ...", "what about ...", "compare that with ...", CONTINUES) says so
# itself and is not checked.
WORDING_RULES = frozenset({"pronoun", "definite", "continues"})
_OPENS_CONTINUING = re.compile(CONTINUES, re.IGNORECASE)
# Fitted on the tune halves (conversations_tune turns, each read with the full history and with the
# cited-ids-only history a request carries, + questions_tune/questions_forms_tune asked after an
# unrelated first turn; tests/sweeps/test_follow_up_rules.py): no continuing turn made fresh, most
# glued pairs freed. The fewest words of its own a message needs: one is a name beside "it" ("How
# does Starbucks improve on it?"), a comparison with the paper under discussion, which keeps it.
MIN_OWN_WORDS = 2
# How many times more of the message's own words its own paper must use than the carried paper:
# "How does Combiner's way of handling long sequences differ from it?" shares "long sequences" with
# the carried paper (0.75 against 0.5) and compares the two, so it is kept.
OWN_PAPER_RATIO = 2.0
# A message the corpus does not answer alone is not about the carried paper when this many words of
# its own are all absent from that paper ("Who wrote Pride and Prejudice and when was it published?").
MIN_FOREIGN_WORDS = 4
# A word used by at least this share of the collection's papers is no topic of a message's own
# (`rag.question.common_words`: "What benchmarks was it evaluated on?" asks about the paper under discussion);
# fitted on the tune halves like the three numbers above (docs/evaluation.md, "Conversations").
COMMON_SHARE = 0.15
_PRONOUN = re.compile(PRONOUN, re.IGNORECASE)
# English closed-class words FUNCTION_WORDS leaves out (it lists where a reference phrase stops):
# prepositions, personal pronouns, negations. None of them is a topic.
CLOSED_CLASS = _wordset(
    "about above across after against along among around before behind below beneath beside besides between "
    "beyond despite during except inside near off onto out outside past per since through throughout toward "
    "towards upon via within without i me my mine we us our ours you your yours he him his she her hers who "
    "whom whose not no nor yes"
)


def own_words(question: str) -> list[str]:
    """The words a message brings itself: no pronouns, closed-class, generic or too-short words."""
    text = _PRONOUN.sub(" ", question.lower())
    return [
        _stem(w)
        for w in re.findall(r"[a-z0-9]+", text)
        if w not in FUNCTION_WORDS and w not in CLOSED_CLASS and w not in GENERIC_WORDS and len(w) > 2
    ]


def share_of(words: Sequence[str], title: str, text: str) -> float:
    """The share of `words` that a paper's title and text use (0 for no words)."""
    if not words:
        return 0.0
    present = set(_words(f"{title} {text}"))
    return sum(w in present for w in words) / len(words)


def common_in(words: CorpusWords) -> Callable[[str], bool]:
    """Whether a word is one at least `COMMON_SHARE` of the collection's papers use (`resolve`'s `common`)."""
    return lambda word: words.share(word) >= COMMON_SHARE


@dataclass(frozen=True)
class AloneSearch:
    """What a message finds searched alone, without the last answer's paper: whether the answerability
    model answers it, and its best paper (empty when refused with no sources)."""

    answerable: bool
    paper_id: str = ""
    title: str = ""
    text: str = ""


def _finds_its_own_paper(words: list[str], alone: AloneSearch, carried: tuple[str, str], shown: frozenset[str]) -> bool:
    return (
        alone.answerable
        and alone.paper_id not in shown
        and len(words) >= MIN_OWN_WORDS
        and share_of(words, alone.title, alone.text) > 0
        and share_of(words, alone.title, alone.text) >= OWN_PAPER_RATIO * share_of(words, *carried)
    )


def _foreign_to_the_paper(
    words: list[str], alone: AloneSearch, carried: tuple[str, str], shown: frozenset[str]
) -> bool:
    return not alone.answerable and len(words) >= MIN_FOREIGN_WORDS and share_of(words, *carried) == 0


@dataclass(frozen=True)
class OwnTopicRule:
    """One way a message read as a follow-up by its wording shows it has a topic of its own. `applies`
    takes the message's own words, its search alone, the carried paper (title, text) and the ids of
    the papers the last answer showed; `example` is (carried title, carried text, message, search alone)."""

    name: str
    applies: Callable[[list[str], AloneSearch, tuple[str, str], frozenset[str]], bool]
    example: tuple[str, str, str, AloneSearch]


OWN_TOPIC_RULES: tuple[OwnTopicRule, ...] = (
    # alone it finds, answerably, a paper the last answer did not show, and its words are that paper's,
    # at least OWN_PAPER_RATIO times more than the carried paper's
    OwnTopicRule(
        "finds_its_own_paper",
        _finds_its_own_paper,
        (
            "Pointer Networks",
            "A neural architecture that learns the conditional probability of an output sequence of positions.",
            "How do FARM and SELFormer differ in how they represent molecules?",
            AloneSearch(
                True,
                "farm",
                "FARM: Functional Group-Aware Representations for Small Molecules",
                "FARM represents molecules with functional-group-aware tokens.",
            ),
        ),
    ),
    # alone the corpus does not answer it, and none of its own words is the carried paper's
    OwnTopicRule(
        "foreign_to_the_paper",
        _foreign_to_the_paper,
        (
            "Pointer Networks",
            "A neural architecture that learns the conditional probability of an output sequence of positions.",
            "Who wrote Pride and Prejudice and when was it published?",
            AloneSearch(False),
        ),
    ),
)


_REFERENCE = re.compile(f"{PRONOUN}|{DEFINITE}", re.IGNORECASE)


def topic_words(question: str, common: Callable[[str], bool] | None = None) -> list[str]:
    """`own_words` less those most of the collection's papers use (`common`, e.g. `common_in(CorpusWords)`)."""
    words = own_words(question)
    return [w for w in words if not common(w)] if common is not None else words


def names_before_referring(
    question: str, reference: re.Pattern[str] = _REFERENCE, common: Callable[[str], bool] | None = None
) -> bool:
    """A word of its own comes before the message's first pronoun or definite reference: only then can
    that reference be the message's own topic ("what is FARM and how does it work?"). In "How does it
    compare with pointer networks?" "it" comes first and is the paper under discussion."""
    first = reference.search(question)
    return first is None or bool(topic_words(question[: first.start()], common))


def own_topic(
    question: str,
    alone: AloneSearch,
    carried: tuple[str, str],
    shown: Sequence[str],
    reference: re.Pattern[str] = _REFERENCE,
    common: Callable[[str], bool] | None = None,
) -> str | None:
    """The first row of `OWN_TOPIC_RULES` that finds `question` has a topic of its own, or None.

    Only a message that names something before it refers (`names_before_referring`) is checked; with
    `common`, words most papers use are not the message's own (`topic_words`)."""
    if not names_before_referring(question, reference, common):
        return None
    words, seen = topic_words(question, common), frozenset(shown)
    return next((rule.name for rule in OWN_TOPIC_RULES if rule.applies(words, alone, carried, seen)), None)


class Turn(BaseModel):
    """One earlier exchange: what was asked and the Answer given (or a light record of it)."""

    model_config = ConfigDict(frozen=True)

    question: str
    answer: Answer | None = None
    cited_paper_ids: list[str] = Field(default_factory=list, description="When no Answer is kept: what it cited.")
    cited_titles: list[str] = Field(default_factory=list)
    shown_paper_ids: list[str] = Field(default_factory=list, description="When no Answer is kept: its sources.")
    shown_titles: list[str] = Field(default_factory=list)

    def shown(self) -> list[tuple[str, str]]:
        """(paper id, title) of every paper the answer listed or showed: the cited first, in order, then the rest.

        A follow-up over a set ("which of them ...") chooses among all of these, not only the quoted ones.
        """
        listed = self.cited()
        if self.answer is not None:
            seen = dict(listed)
            for source in sorted(self.answer.sources, key=lambda s: s.n):
                seen.setdefault(source.paper.id, source.paper.title)
            return list(seen.items())
        seen = dict(listed)
        for pid, title in zip(self.shown_paper_ids, self.shown_titles, strict=False):
            seen.setdefault(pid, title)
        return list(seen.items())

    def sources(self) -> list[tuple[str, str]]:
        """(paper id, title) of the answer's sources in their numbered order ([1], [2], ...), as the panel shows them.

        "The second one" after an answer that listed one paper points at source [2].
        """
        if self.answer is not None:
            return [(s.paper.id, s.paper.title) for s in sorted(self.answer.sources, key=lambda s: s.n)]
        return list(zip(self.shown_paper_ids, self.shown_titles, strict=False))

    def papers(self) -> list[tuple[str, str, str]]:
        """(paper id, title, abstract or "") of every paper shown, cited first: what a follow-up may name."""
        abstracts = {s.paper.id: s.paper.abstract for s in self.answer.sources} if self.answer is not None else {}
        return [(pid, title, abstracts.get(pid, "")) for pid, title in self.shown()]

    def cited(self) -> list[tuple[str, str]]:
        """(paper id, title) of the papers this turn's answer cited, first cited first."""
        if self.answer is not None:
            seen: dict[str, str] = {}
            for citation in sorted(self.answer.citations, key=lambda c: c.n):
                seen.setdefault(citation.paper_id, citation.title)
            return list(seen.items())
        return list(zip(self.cited_paper_ids, self.cited_titles, strict=False))


class Resolution(BaseModel):
    """What to search for, and why."""

    model_config = ConfigDict(frozen=True)

    standalone_question: str
    follow_up: bool
    carried: list[str] = Field(default_factory=list, description="Paper ids of the last answer kept in play.")
    read_as: str = Field(
        "",
        description="What decided it: a FOLLOW_UP_RULES row, 'ordinal', 'among', 'new_topic', or an "
        "OWN_TOPIC_RULES row that found a topic of its own; empty for a first turn or no rule.",
    )

    @property
    def subjects(self) -> list[str]:
        """The carried papers under discussion ("how does its clustering part work?"): the answer cites them."""
        return [] if self.read_as == "among" else self.carried

    beyond: list[str] = Field(
        default_factory=list,
        description='Paper ids the last answer cited that "Are there other papers on ...?" asks past: not cited again.',
    )

    @property
    def pool(self) -> list[str]:
        """The carried papers of "which of them ...": kept in play, cited only if the question picks them."""
        return self.carried if self.read_as == "among" else []


def as_turns(history: Sequence[Any] | None) -> list[Turn]:
    """Accept Turns, (question, Answer) pairs, or dicts with `question` and `answer`."""
    turns: list[Turn] = []
    for item in history or []:
        if isinstance(item, Turn):
            turns.append(item)
        elif isinstance(item, HistoryTurn):  # a validated request's turn (rag.models.AskRequest)
            turns.append(
                Turn(
                    question=item.question,
                    cited_paper_ids=item.cited_paper_ids,
                    cited_titles=item.cited_titles,
                    shown_paper_ids=item.shown_paper_ids,
                    shown_titles=item.shown_titles,
                )
            )
        elif isinstance(item, tuple | list) and len(item) == 2:
            turns.append(Turn(question=str(item[0]), answer=item[1]))
        elif isinstance(item, dict) and "citations" in item and "cited_paper_ids" not in item:
            # an answer as the /ask API returns it
            cited = {c["paper_id"]: c["title"] for c in item.get("citations") or [] if isinstance(c, dict)}
            shown = {
                s["paper_id"]: s["title"] for s in item.get("sources") or [] if isinstance(s, dict) and "paper_id" in s
            }
            turns.append(
                Turn(
                    question=str(item.get("question", "")),
                    cited_paper_ids=list(cited),
                    cited_titles=list(cited.values()),
                    shown_paper_ids=list(shown),
                    shown_titles=list(shown.values()),
                )
            )
        elif isinstance(item, dict):
            turns.append(Turn.model_validate(item))
        else:
            raise TypeError(f"a history turn must be a Turn, a (question, Answer) pair or a dict, not {type(item)}")
    return turns


def _best_fit(
    question: str, papers: Sequence[tuple[str, str, str]], text_of: Callable[[str], str] | None
) -> tuple[str, str]:
    """The (title, text) of `papers` ((id, title, text): the last answer's) that the message's own words fit best;
    a paper the history keeps without its text is read through `text_of`."""
    words = own_words(question)
    texts = [(title, text or (text_of(pid) if text_of else "")) for pid, title, text in papers]
    return max(texts, key=lambda paper: share_of(words, *paper))


# "Are there other papers on stock prediction?", "any more work on this?": the papers the last answer cited are
# known; the user asks for the rest ("what else does it show?" asks more of the same paper: not this)
ASKS_FOR_OTHERS = re.compile(
    r"\b(?:other|another|more|additional|further)\s+(?:\w+\s+)?(?:papers?|works?|studies|articles?)\b", re.IGNORECASE
)


def resolve(
    question: str,
    history: Sequence[Any] | None,
    search: Callable[[str], AloneSearch] | None = None,
    text_of: Callable[[str], str] | None = None,
    common: Callable[[str], bool] | None = None,
) -> Resolution:
    """`resolve_follow_up`, and for a question asking for other papers than the last answer's, those papers
    (`Resolution.beyond`): the answer cites the others, or says there are none."""
    resolution = resolve_follow_up(question, history, search, text_of, common)
    if not ASKS_FOR_OTHERS.search(question):
        return resolution
    last = next((t for t in reversed(as_turns(history)) if t.cited()), None)
    if last is None:
        return resolution
    return resolution.model_copy(update={"beyond": [pid for pid, _ in last.cited()]})


def resolve_follow_up(
    question: str,
    history: Sequence[Any] | None,
    search: Callable[[str], AloneSearch] | None = None,
    text_of: Callable[[str], str] | None = None,
    common: Callable[[str], bool] | None = None,
) -> Resolution:
    """A follow-up is searched with the last cited paper's title and keeps its papers in play.

    Offline (no `search`) the wording decides. With `search` (the message searched alone, see
    `AloneSearch`) a message a wording rule took is checked by `OWN_TOPIC_RULES` and searched
    afresh when it has a topic of its own; `text_of` gives a carried paper's abstract when the
    history keeps only ids and titles; `common` tells a word most of the collection uses, which is no
    topic of the message's own (`common_in`).
    """
    turns = as_turns(history)
    switched = NEW_TOPIC.match(question)
    if switched:
        question = question[switched.end() :].strip() or question
    last = next((t for t in reversed(turns) if t.cited()), None)
    if not turns or switched or last is None:
        return Resolution(standalone_question=question, follow_up=False, read_as="new_topic" if switched else "")
    ordinal = ORDINAL.search(question)
    if ordinal:  # "the second one": the second paper the answer listed
        listed = last.cited()
        word = ordinal.group(1).lower()
        index = len(listed) if word == "last" else ORDINALS[word]
        if index > len(listed):  # the answer listed fewer: the source under that number in the panel
            listed = last.sources()
        if 1 <= index <= len(listed):
            pid, title = listed[index - 1]
            return Resolution(
                standalone_question=f"{question.rstrip()} ({title})", follow_up=True, carried=[pid], read_as="ordinal"
            )
    among = AMONG.search(question) or (WHICH_ONE.search(question) and len(last.cited()) >= 2)
    if among:  # "which of them is about stock prediction": every paper shown stays in play
        shown = last.shown()[:MAX_SHOWN]
        if search is not None and not _OPENS_CONTINUING.search(question):
            # "list the papers about hyperbolic embeddings" names its own topic: checked against the
            # shown paper its words fit best
            closest = _best_fit(question, last.papers()[:MAX_SHOWN], text_of)
            fresh = own_topic(question, search(question), closest, [pid for pid, _ in shown], AMONG, common)
            if fresh is not None:
                return Resolution(standalone_question=question, follow_up=False, read_as=fresh)
        return Resolution(
            standalone_question=question, follow_up=True, carried=[pid for pid, _ in shown], read_as="among"
        )
    papers = last.papers()[:MAX_SHOWN]
    found = refers_back(question, [(title, abstract) for _, title, abstract in papers])
    if found is None:
        return Resolution(standalone_question=question, follow_up=False)
    cited = last.cited()[:MAX_CARRIED]
    named = papers[found[1]][:2]  # the paper referred to: the first cited, or the one a named part is of
    if named not in cited:
        cited = [named, *cited[: MAX_CARRIED - 1]]
    elif named != cited[0]:
        cited = [named, *(c for c in cited if c != named)]
    listed = last.cited()[:MAX_SHOWN]
    # "what limitations do these papers mention?" after a list: every paper it cited is under discussion
    plural = len(listed) >= 2 and found[1] == 0 and bool(PLURAL_REFERENCE.search(question))
    if plural:  # "what dataset did they use in the Monet paper?" is about the one it names
        asked = question.lower()
        plural = not any(contains_token(asked, name) for name in title_names(dict(listed)))
    if search is not None and found[0] in WORDING_RULES and not _OPENS_CONTINUING.search(question):
        if plural:  # checked against the listed paper its words fit best, as a choice among them is
            subject, text = _best_fit(question, papers[: len(listed)], text_of)
        else:
            pid, subject = cited[0]
            text = next((a for p, _, a in papers if p == pid and a), "") or (text_of(pid) if text_of else "")
        fresh = own_topic(question, search(question), (subject, text), [p for p, _, _ in papers], common=common)
        if fresh is not None:
            return Resolution(standalone_question=question, follow_up=False, read_as=fresh)
    if plural:  # searched with the question that listed them (their topic), as one paper's follow-up is with its title
        standalone = f"{question.rstrip()} ({last.question.strip()})"
        return Resolution(
            standalone_question=standalone, follow_up=True, carried=[p for p, _ in listed], read_as="plural"
        )
    subject = cited[0][1]
    standalone = f"{question.rstrip()} ({subject})" if subject.lower() not in question.lower() else question
    return Resolution(
        standalone_question=standalone, follow_up=True, carried=[pid for pid, _ in cited], read_as=found[0]
    )
