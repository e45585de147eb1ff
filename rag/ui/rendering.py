"""Pure rendering for the web chat: stream events and answers in, escaped HTML and Markdown out.

Answer text is escaped with `[n]` made into links; each retrieved paper gets a source
card with the cited sentences marked. All paper text is untrusted (abstracts carry
debris), so every piece of it is HTML-escaped before it reaches the page. Nothing here
imports gradio, so it is tested without a browser.
"""

from __future__ import annotations

import html
import json
import logging
import re
from collections.abc import Iterable, Sequence
from typing import Any

from rag.answer import CITATION, LOW_CONFIDENCE, parse_citation_numbers
from rag.config import PROJECT_ROOT
from rag.models import Answer, Citation, Paper, Source, answer_record

log = logging.getLogger(__name__)

EXAMPLES_FILE = PROJECT_ROOT / "eval" / "dev_questions.jsonl"
INGEST_HINT = "Run `rag ingest` (or `make run`) to build it, then ask again."
# Text from seeds, questions and LLM replies reaches the chat as Markdown: every ASCII punctuation mark
# is backslash-escaped (always literal in CommonMark) and <, >, & become entities, so no link, image,
# raw HTML, emphasis, table, LaTeX nor GFM autolink (a bare URL, www. name or e-mail address) comes of it.
_MD_ESCAPES = {c: "\\" + c for c in "!\"#$%'()*+,-./:;=?@[\\]^_`{|}~"} | {"<": "&lt;", ">": "&gt;", "&": "&amp;"}
MAX_SEARCH_CHARS = 200  # the Papers tab's search box: a few words (an 800 kB search took 23 s)
# The answer's own structure, kept: a list marker at the start of a line ("- ", "2. ").
LIST_MARKER = re.compile(r"^[ \t]{0,3}(?:[-*+]|\d{1,3}[.)])[ \t]+", re.MULTILINE)
# A list item that names its paper first: "Monet [6]: ..." (the extractive set answer's item).
ITEM_HEAD = re.compile(r"(?P<name>[^\[\]\n]{1,300}?) ?(?P<cite>\[\d+(?:\s*,\s*\d+)*\]):[ \t]+")

CSS = """
#sources-panel { max-height: 78vh; overflow-y: auto; }
.src-card { border: 1px solid var(--border-color-primary); border-radius: 8px; padding: 10px 12px;
  margin: 0 0 10px 0; scroll-margin-top: 8px; background: var(--background-fill-primary); }
.src-card:target { outline: 3px solid #f59e0b; }
.src-card.cited { border-left: 4px solid #2563eb; }
.src-card.unused { opacity: 0.6; }
.src-card.unused:hover, .src-card.unused:target { opacity: 1; }
.src-badge { display: inline-block; font-size: 0.75em; font-weight: 600; border-radius: 999px; padding: 0 7px;
  margin-left: 6px; vertical-align: 1px; }
.src-badge.used { background: #dbeafe; color: #1e40af; }
.src-badge.beyond { background: #fef3c7; color: #92400e; }
.src-group { font-size: 0.85em; opacity: 0.8; margin: 10px 0 6px 0; }
#chatbot ul { list-style: disc; } #chatbot li { margin: 0.15em 0 0.35em 0; }
.src-head { font-weight: 600; margin-bottom: 4px; }
.src-n { color: #2563eb; margin-right: 4px; }
.src-meta { font-size: 0.85em; opacity: 0.75; margin-bottom: 6px; }
.src-abstract { font-size: 0.9em; line-height: 1.45; margin: 0; overflow-wrap: anywhere; }
.src-abstract mark { background: #fde68a; color: inherit; padding: 0 1px; }
.src-turn > summary { cursor: pointer; font-weight: 600; margin: 6px 0; }
.src-empty { opacity: 0.75; }
.src-closest { font-size: 0.9em; } .src-closest ul { margin: 0.2em 0 0 1.2em; }
.src-more > summary { cursor: pointer; font-size: 0.85em; opacity: 0.8; }
a.cite { text-decoration: none; }
.paper-row { padding: 6px 0; border-bottom: 1px solid var(--border-color-primary); }
.paper-seeds { font-size: 0.85em; opacity: 0.75; }
#status { min-height: 1.5em; }
"""


# -- pure rendering (no gradio): unit-testable --------------------------------------------
def escape_text(text: str) -> str:
    """Text shown as Markdown in the chat: no HTML, no Markdown syntax, no LaTeX, no autolink."""
    return "".join(_MD_ESCAPES.get(c, c) for c in text).replace("\n", "  \n")


def warning_text(text: str) -> str:
    """A toast (`gr.Warning`) renders its message as HTML: an LLM endpoint's error body is shown as text."""
    return html.escape(" ".join(text.split()))


def anchor(turn: int, n: int) -> str:
    """Card id: unique per answer, so an older answer's [n] never points at a newer card."""
    return f"src-{turn}-{n}"


def link_citations(text: str, turn: int, known: Iterable[int], lists: bool = True) -> str:
    """Escape answer text and turn each known `[n]` into a link to its source card; list markers stay lists
    (unless `lists` is False: a piece from inside a line, where "2. " is text)."""
    known = set(known)
    markers = LIST_MARKER.finditer(text) if lists else ()
    kept: list[tuple[int, int, str]] = [(m.start(), m.end(), m.group(0)) for m in markers]
    for match in CITATION.finditer(text):
        numbers = parse_citation_numbers(match.group(1))
        if not numbers or any(n not in known for n in numbers):
            continue  # not (yet) a retrieved source: leave it as text
        links = "".join(f'<a class="cite" href="#{anchor(turn, n)}"><sup>[{n}]</sup></a>' for n in numbers)
        kept.append((match.start(), match.end(), links))
    out: list[str] = []
    cursor = 0
    for start, end, markup in sorted(kept):
        if start < cursor:
            continue
        out += [escape_text(text[cursor:start]), markup]
        cursor = end
    out.append(escape_text(text[cursor:]))
    return "".join(out)


def list_items(text: str) -> tuple[str, list[tuple[str, str]], str] | None:
    """Split an answer into its lead, its list items ((marker, body) each) and any closing text; None if no list.

    A set answer is a lead line, then one "- Name [n]: quote [n]" line per paper. After the first
    item, a line that is not an item continues the item before it, unless a blank line came first:
    then it and all that follows are the closing text (an LLM's "Overall, ...").
    """
    lead: list[str] = []
    items: list[tuple[str, str]] = []
    tail: list[str] = []
    blank = False
    for line in text.split("\n"):
        marker = LIST_MARKER.match(line)
        if tail:
            tail.append(line)
        elif marker:
            items.append((marker.group(0).strip(), line[marker.end() :]))
        elif not items:
            lead.append(line)
        elif not line.strip():
            blank = True
            continue
        elif blank:
            tail.append(line)
        else:
            items[-1] = (items[-1][0], f"{items[-1][1]} {line.strip()}")
        blank = False
    return ("\n".join(lead).strip(), items, "\n".join(tail).strip()) if items else None


def item_markdown(body: str, turn: int, known: Iterable[int]) -> str:
    """One list item: the paper's name in bold when the item opens with "Name [n]: ", all of it escaped."""
    known = set(known)
    head = ITEM_HEAD.match(body)
    if head is None or any(n not in known for n in parse_citation_numbers(head.group("cite")[1:-1])):
        return link_citations(body, turn, known, lists=False)
    name = escape_text(head.group("name").strip())
    cite = link_citations(head.group("cite"), turn, known, lists=False)
    return f"**{name}** {cite}: {link_citations(body[head.end() :], turn, known, lists=False)}"


def answer_markdown(text: str, turn: int, known: Iterable[int]) -> str:
    """The answer as chat Markdown: a lead and list items (a set or comparison answer) become a real list."""
    known = set(known)
    split = list_items(text)
    if split is None:
        return link_citations(text, turn, known)
    lead, items, tail = split
    lines = []
    for marker, body in items:
        bullet = "-" if marker in ("-", "*", "+") else marker  # "3)" and "3." stay numbered
        lines.append(f"{bullet} {item_markdown(body, turn, known)}")
    blocks = [link_citations(lead, turn, known, lists=False)] if lead else []
    blocks.append("\n".join(lines))
    if tail:
        blocks.append(link_citations(tail, turn, known))
    return "\n\n".join(blocks)  # blank lines: the list is a block of its own


def highlight(text: str, spans: Iterable[tuple[int, int]]) -> str:
    """Escape `text` and wrap each (start, end) span in <mark>; overlaps are merged."""
    merged: list[list[int]] = []
    for start, end in sorted((max(0, s), min(len(text), e)) for s, e in spans if e > s >= 0):
        if start >= end:
            continue
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    out, cursor = [], 0
    for start, end in merged:
        out.append(html.escape(text[cursor:start]))
        out.append(f"<mark>{html.escape(text[start:end])}</mark>")
        cursor = end
    out.append(html.escape(text[cursor:]))
    return "".join(out)


def quote_spans(abstract: str, citations: Iterable[Citation]) -> list[tuple[int, int]]:
    """Where each citation's quote sits in the abstract (offsets, or found by text)."""
    spans = []
    for c in citations:
        if 0 <= c.start < c.end <= len(abstract):
            spans.append((c.start, c.end))
        elif c.quote and (at := abstract.find(c.quote)) >= 0:
            spans.append((at, at + len(c.quote)))
    return spans


def source_card(
    source: Source, citations: Sequence[Citation], turn: int, used: bool | None = None, beyond: int = 0
) -> str:
    """One retrieved paper. `used`: True/False once the answer is known (None while it streams);
    `beyond`: the k whose top k the paper is past (it is shown because the answer cites it), else 0."""
    paper = source.paper
    cited = [c for c in citations if c.n == source.n]
    used = bool(cited) if used is None and citations else used
    seeds = ", ".join(html.escape(f) for f in paper.seed_files) or "—"
    flag = {True: " cited used", False: " unused", None: ""}[used]
    badges = '<span class="src-badge used">cited</span>' if used else ""
    if beyond:
        badges += f'<span class="src-badge beyond">past the top {beyond}</span>'
    abstract = f'<p class="src-abstract">{highlight(paper.abstract, quote_spans(paper.abstract, cited))}</p>'
    if not cited:  # retrieved but not quoted: keep the panel short, the abstract one click away
        abstract = f'<details class="src-more"><summary>abstract</summary>{abstract}</details>'
    return (
        f'<div class="src-card{flag}" id="{anchor(turn, source.n)}" data-n="{source.n}">'
        f'<div class="src-head"><span class="src-n">[{source.n}]</span>{html.escape(paper.title)}{badges}</div>'
        f'<div class="src-meta">score {source.score:.3f} · seed listing: {seeds}</div>'
        f"{abstract}</div>"
    )


def sources_block(
    sources: Sequence[Source],
    citations: Sequence[Citation],
    turn: int,
    refused: bool = False,
    closest: Sequence[str] = (),
    used: Sequence[int] | None = None,
    top_k: int | None = None,
) -> str:
    """The cards of one answer. Once the answer is in (`used`, or citations, given), the sources it
    used come first, marked; the rest follow, dimmed, under "Retrieved, not cited"."""
    if not sources:
        why = "No paper covers this question well enough to answer from it." if refused else "Retrieving…"
        block = f'<p class="src-empty">{why}</p>'
        if refused and closest:  # a refusal can be wrong: show where the user might still look
            items = "".join(f"<li>{html.escape(title)}</li>" for title in closest)
            block += f'<div class="src-closest"><b>Closest papers</b> (not judged to answer it):<ul>{items}</ul></div>'
        return block

    def beyond(s: Source) -> int:
        return top_k if top_k is not None and s.n > top_k else 0

    if used is None and not citations:  # still streaming: nothing is known to be used or not
        return "".join(source_card(s, citations, turn, None, beyond(s)) for s in sources)
    numbers = set(used) if used is not None else {c.n for c in citations}
    parts = [source_card(s, citations, turn, True, beyond(s)) for s in sources if s.n in numbers]
    unused = [source_card(s, citations, turn, False, beyond(s)) for s in sources if s.n not in numbers]
    if unused:
        parts += ['<div class="src-group">Retrieved, not cited</div>', *unused]
    return "".join(parts)


def sources_panel(turns: Sequence[dict[str, Any]]) -> str:
    """Newest answer's sources open; earlier answers' sources folded (fragment links unfold them)."""
    if not turns:
        return '<p class="src-empty">Sources of the answer appear here: click a [n] to jump to its paper.</p>'
    newest, *older = list(reversed(turns))
    parts = [f'<div class="src-turn-head"><b>Sources for:</b> {html.escape(newest["question"])}</div>', newest["html"]]
    for t in older:
        parts.append(
            f'<details class="src-turn"><summary>Earlier: {html.escape(t["question"])}</summary>{t["html"]}</details>'
        )
    return "".join(parts)


def answer_message(
    text: str, turn: int, sources: Sequence[Source], notice: str = "", footer: str = "", low_confidence: bool = False
) -> str:
    body = answer_markdown(text, turn, [s.n for s in sources])
    if low_confidence:
        body = f"> ℹ️ {escape_text(LOW_CONFIDENCE)}\n\n{body}"
    if notice:
        body = f"> ⚠️ {escape_text(notice)}\n\n{body}"
    if footer:
        body += f"\n\n<sub>{escape_text(footer)}</sub>"  # "searched for: ..." carries a cited title
    return body


def answer_footer(answer: Answer) -> str:
    mode = "LLM" if answer.mode == "llm" else "extractive"
    total = answer.timings.get("total_ms", 0.0) / 1e3
    cited = len({c.n for c in answer.citations})
    footer = f"{mode} · {cited} of {len(answer.sources)} sources cited · {total:.2f} s"
    if answer.standalone_question and answer.standalone_question != answer.question:
        footer = f"searched for: {answer.standalone_question} · {footer}"  # a follow-up, resolved
    return footer


def history_of(turns: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The conversation so far as the pipeline takes it: each question, the papers its answer cited and its sources
    (a follow-up over a set chooses among all of them)."""
    return [
        {
            "question": t["question"],
            "cited_paper_ids": list(t.get("cited_paper_ids") or []),
            "cited_titles": list(t.get("cited_titles") or []),
            "shown_paper_ids": list(t.get("shown_paper_ids") or []),
            "shown_titles": list(t.get("shown_titles") or []),
        }
        for t in turns
    ]


def search_refusal(query: object) -> str | None:
    """The Papers tab's message for a search it will not run (not text, or too long), else None."""
    if query is None or query == "":
        return None
    if not isinstance(query, str):
        return '<p class="paper-count">The search must be text.</p>'
    if len(query) > MAX_SEARCH_CHARS:
        return (
            f'<p class="paper-count">That search is {len(query):,} characters long; '
            f"please keep it under {MAX_SEARCH_CHARS} characters.</p>"
        )
    return None


def paper_matches(paper: Paper, query: str) -> bool:
    words = query.lower().split()
    haystack = f"{paper.title}\n{paper.abstract}".lower()
    return all(w in haystack for w in words)


def papers_html(papers: Sequence[Paper], query: str = "") -> str:
    shown = [p for p in papers if paper_matches(p, query)]
    rows = [
        f'<div class="paper-row"><div class="paper-title">{html.escape(p.title)}</div>'
        f'<div class="paper-seeds">{", ".join(html.escape(f) for f in p.seed_files)}</div></div>'
        for p in shown
    ]
    head = f'<p class="paper-count">{len(shown)} of {len(papers)} papers</p>'
    return head + ("".join(rows) or "<p>No paper matches these words.</p>")


def answer_json(answer: Answer) -> dict[str, Any]:
    """The API's answer: the one documented record (`rag.models.answer_record`), as `rag ask --json` prints it."""
    return answer_record(answer)


def example_questions(path: Any = EXAMPLES_FILE, per_type: int = 1) -> list[str]:
    """A few dev-set questions, one of each type, to click."""
    try:
        lines = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    except (OSError, ValueError):
        return []
    picked: dict[str, list[str]] = {}
    for q in lines:
        bucket = picked.setdefault(q.get("type", "?"), [])
        if len(bucket) < per_type and len(q.get("question", "")) < 160:
            bucket.append(q["question"])
    return [q for t in ("single", "detail", "multi", "unanswerable") for q in picked.get(t, [])]


# -- the backend: a pipeline that may not exist yet -----------------------------------------
