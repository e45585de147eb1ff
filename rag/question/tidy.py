"""Tidying a question: what a user typed around the question is dropped before it is read.

Each rule is a small named function with one example (`TIDY_RULES`, applied in order by
`plain_question`). One guard covers them all (`still_asks`): what a rule leaves must still
be a question. `strip_boilerplate` then takes the search text out of the tidied question
("Which paper proposes X in here?" -> "X").

To remove a rule, delete its function and its entry; tests/test_query.py checks each
rule's example, and `plain_question(q, skip={"name"})` shows what a question reads as
without one rule (a sweep measuring each rule alone).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection
from dataclasses import dataclass

from rag.question.names import QUOTED, quotes_a_name
from rag.question.text import WORD


@dataclass(frozen=True)
class Rule:
    """One tidying step: `apply` maps a question to the question without what it drops;
    `example` is a (typed, tidied) pair it must produce; `cuts_end` marks a rule that drops
    the question's last words (see `still_asks`)."""

    name: str
    apply: Callable[[str], str]
    example: tuple[str, str]
    cuts_end: bool = False


def still_asks(rule: Rule, tidied: str) -> bool:
    """The one guard: a rule's result stands when something is left, and two words or more when
    the rule cut the question's end, where the asked thing usually is: a cut at the front may
    leave a lone name ("hey SoFar" asks about SoFar), one at the end may not ("BERT vs GPT" asks
    about the comparison, "what please" is no question about "what")."""
    return len(tidied.split()) >= (2 if rule.cuts_end else 1)


WRAPPED = re.compile(r"^(?:\*\*|__|\*|_|`|[\"\u201c])(.+?)(?:\*\*|__|\*|_|`|[\"\u201d])$")  # the whole question
TRAILING_SYMBOLS = re.compile(r"[\s\u2600-\u27bf\U0001f000-\U0001faff\ufe0f\u200d]+$")  # emoji and pictographs
GREETING = re.compile(r"^\s*(?:hi|hey|hello|hiya|dear \w+)(?: there)?\s*[,!.:]*\s+(?=\S)", re.IGNORECASE)
POLITE_ASK = re.compile(
    r"^\s*(?:(?:can|could|would|will) you (?:please |kindly )?|please |kindly )"
    r"(?:(?:tell|show) me (?=what|how|which|who|why|whether|if)|(?=tell|explain|describe|summari|give|show|list|find))",
    re.IGNORECASE,
)
# "..., compared with BERT?": a reference point at the end, not what is asked about
COMPARED_WITH = re.compile(
    r"\s*[,;(]?\s*\b(?:compared (?:with|to)|versus|vs\.?|as opposed to|in contrast to|unlike)"
    r"\s+(?:\S+\s*){1,4}?[)]?\s*[?.!]*$",
    re.IGNORECASE,
)
# What a question may end with that asks nothing: "... Thanks!", "..., please."
PLEASANTRIES = re.compile(
    r"\s*[,;:-]?\s*\b(?:thanks|thank you|thx|cheers|please)(?: (?:a lot|so much|in advance))?[\s.!]*$",
    re.IGNORECASE,
)
# A first sentence about the asker, not the papers: "I'm a PhD student working on my thesis.",
# when two words or more follow it
ABOUT_THE_ASKER = re.compile(r"^\s*(?:I|I'm|I am|I've|I have|We|We're|We are|My|Our)\b[^?.!]*[.!]+\s+(?=\S+\s+\S)")
# "I need a paper about this: explain ReACC": a lead before a colon that only asks for a paper
ASKING_LEAD = re.compile(r"^([^:?]{0,80}\b(?:paper|papers|work|study|research|article)s?\b[^:?]{0,30}):\s*(?=\S)", re.I)
EVERYDAY_ABBREVIATIONS = frozenset(["PhD", "MSc", "BSc", "MBA", "MD", "CS", "AI", "ML", "NLP", "US", "UK", "EU"])
SHOUTED = re.compile(r"\b[A-Z]{4,}\b")
TITLE_CASED = re.compile(r"^[A-Z][a-z]+(?:-[a-z]+)*$")  # "Compress", "Per-patch", "Bert-based"


def _names_nothing(text: str) -> bool:
    """No word past the first is capitalised or coined-looking (the asker's "I" and "PhD" aside)."""
    words = re.findall(r"[\w\-']+", text)
    return not any(
        w != "I" and w not in EVERYDAY_ABBREVIATIONS and (w[1:] != w[1:].lower() or (i and w[0].isupper()))
        for i, w in enumerate(words)
    )


def unwrap_markup(question: str) -> str:
    """Markdown or quotes around the whole question."""
    return WRAPPED.sub(r"\1", question)


def drop_trailing_symbols(question: str) -> str:
    """Emoji and pictographs at the end."""
    return TRAILING_SYMBOLS.sub("", question)


def drop_greeting(question: str) -> str:
    """ "hey, ...", "Dear Sir, ..."."""
    return GREETING.sub("", question)


def drop_polite_ask(question: str) -> str:
    """ "Could you tell me what is X?" asks "what is X?"."""
    return POLITE_ASK.sub("", question)


def drop_scare_quotes(question: str) -> str:
    """Quotes around the asker's own words (`quotes_a_name` tells them from a quoted name)."""
    return QUOTED.sub(lambda m: m.group() if quotes_a_name(question, m) else m.group(1), question)


def drop_reference_point(question: str) -> str:
    """A trailing "..., compared with BERT?": the question is about what comes before."""
    return COMPARED_WITH.sub("?", question)


def drop_pleasantries(question: str) -> str:
    """ "... Thanks!", "..., please."."""
    return PLEASANTRIES.sub("", question)


def drop_sentences_about_the_asker(question: str) -> str:
    """ "I'm a PhD student. What is FACT?" asks "What is FACT?"; "I'm stuck on SoFar. What does it do?"
    keeps its first sentence, which names the paper."""
    while (about_me := ABOUT_THE_ASKER.match(question)) and _names_nothing(about_me.group()):
        question = question[about_me.end() :]
    return question


def drop_asking_lead(question: str) -> str:
    """ "I need a paper about this: ..." (only when the lead names nothing: "In the SoFar paper: ..." stays)."""
    lead = ASKING_LEAD.match(question)
    return question[lead.end() :] if lead and _names_nothing(lead.group(1)) else question


def lower_shouting(question: str) -> str:
    """ "WHAT IS HYPO?": capitals say nothing, and lower-case names are still found."""
    shouted = SHOUTED.findall(question)
    if len(shouted) >= 4 and len(shouted) >= 0.8 * len(re.findall(r"\b[A-Za-z]{4,}\b", question)):
        return question.lower()
    return question


def sentence_case(question: str) -> str:
    """A question typed In Title Case, in sentence case; words that look coined keep their capitals.

    A capital is the main sign of a name, so "How Does Meru Compare to Clip?" would ask about
    seven names; when most longer words past the first are capitalised, only the words that
    look coined (MERU, ViT, GPT-2) keep their capitals.
    """
    words = [m.group() for m in re.finditer(r"[A-Za-z][\w\-]{3,}", question) if question[: m.start()].strip()]
    capitalised = [w for w in words if TITLE_CASED.match(w)]
    if len(capitalised) >= 4 and len(capitalised) >= 0.6 * len(words):
        return re.sub(
            r"[A-Za-z][\w\-]*", lambda m: m.group().lower() if TITLE_CASED.match(m.group()) else m.group(), question
        )
    return question


TIDY_RULES: tuple[Rule, ...] = (
    Rule("unwrap_markup", unwrap_markup, ("**What is HYPO?**", "What is HYPO?")),
    Rule("drop_trailing_symbols", drop_trailing_symbols, ("what is capsule networks? 🙏", "what is capsule networks?")),
    Rule("drop_greeting", drop_greeting, ("hey, what is capsule networks?", "what is capsule networks?")),
    Rule("drop_polite_ask", drop_polite_ask, ("Could you tell me what is SoFar?", "what is SoFar?")),
    Rule("drop_scare_quotes", drop_scare_quotes, ("What is 'capsule networks'?", "What is capsule networks?")),
    Rule("drop_reference_point", drop_reference_point, ("What is FACT, compared with BERT?", "What is FACT?"), True),
    Rule("drop_pleasantries", drop_pleasantries, ("explain ReACC Thanks!", "explain ReACC"), cuts_end=True),
    Rule(
        "drop_sentences_about_the_asker",
        drop_sentences_about_the_asker,
        ("I'm a PhD student working on my thesis. What is FACT?", "What is FACT?"),
    ),
    Rule("drop_asking_lead", drop_asking_lead, ("I need a paper about this: What is Du-IN?", "What is Du-IN?")),
    Rule("lower_shouting", lower_shouting, ("WHAT IS HYPO? HOW DOES IT WORK?", "what is hypo? how does it work?")),
    Rule("sentence_case", sentence_case, ("How Does Meru Compare to Clip?", "how does meru compare to clip?")),
)


def plain_question(question: str, skip: Collection[str] = ()) -> str:
    """The question without what asks nothing: each rule of `TIDY_RULES` in turn, but `skip`'s.

    A rule's result is kept only when it still asks something (`still_asks`).
    """
    question = question.strip()
    for rule in TIDY_RULES:
        if rule.name in skip:
            continue
        tidied = rule.apply(question)
        if tidied != question and still_asks(rule, tidied):
            question = tidied
    return question


# Leading phrasings that say "find me a paper", not what the paper is about.
_LEADS = [
    r"(?:hi|hey|hello|thanks|thank you|ok|okay|great|cool)\b[,!.]*",
    r"(?:and |so )?(?:what|how) about\b",  # "thanks! what about GNNs distilled into MLPs?"
    r"(?:can|could) you (?:please )?",
    r"please ",
    r"(?:tell me|teach me|explain|describe|summari[sz]e|give me (?:an? )?(?:overview|summary) of)(?: more)?(?: about)?",
    r"i(?:'m| am) (?:looking|searching) for (?:a |an |any |the |some )?(?:paper|work|study|article|research)?s?"
    r"(?: that| which| on| about| where)?",
    r"(?:is|are) there (?:any |a |an |some )?(?:paper|work|study|studies|article|research)s?"
    r"(?: (?:in here|here|in the (?:list|corpus|collection)))?(?: that| which| on| about| where| for)?",
    r"(?:any|a) (?:paper|work|study|article)s? (?:that|which|on|about|where)",
    r"(?:which|what) (?:paper|papers|work|works|study|studies|article|articles|research)\b"
    r"(?: (?:proposes?|proposed|introduces?|introduced|presents?|presented|describes?|described|shows?|showed|"
    r"study|studies|studied|uses?|used|is about|talks about|discusses|discussed|looks at|has|had|does|did|explores?|"
    r"explored|tackles?|tackled|addresses|addressed|covers?|covered)\b)?",
    r"(?:find|show) me (?:a |the |any )?(?:paper|work|study)?s?(?: that| which| on| about)?",
    r"what (?:is|are|was|were) the (?:paper|work|study) (?:that|which|about|on)",
]
LEAD = re.compile(r"^\s*(?:" + "|".join(_LEADS) + r")\s*[:,]?\s*", re.IGNORECASE)
TRAIL = re.compile(
    r"\s*(?:\b(?:in (?:here|the (?:list|corpus|collection|papers))|in these papers|among (?:these|the) papers)\b)?"
    r"\s*[?.!]*\s*$",
    re.IGNORECASE,
)
PAPER_NAMED = re.compile(
    r"^\s*what (?:does|did|do) (?:the )?(.{2,60}?) (?:paper|work|method|model|approach)s? "
    r"(?:propose|do|say|introduce|present|show|find|contribute|claim)\s*[?.!]*\s*$",
    re.IGNORECASE,
)


def strip_boilerplate(question: str) -> str:
    """ "Which paper proposes X in here?" -> "X"; "What does the SoFar paper propose?" -> "SoFar"."""
    named = PAPER_NAMED.match(question)
    if named:
        return named.group(1).strip()
    text = question
    for _ in range(3):  # "Hi, can you tell me about ..." peels in steps
        stripped = LEAD.sub("", text, count=1)
        if stripped == text:
            break
        text = stripped
    text = TRAIL.sub("", text).strip()
    return text if len(WORD.findall(text)) >= 1 else question.strip()
