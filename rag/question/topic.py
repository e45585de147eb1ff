"""A set question's topic: the phrase its papers must be about, and the phrases that name it.

"Which papers are about task vectors or function vectors?" asks for papers about a topic; the
per-paper decision (`rag.selection.topic_features`) measures each candidate against the bare
topic, not the whole question, whose "which papers are about" every candidate shares equally.
`set_topic` (rag.question.form) cuts the question's lead; `topic_of` then strips what is left of
the asking verbs (`TOPIC_RULES`, each with the example it must handle), cuts a trailing relative
clause or gloss, and splits the core into its alternatives ("task vectors", "function vectors"),
adding a parenthesised acronym or list ("JEPA"; "word2vec", "GloVe") and a common acronym's long
form ("MoE models" -> "mixture of experts").
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from rag.question.acronyms import COMMON_ACRONYMS
from rag.question.form import set_topic


@dataclass(frozen=True)
class TopicRule:
    """One row of the table: what `pattern` removes from the topic, with an example it must change."""

    name: str
    pattern: re.Pattern[str]
    example: str  # a set question; tests check the rule changes its topic


_VERBS = (
    r"(?:propose|use|apply|study|studies|examine|explain|characteri[sz]e|design|train|build|connect|do|look|work"
    r"|deal|learn|automate|make|making|building|using|fine-tune|probe|focus|address|tackle|investigate|analy[sz]e"
    r"|introduce|present|develop|improve|evaluate|describe|discuss|explore|treat|cover|concern|give|bring|offer"
    r"|provide|report|show|take)"
)
TOPIC_RULES: tuple[TopicRule, ...] = (
    TopicRule(
        "asking_verbs",
        re.compile(
            rf"^(?:(?:or|and|mainly|mostly|specifically|also|all|try to|tries to) )*{_VERBS}"
            rf"(?:(?:,| or| and|, or|, and) {_VERBS})*(?: (?:on|at|inside|into|with|about|in|upon))?\s+",
            re.IGNORECASE,
        ),
        "Which papers propose or use a mixture-of-experts model?",
    ),
    TopicRule(
        "asking_lead",
        re.compile(
            r"^(?:what do we have|what is there|what have we got|are there|is there|any|ways? to)"
            r"(?: (?:on|about|for))?\s+",
            re.IGNORECASE,
        ),
        "what do we have on self-supervised speech representations?",
    ),
    TopicRule(
        "about",
        re.compile(
            r"^(?:(?:are|is|there) )?(?:(?:mainly|mostly|specifically|all) )?(?:about|on|regarding|concerning)\s+", re.I
        ),
        "Which papers are mainly about cross-modal retrieval between images and text?",
    ),
    TopicRule(
        "kind_of",
        re.compile(
            r"^(?:an? |the )?(?:new |novel |different )?"
            r"(?:kinds?|types?|forms?|ways?|methods?|approach(?:es)?|variants?) (?:of|to|for)\s+",
            re.IGNORECASE,
        ),
        "Which papers propose a new kind of positional encoding?",
    ),
    TopicRule(
        "article",
        re.compile(r"^(?:an?|the|new|novel)\s+", re.IGNORECASE),
        "Which papers introduce a benchmark for long-context retrieval?",
    ),
)
# where the topic's core ends: a relative clause, a gloss, an example list, a purpose
_CORE_END = re.compile(
    r"\s*(?:,?\s+(?:that|which|who|so|where|such as|like|to see|in order to|i\.e\.?|e\.g\.?|namely)\b"
    r"|,\s|;|:|\s\(|\s[—–]\s|\?)",
    re.IGNORECASE,
)
_PARENTHESISED = re.compile(r"\(([^()]{2,60})\)")
_SPLIT = re.compile(r"\s+or\s+|\s*/\s*|\s*,\s*(?:or\s+)?", re.IGNORECASE)
_TRAILING = re.compile(r"\s+(?:itself|themselves|alone|only|here|in general)$", re.IGNORECASE)
_GLOSS_WORDS = re.compile(r"\b(?:and the like|etc\.?|and so on|and others)\b", re.IGNORECASE)


@dataclass(frozen=True)
class Topic:
    """`text` is embedded as one query; a paper naming any of `alternatives` is about the topic."""

    text: str
    alternatives: tuple[str, ...]


def strip_topic_lead(topic: str, rules: Sequence[TopicRule] = TOPIC_RULES) -> str:
    """`set_topic`'s topic without the asking verbs and articles left before it."""
    text = topic.strip()
    for _ in range(4):
        before = text
        for rule in rules:
            text = rule.pattern.sub("", text, count=1).strip()
        if text == before:
            break
    return text


def raw_topic(question: str) -> str:
    """`set_topic`'s topic; for a lead it does not read, the words after "papers on" (else the question)."""
    raw = set_topic(question)
    if not raw:
        match = re.search(r"\b(?:papers?|works?|studies)\b(?: \w+){0,2}? (?:on|about|into|for)\s+(.+)$", question, re.I)
        raw = match.group(1) if match else question
    return raw.strip(" ?.!")


def topic_of(question: str) -> Topic:
    """The topic of a (tidied) set question: "Which papers use low-rank adaptation (LoRA) modules?" ->
    Topic("low-rank adaptation (LoRA) modules", ("low-rank adaptation", "LoRA", "low-rank adaptation")).

    A question whose lead `set_topic` does not read ("papers on decoding algorithms ...?") keeps its
    words after the first "papers/works ... on|about" (`raw_topic`).
    """
    text = strip_topic_lead(raw_topic(question))
    alternatives: list[str] = []
    for inner in _PARENTHESISED.findall(text):
        alternatives += [a for a in _SPLIT.split(_GLOSS_WORDS.sub("", inner)) if a.strip()]
    bare = " ".join(_PARENTHESISED.sub(" ", text).split())
    end = _CORE_END.search(bare)
    core = bare[: end.start()] if end else bare
    # a core of one word ("networks that take other networks' weights") is too thin: keep the clause
    if len(re.findall(r"\w{3,}", core)) < 2:
        core = bare.split("?")[0]
    core = _TRAILING.sub("", core)
    parts = [strip_topic_lead(p) for p in _SPLIT.split(core) if p.strip()]
    alternatives = parts + [a.strip() for a in alternatives if a.strip() and not a.strip().lower().endswith("style")]
    # a common acronym named alone ("SAEs", "MoE models") counts in its long form as well
    for part in [a for a in alternatives if len(a.split()) <= 2]:
        for word in re.findall(r"\b[A-Za-z]{2,6}\b", part):
            long = COMMON_ACRONYMS.get(word.lower().removesuffix("s")) if sum(c.isupper() for c in word) >= 2 else None
            if long:
                alternatives.append(long)
    seen: dict[str, str] = {}
    for alternative in alternatives:
        seen.setdefault(alternative.lower(), alternative)
    return Topic(text, tuple(seen.values()))


__all__ = ["TOPIC_RULES", "Topic", "TopicRule", "raw_topic", "strip_topic_lead", "topic_of"]
