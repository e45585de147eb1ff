"""Follow-up questions: is a message a follow-up, and what should be searched for?

A chat message like "What benchmarks was it evaluated on?" means nothing alone. Offline
(no LLM), `resolve` decides from the message's wording whether it continues the
conversation (pronouns and definite references: "it", "they", "that paper", "the
authors", "what about ...", "and the dataset?", "compare it with X") or starts a new
topic (it says "separately", "another question", or names a paper of its own and refers
to nothing). A follow-up is searched as the message plus the title of the paper the
last answer cited first, and the papers that answer cited stay in play (they get the
fusion bonus a named paper gets), so "compare it with pointer networks" finds both.
With an LLM endpoint the pipeline may instead condense the conversation through
prompts/condense.txt; this module is the offline resolution and the fallback.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from rag.models import Answer, HistoryTurn

# "it", "they", "this paper", "the authors", "that benchmark": the message leans on earlier turns
REFERS_BACK = re.compile(
    r"\b(?:it|its|it's|itself|they|them|their|theirs|these|those|this one|that one|the same)\b"
    r"|\b(?:this|that|the|these|those|said)\s+(?:paper|papers|work|study|method|methods|model|models|approach|"
    r"technique|framework|system|architecture|authors?|benchmark|benchmarks|dataset|datasets|results?|"
    r"experiments?|evaluation|idea|algorithm|proposal|one)\b"
    r"|^\s*(?:and|also|so|but|what about|how about|compare(?:d)?)\b"
    r"|^\s*(?:why|how|what|which|where|when)\??\s*$",
    re.IGNORECASE,
)
# "separately, ...", "another question:", "new topic:": the user says the topic changes
NEW_TOPIC = re.compile(
    r"^\s*(?:separately|unrelated(?:ly)?|on another (?:note|topic)"
    r"|(?:a |an )?(?:another|different|new|other|unrelated) (?:question|topic|thing)"
    r"|changing (?:the )?(?:topic|subject)|switching (?:topics?|gears))\b[\s,:;.!-]*",
    re.IGNORECASE,
)
MAX_CARRIED = 3  # papers of the last answer kept in play
MAX_SHOWN = 15  # a follow-up over a set chooses among this many of the last answer's papers
# "which of them ...", "the one on stock prediction", "any of these": choose among the last answer's papers
AMONG = re.compile(
    r"\b(?:which|what|any|none|all|each|one|both|either|neither|some|many|how many)\s+of\s+"
    r"(?:them|these|those|the(?:se)? papers)\b"
    r"|\b(?:which|what) (?:one|paper|ones)\b(?=.*\b(?:them|these|those|above|listed|you (?:listed|mentioned|cited))\b)"
    r"|\bthe (?:one|paper|work)s? (?:on|about|that|which|with|for|using|from)\b|\bamong (?:them|these|those)\b",
    re.IGNORECASE,
)
ORDINALS = {"first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6, "seventh": 7, "eighth": 8,
            "ninth": 9, "tenth": 10, "1st": 1, "2nd": 2, "3rd": 3, "4th": 4, "5th": 5}  # fmt: skip
ORDINAL = re.compile(
    r"\b(?:the )?(" + "|".join(ORDINALS) + r"|last) (?:one|paper|item|result|source|work)\b", re.IGNORECASE
)


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


def as_turns(history: Sequence[Any] | None) -> list[Turn]:
    """Accept Turns, (question, Answer) pairs, or dicts with `question` and `answer`."""
    turns: list[Turn] = []
    for item in history or []:
        if isinstance(item, Turn):
            turns.append(item)
        elif isinstance(item, HistoryTurn):  # a validated request's turn (rag.models.AskRequest)
            turns.append(
                Turn(question=item.question, cited_paper_ids=item.cited_paper_ids, cited_titles=item.cited_titles)
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


def resolve(question: str, history: Sequence[Any] | None) -> Resolution:
    """Offline: a follow-up is searched with the last cited paper's title and keeps its papers in play."""
    turns = as_turns(history)
    switched = NEW_TOPIC.match(question)
    if switched:
        question = question[switched.end() :].strip() or question
    last = next((t for t in reversed(turns) if t.cited()), None)
    if not turns or switched or last is None:
        return Resolution(standalone_question=question, follow_up=False)
    ordinal = ORDINAL.search(question)
    if ordinal:  # "the second one": the second paper the answer listed
        listed = last.cited()
        word = ordinal.group(1).lower()
        index = len(listed) if word == "last" else ORDINALS[word]
        if 1 <= index <= len(listed):
            pid, title = listed[index - 1]
            return Resolution(standalone_question=f"{question.rstrip()} ({title})", follow_up=True, carried=[pid])
    if AMONG.search(question):  # "which of them is about stock prediction": every paper shown stays in play
        shown = last.shown()[:MAX_SHOWN]
        return Resolution(standalone_question=question, follow_up=True, carried=[pid for pid, _ in shown])
    if not REFERS_BACK.search(question):
        return Resolution(standalone_question=question, follow_up=False)
    cited = last.cited()[:MAX_CARRIED]
    subject = cited[0][1]
    standalone = f"{question.rstrip()} ({subject})" if subject.lower() not in question.lower() else question
    return Resolution(standalone_question=standalone, follow_up=True, carried=[pid for pid, _ in cited])
