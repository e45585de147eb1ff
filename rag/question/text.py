"""The word patterns every part of question reading (and the retrievers) match text with."""

from __future__ import annotations

import re
from functools import lru_cache

WORD = re.compile(r"(?u)\b\w\w+\b")  # a word of two or more characters: BM25's and coverage's unit
TOKEN = re.compile(r"\w[\w\-.]*\w|\w")  # a token as a name is written: "LLaMA-2", "GPT-4.5", "U.S"
# how a follow-up refers to the papers the last answer listed: "which of THEM ...", "all of THESE PAPERS ..."
# (rag.conversation.AMONG reads the follow-up as choosing among them; rag.answer.plan, for one paper or several)
LIST_REFERENCE = r"(?:the(?:se)?\s+papers|them|these|those)"  # the longest first: "these papers are ..."


@lru_cache(maxsize=4096)  # re's own cache holds 512 patterns: a 10x corpus's names overflow it
def whole_token(text: str, plural: bool = False, flags: int = 0) -> re.Pattern[str]:
    """`text` as a whole token, not inside another word or hyphenated name ("bert" not in "palbert").

    The one place this is written: respelling, name lookups, "is it discussed", coined names
    and the landmarks' names all match names this way. `plural` lets an "s" or "es" follow.
    """
    return re.compile(r"(?<![\w\-])" + re.escape(text) + (r"(?:s|es)?" if plural else "") + r"(?![\w\-])", flags)
