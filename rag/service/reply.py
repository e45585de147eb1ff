"""An Answer as chat text for outside clients, and that text read back as conversation history.

OpenAI-API clients (Open WebUI, LibreChat, any SDK) and MCP agents show a reply as Markdown or
as plain text. Answer and paper text is data, so every Markdown/HTML/LaTeX character in it is
backslash-escaped (CommonMark shows a backslash before ASCII punctuation as the character
itself); only the checked `[n]` markers stay as they are. The reply ends with a `Sources:` list
(`- [n] title`, cited papers only). Clients send earlier turns back as plain content, never our
extra fields, so `cited_titles` reads that list back to carry a follow-up's papers.
"""

from __future__ import annotations

import re

from rag.answer import CITATION, LOW_CONFIDENCE
from rag.models import Answer

MD_SPECIAL = re.compile(r"([\\`*_\[\]{}#|~$<>])")
UNESCAPE = re.compile(r"\\([!-/:-@\[-`{-~])")
SOURCES_HEADER = "Sources:"
CLOSEST_HEADER = "Closest papers (not judged to answer it):"
SOURCE_LINE = re.compile(r"^- \[(\d+)\] (.+)$")


def escape_markdown(text: str) -> str:
    """Text shown literally by a Markdown renderer (and still readable as plain text)."""
    return MD_SPECIAL.sub(r"\\\1", text)


def unescape_markdown(text: str) -> str:
    return UNESCAPE.sub(r"\1", text)


def escape_answer(text: str) -> str:
    """Escape answer text, keeping its `[n]` citation markers."""
    out, cursor = [], 0
    for match in CITATION.finditer(text):
        out += [escape_markdown(text[cursor : match.start()]), match.group(0)]
        cursor = match.end()
    out.append(escape_markdown(text[cursor:]))
    return "".join(out)


def reply_text(answer: Answer) -> str:
    """The answer with its `[n]` markers, its notes, then `Sources:` (`- [n] title`) of the cited papers."""
    parts = [escape_answer(answer.text)]
    if answer.low_confidence:
        parts.append(f"Note: {escape_markdown(LOW_CONFIDENCE)}")
    if answer.notice:
        parts.append(f"Note: {escape_markdown(answer.notice)}")
    if answer.refused and answer.closest:
        parts.append("\n".join([CLOSEST_HEADER, *(f"- {escape_markdown(t)}" for t in answer.closest)]))
    cited = {c.n: c.title for c in sorted(answer.citations, key=lambda c: c.n)}
    if cited:
        parts.append("\n".join([SOURCES_HEADER, *(f"- [{n}] {escape_markdown(t)}" for n, t in cited.items())]))
    return "\n\n".join(parts)


def cited_titles(reply: str) -> list[str]:
    """The titles a reply's last `Sources:` list names, in order (none if it has no such list)."""
    lines = reply.splitlines()
    starts = [i for i, line in enumerate(lines) if line.strip() == SOURCES_HEADER]
    if not starts:
        return []
    titles: list[str] = []
    for line in lines[starts[-1] + 1 :]:
        match = SOURCE_LINE.match(line.strip())
        if not match:
            break
        titles.append(unescape_markdown(match.group(2)).strip())
    return titles
