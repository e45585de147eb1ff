"""What is asked: the question's form, read from a small named table of patterns.

The answer takes the question's form (DESIGN.md, "Answering"): one paper; a set of papers
(every paper about the topic, one item each); a comparison of named things (one item per
side); a number or dataset; a summary of one paper (problem, method, result); a how/why; a
limitation. Each form is one row of `RULES`: a name, the pattern that recognises it and one
example it must recognise (tests/test_question_form.py checks every example). Rows are tried
in order, so a comparison ("how does A differ from B") wins over a how-question, and a
limitation asked of "the papers here" stays a limitation. Anything else asks for one paper.

Besides the form, `classify` reads the aspect asked about (results for "how well", method
for "how does", weaknesses for "limitations"), which the sentence ranking weighs, and for a
comparison the two named sides.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

from rag.question.text import LIST_REFERENCE

Form = Literal["single", "set", "comparison", "number", "summary", "how", "limitation"]
Aspect = Literal["result", "method", "limitation", "data", "contribution", ""]
FORMS: tuple[Form, ...] = ("single", "set", "comparison", "number", "summary", "how", "limitation")


@dataclass(frozen=True)
class FormRule:
    """One row of the table: the form a question has when `pattern` matches it."""

    name: str
    form: Form
    pattern: re.Pattern[str]
    example: str


def _rule(name: str, form: Form, pattern: str, example: str) -> FormRule:
    return FormRule(name, form, re.compile(pattern, re.IGNORECASE), example)


_ASKING = r"(?:how|what|which|why|who|when|where|does|do|did|is|are|can|could|should|was|were)\b"
_PLURAL_WORKS = r"(?:papers|works|studies|articles|publications|methods|approaches|techniques|models|ways|efforts)"
_EXPLAINING = (
    r"(?:explain|describe|summari[sz]e|tell me)\b"  # "Explain how SPLADE works in simple terms": "works", a verb
)
_HOW_MANY_PAPERS = r"\bhow many (?:papers|works|studies)\b"  # counts papers: a set question, or one survey's figure

RULES: tuple[FormRule, ...] = (
    _rule(
        "differ",
        "comparison",
        r"\b(?:how|in what way|where) (?:does|do|did|is|are) .{2,80}? (?:differ|different|compare|contrast|stack up)\b"
        r"|\bdiffer(?:s|ence|ences)? (?:between|from)\b"
        r"|^(?:please )?compar(?:e|ing)\b|\bcompar(?:ison of|ison between)\b"
        r"|\b(?:versus|vs\.?)\s|\bcontrast .{2,60}? (?:with|and)\b|\bwhat distinguishes\b"
        r"|\bdifferently (?:from|than)\b|\bhow do .{2,80}? and .{2,80}? differ\b|\band .{2,60}? both\b.*\bdiffer"
        r"|\bwhich (?:one )?(?:is|works|performs|does) (?:better|best|faster|more \w+)\b[,:]? .{2,60}? or ",
        "How does Monet differ from a standard mixture-of-experts layer?",
    ),
    _rule(
        "weakness",
        "limitation",
        r"\b(?:limitations?|weakness(?:es)?|drawbacks?|shortcomings?|downsides?|caveats?|pitfalls?|failure modes?"
        r"|where (?:does|do) .{2,60}? (?:fail|break|struggle)|open problems?)\b"
        r"|\bwhat (?:is|goes|went|was) wrong\b|^what problem\b|\bdegenerate\b|\bunfair\b"
        r"|\bwhy (?:does|do|is|are|did) .{2,80}? (?:fail|wrong|worse|hard|unfair|break)",
        "What are the limitations of sparse autoencoders according to the papers here?",
    ),
    _rule(
        "which_papers",
        "set",
        r"^(?:so |and |ok,? )?(?:which|what) (?:other )?(?:papers|works|studies|articles|publications)\b"
        r"|^(?:so |and |ok,? )?which (?:other )?(?:methods|approaches|techniques|models)\b"
        rf"|\b(?:list|find|show|name|give)(?: me)?(?: all| every| the| some| any| a few| \d+| two| three| four| five)*"
        rf" (?:{_PLURAL_WORKS}|paper|work)\b"
        rf"|\bany (?:other )?(?:work|papers|research|studies)\b (?:on|about|that|in|into|for|using|which|\w+ing)\b"
        r"|\b(?:are there|do we have|what do we have|what is there)\b"
        r"|\bwhat does (?:the|this) (?:collection|corpus|library) (?:have|hold|contain)\b|^anything (?:on|about)\b"
        r"|[?.!]\s*(?:so )?which (?:papers|works|studies)\b"
        r"|\bis there (?:any |some )?(?:other )?(?:studies|papers)\b"
        r"|^(?:do|does) any (?:other )?(?:papers?|works?|studies)\b"
        rf"|{_HOW_MANY_PAPERS}(?! (?:did|does|do) (?:the|this|that|its?)\b)"
        r"|\b(?:survey|overview) of (?:the )?(?:papers|work|research)\b"
        rf"|\ball (?:the )?(?:papers|works)\b|\b{_PLURAL_WORKS} (?:in|from) (?:the|this) (?:corpus|collection)\b"
        rf"|^(?!{_ASKING}|{_EXPLAINING})[\w\s\-/,()'.]{{3,90}}? {_PLURAL_WORKS}\b"
        r"(?: that| which| for| to| in| on| specifically)"
        rf"|^(?!{_ASKING}|{_EXPLAINING})[\w\s\-/,()'.]{{3,90}}? (?:papers|works|studies) ?\??$"
        rf"|^{_PLURAL_WORKS} (?:to|for|on|that|which|about|involving|using|with)\b",
        "Which papers in the collection are about sparse autoencoders?",
    ),
    _rule(
        "summarise",
        "summary",
        r"\b(?:summari[sz]e|tl;?dr|^(?:give me |write )?(?:a )?(?:short |brief )?summary of"
        r"|give (?:me )?(?:an )?overview of|tell me (?:more )?about|explain the)\b"
        r"|^\s*what (?:is|was) (?:the )?.{2,60}? paper about\b|^\s*what is .{2,80}? about\?|\bsummary please\b"
        r"|^\s*what (?:does|did) (?:the )?.{2,60}? paper (?:do|say)\b",
        "Summarize the Monet paper.",
    ),
    _rule(
        "how_much",
        "number",
        r"\bhow (?:many|much|fast|big|large|long|small|well|accurate|good)\b|\bby how much\b"
        r"|\bwhat (?:fraction|percentage|share|ratio|range|size|speed-?up|accuracy|score|number|dataset|datasets"
        r"|benchmarks?|data)\b|\bwhich (?:datasets?|benchmarks?|corpora|corpus)\b"
        r"|\bon what (?:data|datasets?|benchmarks?)\b"
        r"|\b(?:evaluated|trained|tested) on\b"
        r"|^what [\w\-]+(?: [\w\-]+){0,4} (?:does|do|did) .{2,60}? (?:achieve|reach|report|get|obtain|attain|give)\b",
        "How many parameters does the largest model have?",
    ),
    _rule(
        "how_why",
        "how",
        r"^\s*(?:how|why)\b"
        r"|\bhow (?:does|do|did|is|are|can|could) .{2,80}? (?:work|achieve|handle|avoid|reduce|improve)"
        r"|\bwhat (?:makes|causes|mechanism|explains)\b|\bin what way\b",
        "How does SPLADE expand queries and documents?",
    ),
)

_ASPECTS: tuple[tuple[Aspect, re.Pattern[str]], ...] = (
    ("limitation", RULES[1].pattern),
    (
        "result",
        re.compile(
            r"\bhow (?:well|good|accurate|much better)\b|\b(?:results?|perform(?:s|ance)?|outperform\w*|accuracy|score"
            r"|improve(?:s|ment)?|gains?|speed-?up|beats?|state[- ]of[- ]the[- ]art|sota)\b",
            re.IGNORECASE,
        ),
    ),
    ("data", re.compile(r"\b(?:datasets?|benchmarks?|corpora|corpus|evaluated on|trained on|data)\b", re.IGNORECASE)),
    (
        "method",
        re.compile(
            r"\bhow (?:does|do|did|is|are|can)\b|\b(?:method|approach|mechanism|architecture|technique|algorithm"
            r"|works?|design)\b",
            re.IGNORECASE,
        ),
    ),
    (
        "contribution",
        re.compile(r"\b(?:propose|introduce|present|contribut\w*|about|what is|what are)\b", re.IGNORECASE),
    ),
)

_END = r"(?:[?.!:;]|,|\s(?:in|on|for|when|at|regarding|with respect to|and (?:why|how|what|which))\s|$)"
# the two sides of a comparison: "how does A differ from B", "difference between A and B", "compare A with B"
_SIDES = (
    re.compile(
        r"\b(?:how|in what way|where) (?:does|do|did|is|are) (?P<a>.+?) (?:differ\w*|compare|contrast|stack up)"
        rf"(?: \w+)? (?:from|to|with|against|and) (?P<b>.+?){_END}",
        re.IGNORECASE,
    ),
    re.compile(
        rf"\bdiffer(?:s|ence|ences)? between (?P<a>.+?) and (?P<b>.+?){_END}",
        re.IGNORECASE,
    ),
    re.compile(
        r"\bcompar(?:e|ing|ison of|ison between) (?P<a>.+?) (?:and|with|to|against|vs\.?|versus) (?P<b>.+?)"
        rf"{_END}",
        re.IGNORECASE,
    ),
    re.compile(r"(?P<a>[^,?:]+?) (?:vs\.?|versus) (?P<b>[^,?:]+?)(?:[?.!:;]|,|$)", re.IGNORECASE),
    re.compile(  # "Which is better, SPLADE or ColBERT?"
        r"\bwhich (?:one )?(?:is|works|performs|does) (?:better|best|faster|more \w+)\b(?:[^,:?]{0,40}[,:])? "
        rf"(?P<a>[^,?]+?) or (?P<b>.+?){_END}",
        re.IGNORECASE,
    ),
    re.compile(r"^(?P<a>[^,?:]+?) and (?P<b>[^,?:]+?) (?:both|each|differ|compare)\b", re.IGNORECASE),
    re.compile(
        rf"\b(?:how|in what way) (?:do|are) (?P<a>.+?) and (?P<b>.+?) (?:differ|compare|different)\w*{_END}",
        re.IGNORECASE,
    ),
    re.compile(r"\bwhat distinguishes (?P<a>.+?) from (?P<b>.+?)(?:[?.!]|,|$)", re.IGNORECASE),
)
_LEAD_WORDS = re.compile(
    r"^(?:the|a|an|this|that|its|their|standard|ordinary|plain|regular|usual|papers? on|paper|work on)\s+",
    re.IGNORECASE,
)


ACROSS_PAPERS = re.compile(
    rf"\b(?:the|these|those|all|several|many) {_PLURAL_WORKS} (?:here|in (?:the|this) (?:collection|corpus))\b"
    rf"|\baccording to (?:the|these) {_PLURAL_WORKS}\b",
    re.IGNORECASE,
)


def asks_across_papers(question: str) -> bool:
    """Whether the question asks of the collection's papers together, not of one paper.

    "What are the limitations of sparse autoencoders according to the papers here?" asks for the
    weaknesses the papers state even when only one of them is cited; "according to the beam search
    paper" asks one paper.
    """
    return bool(ACROSS_PAPERS.search(question))


# `asks_across_papers` reads the narrow "the papers here / according to the papers" that makes a limitation answer
# quote only stated weaknesses; the rules below read more widely which questions are chosen as a set over their
# topic (rag.answer.plan.Planner.scoring, the across rule table in docs/design.md).

# papers named in the plural ("the SSL papers here", "do papers on X", "the other studies"), not the verb "works"
PLURAL_PAPERS = re.compile(
    r"\bpapers\b|\bthe (?:works|studies)\b"
    r"|\b(?:these|those|all|several|many|other)\s+(?:[\w-]+\s+){0,2}?(?:works|studies)\b",
    re.IGNORECASE,
)
_COUNTED = re.compile(_HOW_MANY_PAPERS, re.IGNORECASE)
# a question that opens on what it asks, not on the papers: "what challenges of X do the papers raise?", "how well
# do the X methods in the collection perform?" (not "what papers ...", "what does the collection have on ...")
_ASPECT_FIRST = re.compile(
    r"^\W*(?:what|which|how|according to)\b(?!\s+(?:other\s+)?(?:papers|works?|studies|articles|publications|research"
    r"|does (?:the|this|your) (?:collection|corpus|library)|is there|do we have|have we got)\b)",
    re.IGNORECASE,
)
_ASKS_FOR_PAPERS = re.compile(r"\b(?:which|what) (?:other )?(?:papers|works|studies)\b", re.IGNORECASE)
# "which of the papers here introduces X?" asks for one of them (rag.conversation reads a follow-up's choice)
_ONE_OF_THEM = re.compile(rf"\b(?:which|what)\s+(?:one\s+)?of\s+{LIST_REFERENCE}", re.IGNORECASE)


def asks_across(question: str, form: QuestionForm) -> bool:
    """Whether the question asks what several papers say ("what limitations ... according to the papers here",
    "what do the self-supervised learning papers here say about collapse?"): every paper that speaks to it may
    be cited. A one-paper, limitation, how or number question that names papers in the plural and does not
    choose one of them; a set, comparison or summary question has its own rule."""
    question = _COUNTED.sub(" ", question)  # "how many papers did the survey review?" counts, in one paper
    if form.form not in ("limitation", "how", "number", "single"):
        return False
    return bool(PLURAL_PAPERS.search(question)) and not _ONE_OF_THEM.search(question)


def set_asked_across(plain: str, form: QuestionForm) -> bool:
    """A set question by the form table that opens on what it asks, not on the papers ("what challenges of X do
    the papers in the collection raise?"): its topic comes before "papers", so it is read as an across question's
    (`across_topic`; the set lead read "raise")."""
    return (
        form.form == "set"
        and bool(_ASPECT_FIRST.match(plain))
        and not _ASKS_FOR_PAPERS.search(plain)
        and bool(PLURAL_PAPERS.search(plain))
    )


# what the weakness is of, for the lead: "what challenges of continual learning with modules do the papers raise?"
# -> "challenges of continual learning with modules"
_WEAKNESS_OF = re.compile(
    r"\b(?P<noun>limitations?|weakness(?:es)?|drawbacks?|shortcomings?|challenges?|problems?|downsides?|pitfalls?)"
    r" (?P<preposition>of|with) (?P<of>[^,?;:]+?)"
    r"(?= (?:do|does|did|according|that|which|in the|in this|here)\b|[,?;:]|$)",
    re.IGNORECASE,
)
WEAKNESS_OF_WORDS = 8  # a longer object reads as a clause, not a thing: the lead says "limitations" alone


def weakness_of(plain: str) -> str:
    """The weaknesses a question asks for, in its own words, for an across answer's lead ("limitations of sparse
    autoencoders"); "" when it names none or names them at clause length."""
    match = _WEAKNESS_OF.search(" ".join(plain.split()))
    if not match or len(match.group("of").split()) > WEAKNESS_OF_WORDS:
        return ""
    return f"{match.group('noun').lower()} {match.group('preposition').lower()} {match.group('of').strip()}"


@dataclass(frozen=True)
class QuestionForm:
    """A question's form, the rule that decided it, the aspect asked about, and a comparison's sides."""

    form: Form
    rule: str = "default"
    aspect: Aspect = ""
    sides: tuple[str, ...] = field(default_factory=tuple)

    @property
    def wants_set(self) -> bool:
        return self.form == "set"


_QUOTES = "\"'“”‘’"


def _side(text: str) -> str:
    """A side as named: no article or "standard" before it, no quotes around it, and a bracket only when it pairs
    ("'RNNs are not Transformers (Yet)'" keeps "(Yet)"; "(MoTE" loses its stray "(")."""
    text = text.strip().strip(_QUOTES).strip()
    for _ in range(3):
        text = _LEAD_WORDS.sub("", text).strip().strip(_QUOTES).strip()
    if text.startswith("(") and text.count("(") > text.count(")"):
        text = text[1:].strip()
    if text.endswith(")") and text.count(")") > text.count("("):
        text = text[:-1].strip()
    return text


def as_written(side: str, question: str) -> str:
    """`side` in the question's own letters: sides are read from the tidied question, which lower-cases title-cased
    words ("slot mixture module"); the answer names them as the user wrote them ("Slot Mixture Module"), a quoted
    title in quotes."""
    words = side.split()
    if not words:
        return side
    found = re.search(r"\s+".join(re.escape(w) for w in words), question, re.IGNORECASE)
    if not found:
        return side
    before, after = question[found.start() - 1 : found.start()], question[found.end() : found.end() + 1]
    quoted = bool(before) and bool(after) and before in _QUOTES and after in _QUOTES
    return f"“{found.group(0)}”" if quoted else found.group(0)  # a title the user quoted stays quoted


# a side that holds one of these is a clause, not a name: "formalizing how least squares vs ridge fits change
# when ..." asks about one paper that contrasts them, not for the papers on each side
_CLAUSE_WORD = re.compile(r"\b(?:how|what|when|where|why|whether|which|who)\b", re.IGNORECASE)


def comparison_sides(question: str) -> tuple[str, ...]:
    """The two named sides of a comparison ("Monet", "mixture-of-experts layer"), or () if none is found."""
    for pattern in _SIDES:
        match = pattern.search(question)
        if match:
            a = re.sub(r"^\s*(?:how|what|which|where|why)\s+(?:does|do|is|are)\s+", "", match.group("a"), flags=re.I)
            a, b = _side(a), _side(match.group("b"))
            if a and b and a.lower() != b.lower() and not (_CLAUSE_WORD.search(a) or _CLAUSE_WORD.search(b)):
                return (a, b)
    return ()


_SET_LEAD = re.compile(
    r"^(?:so |and )?(?:which|what|list|find|show me|give me|name|are there|is there|any|do (?:we|you) have"
    r"|what do (?:we|you) have)\b"
    r".*?\b(?:papers|works|studies|articles|research|work)\b"
    r"(?: (?:in|from) (?:the|this|your) (?:collection|corpus|list)| here| there| (?:are|is) there)?"
    r"(?: (?:are|is|that|which|do (?:we|you) have))?"
    r"(?: (?:about|on|into|study|studies|deal with|address|tackle|use|look at|bring|build on|try to|propose))?\s+",
    re.IGNORECASE,
)
_TRAILING_PLACE = re.compile(r"\s+(?:in (?:the|this) (?:collection|corpus)|here|there)?\s*[?.!]*$", re.IGNORECASE)


# "Which papers (here) <predicate>?": the predicate, in the question's own words, makes the answer's lead
_WHICH_PAPERS = re.compile(
    r"^(?:so |and )?(?:which|what)\s+(?:papers|works|studies|articles)"
    r"(?:\s+(?:in|from)\s+(?:the|this|your)\s+(?:collection|corpus|list)|\s+here|\s+there)?\s+(?P<predicate>.+)$",
    re.IGNORECASE,
)
# a predicate never starts on an auxiliary or a pronoun ("what papers do we have on X": no predicate to reuse)
_NO_PREDICATE = re.compile(
    r"^(?:do|does|did|can|could|would|should|will|might|may|must|have|has|had|we|you|i|they|of|in|on|about|,)\b",
    re.IGNORECASE,
)


def set_predicate(question: str) -> str:
    """What a "which papers ..." question says of the papers, in its own words, for the answer's lead:
    "Which papers automate neural architecture search?" -> "automate neural architecture search";
    "Which papers here are mainly about X?" -> "are mainly about X". "" for any other question."""
    match = _WHICH_PAPERS.match(" ".join(question.split()))
    if not match:
        return ""
    predicate = _TRAILING_PLACE.sub("", match.group("predicate").rstrip(" ?.!")).strip(" ,;:")
    predicate = re.sub(r"^(are|is) there\b\s*", r"\1 ", predicate, flags=re.IGNORECASE).strip()  # "are there on X"
    return "" if len(predicate.split()) < 2 or _NO_PREDICATE.match(predicate) else predicate


def set_topic(question: str) -> str:
    """What a set question asks papers to be about: "Which papers here study MoE models?" -> "MoE models"."""
    text = " ".join(question.split())
    lead = _SET_LEAD.match(text)
    topic = text[lead.end() :] if lead else ""
    return _TRAILING_PLACE.sub("", topic).strip(" ,;:")


def aspect_of(question: str, form: Form) -> Aspect:
    """What part of a paper answers it: results, method, weaknesses, data, or what it contributes."""
    if form == "limitation":
        return "limitation"
    for aspect, pattern in _ASPECTS:
        if pattern.search(question):
            return aspect
    return "contribution" if form in ("summary", "set", "single") else ""


def classify(question: str) -> QuestionForm:
    """The form of a (tidied) question: the first rule of `RULES` that matches, else one paper."""
    text = " ".join(question.split())
    for rule in RULES:
        if rule.pattern.search(text):
            sides = comparison_sides(text) if rule.form == "comparison" else ()
            if rule.form == "comparison" and not sides:
                continue  # "compared with earlier work" names no second side: read on
            return QuestionForm(rule.form, rule.name, aspect_of(text, rule.form), sides)
    return QuestionForm("single", "default", aspect_of(text, "single"))


__all__ = [
    "FORMS",
    "RULES",
    "Aspect",
    "Form",
    "FormRule",
    "QuestionForm",
    "as_written",
    "asks_across",
    "asks_across_papers",
    "aspect_of",
    "classify",
    "comparison_sides",
    "set_asked_across",
    "set_predicate",
    "set_topic",
    "weakness_of",
]
