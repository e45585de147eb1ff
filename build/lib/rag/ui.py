"""Gradio web chat over the pipeline: it renders what `Pipeline.stream` yields, nothing more.

The library knows nothing of the UI. This module turns stream events into HTML: answer
text (escaped, with `[n]` made into links), and one source card per retrieved paper with
the cited sentences marked. All paper text is untrusted (abstracts carry debris), so every
piece of it is HTML-escaped before it reaches the page.
"""

from __future__ import annotations

import html
import json
import logging
import os
import re
import threading
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from rag.answer import CITATION, LOW_CONFIDENCE, parse_citation_numbers
from rag.config import MAX_TOP_K, MIN_TOP_K, PROJECT_ROOT, Settings, get_settings
from rag.models import Answer, Citation, Paper, Source, answer_record

# Before gradio is imported anywhere: no usage analytics leave this machine.
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

log = logging.getLogger(__name__)

EXAMPLES_FILE = PROJECT_ROOT / "eval" / "dev_questions.jsonl"
INGEST_HINT = "Run `rag ingest` (or `make run`) to build it, then ask again."
# Markdown punctuation that would change how a quoted abstract renders (emphasis, code,
# links, tables, LaTeX); a backslash before ASCII punctuation is always literal in CommonMark.
_MD_SPECIAL = re.compile(r"([\\`*_\[\]{}#|~$])")

CSS = """
#sources-panel { max-height: 78vh; overflow-y: auto; }
.src-card { border: 1px solid var(--border-color-primary); border-radius: 8px; padding: 10px 12px;
  margin: 0 0 10px 0; scroll-margin-top: 8px; background: var(--background-fill-primary); }
.src-card:target { outline: 3px solid #f59e0b; }
.src-card.cited { border-left: 4px solid #2563eb; }
.src-head { font-weight: 600; margin-bottom: 4px; }
.src-n { color: #2563eb; margin-right: 4px; }
.src-meta { font-size: 0.85em; opacity: 0.75; margin-bottom: 6px; }
.src-abstract { font-size: 0.9em; line-height: 1.45; margin: 0; overflow-wrap: anywhere; }
.src-abstract mark { background: #fde68a; color: inherit; padding: 0 1px; }
.src-turn > summary { cursor: pointer; font-weight: 600; margin: 6px 0; }
.src-empty { opacity: 0.75; }
.src-more > summary { cursor: pointer; font-size: 0.85em; opacity: 0.8; }
a.cite { text-decoration: none; }
.paper-row { padding: 6px 0; border-bottom: 1px solid var(--border-color-primary); }
.paper-seeds { font-size: 0.85em; opacity: 0.75; }
#status { min-height: 1.5em; }
"""


# -- pure rendering (no gradio): unit-testable --------------------------------------------
def escape_text(text: str) -> str:
    """Text shown as Markdown in the chat: no HTML, no Markdown syntax, no LaTeX."""
    return _MD_SPECIAL.sub(r"\\\1", html.escape(text, quote=False)).replace("\n", "  \n")


def anchor(turn: int, n: int) -> str:
    """Card id: unique per answer, so an older answer's [n] never points at a newer card."""
    return f"src-{turn}-{n}"


def link_citations(text: str, turn: int, known: Iterable[int]) -> str:
    """Escape answer text and turn each known `[n]` into a link to its source card."""
    known = set(known)
    out: list[str] = []
    cursor = 0
    for match in CITATION.finditer(text):
        numbers = parse_citation_numbers(match.group(1))
        if not numbers or any(n not in known for n in numbers):
            continue  # not (yet) a retrieved source: leave it as text
        out.append(escape_text(text[cursor : match.start()]))
        out += [f'<a class="cite" href="#{anchor(turn, n)}"><sup>[{n}]</sup></a>' for n in numbers]
        cursor = match.end()
    out.append(escape_text(text[cursor:]))
    return "".join(out)


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


def source_card(source: Source, citations: Sequence[Citation], turn: int) -> str:
    paper = source.paper
    cited = [c for c in citations if c.n == source.n]
    seeds = ", ".join(html.escape(f) for f in paper.seed_files) or "—"
    flag = " cited" if cited else ""
    abstract = f'<p class="src-abstract">{highlight(paper.abstract, quote_spans(paper.abstract, cited))}</p>'
    if not cited:  # retrieved but not quoted: keep the panel short, the abstract one click away
        abstract = f'<details class="src-more"><summary>abstract</summary>{abstract}</details>'
    return (
        f'<div class="src-card{flag}" id="{anchor(turn, source.n)}" data-n="{source.n}">'
        f'<div class="src-head"><span class="src-n">[{source.n}]</span>{html.escape(paper.title)}</div>'
        f'<div class="src-meta">score {source.score:.3f} · seed listing: {seeds}'
        f"{' · cited' if cited else ''}</div>"
        f"{abstract}</div>"
    )


def sources_block(sources: Sequence[Source], citations: Sequence[Citation], turn: int, refused: bool = False) -> str:
    if not sources:
        why = "No paper covers this question well enough to answer from it." if refused else "Retrieving…"
        return f'<p class="src-empty">{why}</p>'
    return "".join(source_card(s, citations, turn) for s in sources)


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
    body = link_citations(text, turn, [s.n for s in sources])
    if low_confidence:
        body = f"> ℹ️ {escape_text(LOW_CONFIDENCE)}\n\n{body}"
    if notice:
        body = f"> ⚠️ {escape_text(notice)}\n\n{body}"
    if footer:
        body += f"\n\n<sub>{html.escape(footer)}</sub>"
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
    """The conversation so far as the pipeline takes it: each question and the papers its answer cited."""
    return [
        {
            "question": t["question"],
            "cited_paper_ids": list(t.get("cited_paper_ids") or []),
            "cited_titles": list(t.get("cited_titles") or []),
        }
        for t in turns
    ]


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
class Backend:
    """Holds the pipeline; if the index is missing, the app still starts and retries per question."""

    def __init__(self, settings: Settings, pipeline: Any = None) -> None:
        self.settings = settings
        self._pipeline = pipeline
        self._error = ""
        self._lock = threading.Lock()

    def get(self) -> Any:
        """The pipeline, or raise `PaperIndexError` with a message for the user."""
        from rag.index import PaperIndexError
        from rag.pipeline import Pipeline

        with self._lock:
            if self._pipeline is None:
                try:
                    self._pipeline = Pipeline(self.settings)
                    self._error = ""
                except PaperIndexError as exc:
                    self._error = str(exc)
                    raise
            return self._pipeline

    def try_get(self) -> Any:
        from rag.index import PaperIndexError

        try:
            return self.get()
        except PaperIndexError:
            return None

    @property
    def error(self) -> str:
        return self._error

    def model_label(self) -> str:
        return self.settings.llm_model if self.settings.llm_enabled else "extractive (offline)"

    def info_markdown(self) -> str:
        pipeline = self.try_get()
        index = f"{pipeline.paper_count} papers" if pipeline else "not built yet"
        return f"**Model:** {escape_text(self.model_label())} · **Index:** {index}"


def index_message(error: str) -> str:
    return f"⚠️ The paper index is not ready: {escape_text(error)}  \n{escape_text(INGEST_HINT)}"


# -- the Gradio app ----------------------------------------------------------------------------
def build_app(pipeline: Any = None, settings: Settings | None = None) -> Any:
    """The Blocks app: Chat tab (chat + sources + settings), Papers tab, and the `ask` API."""
    import gradio as gr

    from rag.index import PaperIndexError
    from rag.pipeline import InvalidQuestion

    settings = settings or (pipeline.settings if pipeline is not None else get_settings())
    backend = Backend(settings, pipeline)
    backend.try_get()
    modes = ["auto", "extractive", "llm"] if settings.llm_enabled else ["auto", "extractive"]

    def respond(
        message: str, history: list[Any], k: float, mode: str, turns: list[dict[str, Any]]
    ) -> Iterator[tuple[Any, ...]]:
        """One question: stream the answer into the chat and its sources into the panel."""
        history = list(history or [])
        turns = list(turns or [])
        try:
            pipe = backend.get()
            events = pipe.stream(message, k=int(k), mode=mode, history=history_of(turns))
            first = next(events)  # validation happens here: nothing is added on bad input
        except InvalidQuestion as exc:
            yield gr.update(), history, gr.update(), f"⚠️ {escape_text(str(exc))}", turns
            return
        except PaperIndexError as exc:
            yield gr.update(), history, gr.update(), index_message(str(exc)), turns
            return

        turn = sum(1 for m in history if _role(m) == "assistant") + 1
        question = " ".join(str(message).split())
        history += [{"role": "user", "content": escape_text(question)}, {"role": "assistant", "content": "…"}]
        sources: list[Source] = list(first.sources) if first.kind == "sources" else []
        turns.append({"question": question, "html": sources_block(sources, [], turn)})
        yield "", history, sources_panel(turns), "", turns

        text, notice = "", ""
        try:
            for event in events:
                if event.kind == "delta":
                    text += event.text
                elif event.kind == "notice":  # the LLM failed: its partial text is dropped
                    text, notice = "", event.text
                    gr.Warning(notice)
                elif event.kind == "answer" and event.answer is not None:
                    answer = event.answer
                    history[-1] = {
                        "role": "assistant",
                        "content": answer_message(
                            answer.text,
                            turn,
                            answer.sources,
                            answer.notice or notice,
                            answer_footer(answer),
                            answer.low_confidence,
                        ),
                    }
                    turns[-1]["html"] = sources_block(answer.sources, answer.citations, turn, answer.refused)
                    cited = {c.paper_id: c.title for c in sorted(answer.citations, key=lambda c: c.n)}
                    turns[-1]["cited_paper_ids"], turns[-1]["cited_titles"] = list(cited), list(cited.values())
                    yield "", history, sources_panel(turns), "", turns
                    return
                history[-1] = {"role": "assistant", "content": answer_message(text, turn, sources, notice)}
                yield "", history, gr.update(), "", turns
        except Exception as exc:  # never lose the question: say what failed, keep the chat usable
            log.exception("answering failed")
            history[-1] = {"role": "assistant", "content": f"⚠️ Answering failed: {escape_text(str(exc))}"}
            yield "", history, sources_panel(turns), "", turns

    def search_papers(query: str) -> str:
        pipe = backend.try_get()
        if pipe is None:
            return f"<p>{html.escape('The paper index is not ready: ' + backend.error)} {html.escape(INGEST_HINT)}</p>"
        return papers_html(pipe.papers(), query or "")

    def ask(
        question: str, k: int = 5, mode: str = "auto", history: list[dict[str, Any]] | None = None
    ) -> dict[str, Any]:
        """Answer a question over the papers; returns text, citations and sources as JSON.

        `history`: the conversation so far, oldest first: earlier answers as this endpoint returned
        them (or `{"question", "cited_paper_ids", "cited_titles"}`), so a follow-up is understood.
        """
        try:
            pipe = backend.get()
            return answer_json(pipe.ask(question, k=int(k), mode=mode, history=history or None))
        except (InvalidQuestion, PaperIndexError) as exc:
            raise gr.Error(str(exc)) from exc

    def clear() -> tuple[Any, ...]:
        return [], sources_panel([]), "", []

    with gr.Blocks(title="paperchat") as app:
        gr.Markdown("## paperchat\nAsk about the listed research papers; every claim cites its abstract as [n].")
        if backend.error:
            gr.Markdown(index_message(backend.error), elem_id="index-warning")
        with gr.Tab("Chat", id="chat"):
            turns_state = gr.State([])
            with gr.Row(equal_height=False):
                with gr.Column(scale=3):
                    chatbot = gr.Chatbot(
                        label="Chat",
                        elem_id="chatbot",
                        height=560,
                        latex_delimiters=[],
                        sanitize_html=True,
                        render_markdown=True,
                        feedback_options=None,
                        buttons=["copy"],
                    )
                    with gr.Row():
                        question = gr.Textbox(
                            placeholder="Ask about the papers, e.g. which paper introduces product-key memory?",
                            show_label=False,
                            scale=5,
                            elem_id="question",
                            max_lines=6,
                        )
                        send = gr.Button("Ask", variant="primary", scale=1, elem_id="ask-button")
                    status = gr.Markdown("", elem_id="status")
                    if examples := example_questions():
                        gr.Examples(examples=examples, inputs=[question], label="Example questions")
                    with gr.Accordion("Settings", open=False, elem_id="settings"):
                        top_k = gr.Slider(MIN_TOP_K, MAX_TOP_K, value=settings.top_k, step=1, label="Papers (top-k)")
                        mode = gr.Radio(
                            modes,
                            value="auto",
                            label="Answer mode",
                            info=None if settings.llm_enabled else "llm needs RAG_LLM_BASE_URL or OPENAI_API_KEY",
                        )
                        gr.Markdown(backend.info_markdown(), elem_id="model-info")
                    clear_btn = gr.Button("New conversation", size="sm", elem_id="new-conversation")
                with gr.Column(scale=2):
                    gr.Markdown("### Sources")
                    sources = gr.HTML(sources_panel([]), elem_id="sources-panel")
        with gr.Tab("Papers", id="papers"):
            search = gr.Textbox(label="Search titles and abstracts", placeholder="words…", elem_id="paper-search")
            papers = gr.HTML(search_papers(""), elem_id="paper-list")

        outputs = [question, chatbot, sources, status, turns_state]
        inputs = [question, chatbot, top_k, mode, turns_state]
        for trigger in (question.submit, send.click):
            trigger(respond, inputs, outputs, api_visibility="private")
        clear_btn.click(clear, None, [chatbot, sources, status, turns_state], api_visibility="private")
        search.change(search_papers, search, papers, api_visibility="private", trigger_mode="always_last")
        search.submit(search_papers, search, papers, api_visibility="private")
        gr.api(ask, api_name="ask")
    return app


def _role(message: Any) -> str:
    if isinstance(message, dict):
        return str(message.get("role", ""))
    return str(getattr(message, "role", ""))


def parse_auth(auth: str | None) -> tuple[str, str] | None:
    """`user:password` -> (user, password); the password may itself contain ':'."""
    if not auth:
        return None
    user, sep, password = auth.partition(":")
    if not sep or not user or not password:
        raise ValueError("RAG_AUTH must look like user:password")
    return user, password


def theme() -> Any:
    """System fonts only: the default theme would fetch Google Fonts, and we run offline."""
    import gradio as gr

    return gr.themes.Soft(
        font=["ui-sans-serif", "system-ui", "sans-serif"], font_mono=["ui-monospace", "Consolas", "monospace"]
    )


def launch(
    app: Any, settings: Settings, host: str | None = None, port: int | None = None, block: bool = True, **kwargs: Any
) -> Any:
    """Queue (many users at once) and start the server; used by `serve` and the tests alike."""
    app.queue(default_concurrency_limit=max(1, settings.concurrency))
    return app.launch(
        server_name=host or settings.host,
        server_port=port or settings.port,
        auth=parse_auth(settings.auth),
        theme=theme(),
        css=CSS,
        prevent_thread_lock=not block,
        footer_links=["api"],
        **kwargs,
    )


def serve(host: str | None = None, port: int | None = None) -> None:
    """`rag serve` / `python app.py`: 127.0.0.1:7860 unless RAG_HOST/RAG_PORT/--host/--port say otherwise."""
    settings = get_settings()
    launch(build_app(settings=settings), settings, host, port)
