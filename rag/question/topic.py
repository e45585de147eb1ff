"""A set question's topic: the phrase its papers must be about, and the phrases that name it.

"Which papers are about task vectors or function vectors?" asks for papers about a topic; the
per-paper decision (`rag.selection.topic_features`) measures each candidate against the bare
topic, not the whole question, whose "which papers are about" every candidate shares equally.
`set_topic` (rag.question.form) cuts the question's lead; `topic_of` then strips what is left of
the asking verbs (`TOPIC_RULES`, each with the example it must handle), cuts a trailing relative
clause or gloss, and reads the core's coordinations into whole alternatives (`coordinations`:
"task vectors", "function vectors"; "node embeddings for networks", "node embeddings for hypergraphs"),
adding a parenthesised acronym or list ("JEPA"; "word2vec", "GloVe") and a common acronym's long
form ("MoE models" -> "mixture of experts").

A question asked across papers ("What limitations of sparse autoencoders do the papers here point out?")
is chosen as a set question over its topic: `across_topic` cuts where to look and what aspect is asked
(`ACROSS_RULES`) and reads what is left as a set question's topic.
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
        "collection_has",
        re.compile(
            r"^(?:what|which) (?:does|do) (?:the|this|your) (?:collection|corpus|library) (?:have|hold|contain)"
            r"(?: (?:on|about))?\s+",
            re.IGNORECASE,
        ),
        "what does the collection have on abstract visual reasoning and visual puzzles?",
    ),
    TopicRule(
        "anything_on",
        re.compile(r"^anything (?:on|about)(?: whether| how)?\s+", re.IGNORECASE),
        "anything on whether LLMs can monitor their own internal states?",
    ),
    TopicRule(
        "papers_involving",
        re.compile(r"^(?:papers|works|studies) (?:involving|using|with|on|about)\s+", re.IGNORECASE),
        "papers involving robots?",
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
_OR = r"\s+or\s+|\s*/\s*|\s*,\s*(?:or\s+)?"  # what separates alternatives: "or", a slash, a comma
_SPLIT = re.compile(_OR, re.IGNORECASE)
_TRAILING = re.compile(r"\s+(?:itself|themselves|alone|only|here|in general|papers|works|studies)$", re.IGNORECASE)
_GLOSS_WORDS = re.compile(r"\b(?:and the like|etc\.?|and so on|and others)\b", re.IGNORECASE)
_EXCLUSION = re.compile(r"\s*(?:not|except|excluding|other than|but not)\b", re.IGNORECASE)
_GLOSS_LEAD = re.compile(r"^(?:or|and|i\.e\.?|e\.g\.?)\s+", re.IGNORECASE)
# a word that opens a phrase's tail (a preposition, a clause or infinitive): a coordination inside a tail
# shares the words before it ("node embeddings for networks or hypergraphs")
_TAIL_OPENERS = frozenset(
    re.findall(
        r"\w+",
        "for with between of to from in on at into by via using that which who across inside about as when where"
        " through without under over against why how whether what",
    )
)
_SEPARATOR = re.compile(f"({_OR})", re.IGNORECASE)  # the same, kept by re.split
MAX_ALTERNATIVES = 8


def _is_plural(word: str) -> bool:
    """A plural noun names a thing on its own ("transformers or seq2seq models"); a singular word or an
    adjective before "or" modifies the head of the next conjunct ("word or sentence meaning")."""
    w = word.lower()
    return len(w) > 3 and w.endswith("s") and not w.endswith(("ss", "us", "is", "ous"))


def _tail_at(words: Sequence[str]) -> int:
    """Index of the first tail opener in `words` (len(words) if none)."""
    return next((i for i, w in enumerate(words) if w.lower() in _TAIL_OPENERS), len(words))


def coordinations(phrase: str) -> list[str]:
    """Each reading of a phrase's "or" / "," / "/" coordinations, every one a whole topic: the words the
    conjuncts share before and after them are kept with each.

    "node embeddings for networks or hypergraphs" -> "node embeddings for networks", "node embeddings
    for hypergraphs"; "sparse, chunked or memory-efficient attention" -> "sparse attention", "chunked
    attention", "memory-efficient attention"; "quaternions or other hypercomplex numbers in neural
    networks or embeddings" -> "quaternions in neural networks", ..., "other hypercomplex numbers in
    embeddings". Splitting at the bare separators made fragments ("embeddings", "neural networks")
    that every candidate matches.
    """
    pieces = _SEPARATOR.split(phrase.strip())
    segments = [p.split() for p in pieces[0::2]]
    if len(segments) < 2 or any(not s for s in segments[:2]):
        return [phrase.strip()] if phrase.strip() else []
    first = segments[0]
    start = max((i + 1 for i, w in enumerate(first) if w.lower() in _TAIL_OPENERS), default=0)
    prefix, conjuncts = first[:start], [first[start:]]
    end = 1  # the segment the coordination ends in
    while end < len(segments) - 1 and _tail_at(segments[end]) == len(segments[end]) and segments[end]:
        conjuncts.append(segments[end])
        end += 1
    last = segments[end]
    cut = _tail_at(last)
    if cut == 0 and len(conjuncts) > 1:  # ", to generalise ...": the coordination ended a segment earlier
        end -= 1
        last = conjuncts.pop()
        cut = len(last)
    suffix = " ".join(last[cut:])
    tail = "".join(pieces[2 * end + 1 :])
    if tail:
        suffix = (suffix + tail).strip() if suffix else tail.lstrip(" ,/").strip()
        suffix = re.sub(r"^(?:or|and)\s+", "", suffix)
    right = last[:cut]
    if not right or not conjuncts[0]:
        return [phrase.strip()]
    readings = []
    for conjunct in [*conjuncts, right]:
        if conjunct is not right and len(conjunct) == 1 and len(right) >= 2 and not _is_plural(conjunct[0]):
            conjunct = [conjunct[0], *right[1:]]  # a modifier shares the last conjunct's head
        readings.append(" ".join([*prefix, *conjunct, suffix]).strip())
    out: list[str] = []
    for reading in readings:
        for alternative in coordinations(reading) if _SEPARATOR.search(reading) else [reading]:
            if alternative not in out and len(out) < MAX_ALTERNATIVES:
                out.append(alternative)
    return out


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
        if not _EXCLUSION.match(inner):  # "(not knowledge graphs)" names what the topic is not
            alternatives += [a for a in _SPLIT.split(_GLOSS_WORDS.sub("", inner)) if a.strip()]
    bare = " ".join(_PARENTHESISED.sub(" ", text).split())
    end = _CORE_END.search(bare)
    core = bare[: end.start()] if end else bare
    # a core of one word ("networks that take other networks' weights") is too thin: keep the clause
    if len(re.findall(r"\w{3,}", core)) < 2:
        core = bare.split("?")[0]
    core = _TRAILING.sub("", core)
    parts = [strip_topic_lead(p) for p in coordinations(core) if p.strip()]
    alternatives = parts + [
        a for a in (_GLOSS_LEAD.sub("", a.strip()) for a in alternatives) if a and not a.lower().endswith("style")
    ]
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


# An across-paper question ("What limitations of sparse autoencoders do the papers here point out?") is a set
# question in another form: it asks for every paper on a topic that speaks to one aspect. Its topic is what is left
# once the words that say where to look and what aspect to read are gone (`ACROSS_RULES`, each with an example).
ACROSS_RULES: tuple[TopicRule, ...] = (
    TopicRule(
        "where_to_look",
        re.compile(
            r"\b(?:according to|across|among|in|from|by|do|does|did|of)?\s*(?:all\s+)?(?:the\s+|these\s+|those\s+)?"
            r"(?:papers|works|studies|authors)(?:\s+(?:here|in (?:the|this) (?:collection|corpus)|"
            r"on|about|in|for|dealing with|studying|that study|that use))?\b"
            r"|\b(?:in|from) (?:the|this) (?:collection|corpus)\b",
            re.IGNORECASE,
        ),
        "What limitations of sparse autoencoders do the papers here point out?",
    ),
    TopicRule(
        "aspect_verbs",
        re.compile(
            r"\s*\b(?:(?:do|does|did|they|it|are|is|were)\s+)*(?:report(?:ed)?|mention(?:ed)?|point out|say|find|found"
            r"|show|use|used|evaluate[ds]?|measure[ds]?|state|describe|give|list|note|identify|admit|raise|achieve"
            r"|get|perform|compare|fare|handle|train|build|design|tackle|address|approach)\b"
            r"(?:\s+(?:on|for|about|in|with|to))?",
            re.IGNORECASE,
        ),
        "What datasets do the papers on recommender systems use?",
    ),
    TopicRule(
        "aspect_lead",
        re.compile(
            r"^\W*(?:what|which|how)\b(?:\s+(?:well|much|many|exactly|else))?"
            r"(?:\s+(?:are|is|were|do|does|did|have|has))?(?:\s+the)?(?:\s+(?:main|key|common|reported))?"
            r"(?:\s+(?:limitations?|weakness(?:es)?|drawbacks?|shortcomings?|problems?|issues?|challenges?|results?"
            r"|findings?|numbers?|datasets?|benchmarks?|data|metrics?|methods?|approaches?|techniques?))?"
            r"(?:\s+(?:of|for|on|in|with|about))?\s+",
            re.IGNORECASE,
        ),
        "What are the limitations of mixture-of-experts models according to the papers?",
    ),
)


_CONTENT = re.compile(r"\b(?!(?:what|which|how|who|why|when|where)\b)\w{3,}", re.IGNORECASE)


def across_topic(question: str, rules: Sequence[TopicRule] = ACROSS_RULES) -> Topic:
    """The topic of an across-paper question: "What results do papers on image tokenizers report?" ->
    Topic("image tokenizers", ...), read like a set question's once `ACROSS_RULES` have cut what is not topic."""
    text = " ".join(question.strip(" ?.!").split())
    for rule in rules:
        cut = " ".join(rule.pattern.sub(" ", text).split()).strip(" ,;:?")
        if _CONTENT.search(cut):  # a rule never leaves the topic without a word of its own
            text = cut
    return topic_of(f"Which papers are about {text}?")


__all__ = [
    "ACROSS_RULES",
    "TOPIC_RULES",
    "Topic",
    "TopicRule",
    "across_topic",
    "coordinations",
    "raw_topic",
    "strip_topic_lead",
    "topic_of",
]
