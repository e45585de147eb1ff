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
rag/prompt_templates/condense.txt; this module is the offline resolution and the fallback.
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


class Turn(BaseModel):
    """One earlier exchange: what was asked and the Answer given (or a light record of it)."""

    model_config = ConfigDict(frozen=True)

    question: str
    answer: Answer | None = None
    cited_paper_ids: list[str] = Field(default_factory=list, description="When no Answer is kept: what it cited.")
    cited_titles: list[str] = Field(default_factory=list)

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
            turns.append(
                Turn(
                    question=str(item.get("question", "")),
                    cited_paper_ids=list(cited),
                    cited_titles=list(cited.values()),
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
    refers_back = bool(REFERS_BACK.search(question))
    if not refers_back:
        return Resolution(standalone_question=question, follow_up=False)
    cited = last.cited()[:MAX_CARRIED]
    subject = cited[0][1]
    standalone = f"{question.rstrip()} ({subject})" if subject.lower() not in question.lower() else question
    return Resolution(standalone_question=standalone, follow_up=True, carried=[pid for pid, _ in cited])
