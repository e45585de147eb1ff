"""What a question asks for: a paper by name ("the BERT paper"), one named thing ("what is
DARTS?") or one lower-case topic ("what is capsule networks?").

A short question about one thing that no candidate paper is or is about is refused
(`rag.refusal`), so these patterns are kept narrow.
"""

from __future__ import annotations

import re

from rag.question.acronyms import COMMON_ACRONYMS
from rag.question.names import MAX_NAME_DF, MAX_NAME_PAPERS, NAME_WORDS, CorpusNames, coined, describes

# "the BERT paper", "the original GAN paper", "which paper introduced GraphSAGE": a paper asked for by name
ASKS_BY_NAME = re.compile(
    r"\b(?:the|original|of)\s+(?:original\s+)?([\w\-.]+(?:\s+[\w\-.]+){0,2}?)\s+paper\b"
    r"|\b(?:introduced|proposed|invented|introducing|proposing)\s+(?:the\s+)?['\"\u2018\u201c]?(" + NAME_WORDS + ")",
)
# "what is DARTS?", "explain Deep Sets", "how does DINO work": a question about one named thing
ASKS_ABOUT = re.compile(
    r"^\s*(?i:what(?:'s|\s+is|\s+are|\s+does|\s+problem\s+does|\s+task\s+does)|explain|describe|tell\s+me\s+about"
    r"|how\s+(?:well\s+)?(?:does|do|did))\s+(?:the\s+)?['\"\u2018\u201c]?([\w\-.]*[A-Z0-9][\w\-.]*"
    r"(?:\s+(?:(?:in|of|for|and|is|not)\s+)?[A-Z][\w\-.]*){0,3})"
)
# "what is capsule networks?", "explain layer normalization": a short question about one lower-case topic
ASKS_ABOUT_TOPIC = re.compile(
    r"^\s*(?i:what(?:'s|\s+is|\s+are)|explain|describe|tell\s+me\s+about|how\s+(?:does|do)"
    r"|which\s+paper\s+(?:introduced|proposed))\s+(?i:the\s+|a\s+|an\s+)?"
    r"(?!(?:the|a|an)\s)([a-z][a-z0-9\-]+(?:\s+[A-Za-z0-9\-]+){0,3}?)(?i:\s+work)?\s*[?.!]*\s*$"
)
# Words that end a topic without naming it: "the clustering part" is about clustering.
GENERIC_HEADS = frozenset(
    [
        "part",
        "parts",
        "idea",
        "method",
        "methods",
        "approach",
        "model",
        "technique",
        "trick",
        "step",
        "component",
        "module",
        "mechanism",
        "framework",
        "algorithm",
        "thing",
        "bit",
        "piece",
    ]
)
NO_NAMES = frozenset({"this", "that", "a", "an", "which", "what", "same"})  # "the same paper" asks for none
# Words that ask *about* something without saying what: "what problem does X solve", "how well does X work".
ASKING_WORDS = frozenset(
    [
        "what",
        "which",
        "who",
        "how",
        "why",
        "when",
        "where",
        "is",
        "are",
        "was",
        "were",
        "does",
        "do",
        "did",
        "can",
        "could",
        "would",
        "will",
        "should",
        "the",
        "a",
        "an",
        "about",
        "tell",
        "me",
        "explain",
        "describe",
        "summarize",
        "summarise",
        "overview",
        "summary",
        "of",
        "in",
        "on",
        "for",
        "paper",
        "papers",
        "work",
        "works",
        "method",
        "model",
        "approach",
        "idea",
        "it",
        "its",
        "this",
        "that",
        "well",
        "good",
        "problem",
        "problems",
        "solve",
        "solves",
        "solved",
        "propose",
        "proposes",
        "proposed",
        "introduce",
        "introduces",
        "contribution",
        "contributions",
        "main",
        "key",
        "used",
        "use",
        "uses",
        "mean",
        "means",
        "stand",
        "stands",
        "purpose",
        "goal",
        "point",
        "doing",
        "achieve",
        "achieves",
        "result",
        "results",
        "perform",
        "performs",
        "performance",
    ]
)


def asked_names(question: str, names: CorpusNames) -> list[str]:
    """The names a question asks for a paper by ("the BERT paper" -> "bert"), then the one
    named thing it asks about ("what is DARTS?" -> "darts"), without repeats."""
    asked = [
        (m.group(1) or m.group(2)).lower()
        for m in ASKS_BY_NAME.finditer(question)
        if (m.group(1) or m.group(2)).lower() not in NO_NAMES and not describes(m.group(1) or "")
    ]
    subject = asked_about(question, names)
    if subject and subject not in asked:
        asked.append(subject)
    return list(dict.fromkeys(asked))


def asked_about(question: str, names: CorpusNames) -> str | None:
    """The name a "what is X" / "explain X" / "how does X work" question asks about, if X is one.

    Not a name: what many papers are about ("LLMs", "SAEs") or a common word that
    happens to be capitalised ("Transformers", "Attention").
    """
    about = ASKS_ABOUT.match(question)
    if not about or not any(c.isupper() or c.isdigit() for c in about.group(1)):
        return None
    subject = about.group(1).rstrip(".").lower()
    singular = subject.removesuffix("s")
    papers = max(names.coined_papers.get(subject, 0), names.coined_papers.get(singular, 0))
    if singular in COMMON_ACRONYMS or papers > MAX_NAME_PAPERS:
        return None
    if " " not in subject and not coined(about.group(1)) and names.vocabulary.get(subject, 0) > MAX_NAME_DF:
        return None
    return subject


def asked_topic(question: str, stop_words: frozenset[str]) -> str:
    """The lower-case topic of a short "what is X" question, when X is more than a stop word."""
    about = ASKS_ABOUT_TOPIC.match(question)
    if not about:
        return ""
    words = about.group(1).split()
    while len(words) > 1 and words[-1].lower() in GENERIC_HEADS:  # "the constrained clustering part"
        words.pop()
    topic = " ".join(words)
    if all(w in stop_words or w in ASKING_WORDS for w in words) or len(topic) < 4:
        return ""
    return topic
