"""Question reading: what to search the papers for, given what a user typed.

Users ask "Which paper proposes ...", "tell me about SoFar", "hey, what is HYPO? 🙏",
with typos and in lower case; the abstracts never say "paper that proposes". A question
is read in steps, one module each:

- `tidy`: named rules (`TIDY_RULES`) drop what asks nothing (markup around the question,
  greetings, "could you tell me", scare quotes, a trailing "compared with X", "thanks",
  a first sentence about the asker, "I need a paper about this:") and put SHOUTED or
  Title Case questions in ordinary case; then the boilerplate ("Which paper ...", "Is
  there work on ...", "tell me about ...") is stripped from the search text;
- `spelling`: a misspelt paper name ("SPALDE") or everyday word ("reasoinng") is searched
  as meant;
- `names`: the papers the question names, by a title's coined word ("SoFar", "HYPO",
  "MM-Lego"), a whole title, or a name an abstract coins ("PCME");
- `asks`: what it asks for: a paper by name ("the BERT paper"), one named thing ("what is
  DARTS?") or one lower-case topic ("what is capsule networks?");
- `acronyms`: common acronyms and the abstracts' "Long Form (LF)" pairs; expanding the
  question's acronyms for the search is available but off (`expand_query`);
- `analyzer`: `QueryAnalyzer.analyze` puts these together as one `Query`.
"""

from rag.question.acronyms import COMMON_ACRONYMS, mine_acronyms
from rag.question.analyzer import Query, QueryAnalyzer
from rag.question.names import (
    MAX_NAME_DF,
    QUOTED,
    CorpusNames,
    coins,
    contains_token,
    discusses,
    quotes_a_name,
    title_names,
)
from rag.question.spelling import respell
from rag.question.tidy import TIDY_RULES, Rule, plain_question, strip_boilerplate

__all__ = [
    "COMMON_ACRONYMS",
    "MAX_NAME_DF",
    "QUOTED",
    "TIDY_RULES",
    "CorpusNames",
    "Query",
    "QueryAnalyzer",
    "Rule",
    "coins",
    "contains_token",
    "discusses",
    "mine_acronyms",
    "plain_question",
    "quotes_a_name",
    "respell",
    "strip_boilerplate",
    "title_names",
]
