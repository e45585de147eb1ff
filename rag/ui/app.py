"""The Gradio app: it renders what `Pipeline.stream` yields (through `rag.ui.rendering`), nothing more.

The library knows nothing of the UI; this module owns the page layout, the per-session
conversation, the `/ask` API and serving (queue, login, loopback by default).
"""

from __future__ import annotations

import html
import logging
import os
import threading
from collections.abc import Iterator
from typing import Any

from rag.config import MAX_TOP_K, MIN_TOP_K, Settings, get_settings
from rag.models import MAX_HISTORY_TURNS, AskRequest, HistoryTurn, InvalidQuestion, Source
from rag.ui.login import FailedLogins, LoginBackoff
from rag.ui.rendering import (
    CSS,
    INGEST_HINT,
    MAX_SEARCH_CHARS,
    answer_footer,
    answer_json,
    answer_message,
    escape_text,
    example_questions,
    history_of,
    papers_html,
    search_refusal,
    sources_block,
    sources_panel,
    warning_text,
)

# Before gradio is imported anywhere: no usage analytics leave this machine.
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

log = logging.getLogger(__name__)

# The app takes no files, but Gradio's upload routes are always there: refuse big ones (HTTP 413).
MAX_UPLOAD = "1mb"


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
            recent = history_of(turns)[-MAX_HISTORY_TURNS:]  # follow-ups read only the last few turns
            whole = int(k) if isinstance(k, float) and k.is_integer() else k  # the slider sends 5.0
            events = pipe.stream(message, k=whole, mode=mode, history=recent)
            first = next(events)  # validation happens here: nothing is added on bad input
        except InvalidQuestion as exc:
            log.info("question refused: %s", exc)
            yield gr.update(), history, gr.update(), f"⚠️ {escape_text(str(exc))}", turns
            return
        except PaperIndexError as exc:
            yield gr.update(), history, gr.update(), index_message(str(exc)), turns
            return

        turn = sum(1 for m in history if _role(m) == "assistant") + 1
        question = " ".join(str(message).split())
        history += [{"role": "user", "content": escape_text(question)}, {"role": "assistant", "content": "…"}]
        sources: list[Source] = list(first.sources) if first.kind == "sources" else []
        top_k = whole if isinstance(whole, int) else None  # sources numbered past it: cited from deeper down
        turns.append({"question": question, "html": sources_block(sources, [], turn, top_k=top_k)})
        yield "", history, sources_panel(turns), "", turns

        text, notice = "", ""
        try:
            for event in events:
                if event.kind == "delta":
                    text += event.text
                elif event.kind == "notice":  # the LLM failed: its partial text is dropped
                    text, notice = "", event.text
                    gr.Warning(warning_text(notice))  # the toast renders HTML; the notice is text
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
                    turns[-1]["html"] = sources_block(
                        answer.sources,
                        answer.citations,
                        turn,
                        answer.refused,
                        answer.closest,
                        used=answer.used_sources or None,  # None: fall back to the cited numbers
                        top_k=top_k,
                    )
                    # what a later follow-up reads of this turn: the papers cited and shown, as a request carries them
                    record = HistoryTurn.model_validate(
                        (question, answer), context={"max_question_chars": settings.max_question_chars}
                    )
                    turns[-1].update(record.model_dump(exclude={"question"}))
                    yield "", history, sources_panel(turns), "", turns
                    return
                history[-1] = {"role": "assistant", "content": answer_message(text, turn, sources, notice)}
                yield "", history, gr.update(), "", turns
        except Exception as exc:  # never lose the question: say what failed, keep the chat usable
            log.exception("answering failed")
            history[-1] = {"role": "assistant", "content": f"⚠️ Answering failed: {escape_text(str(exc))}"}
            yield "", history, sources_panel(turns), "", turns

    def search_papers(query: str) -> str:
        if refusal := search_refusal(query):  # before any work: the handler is reachable via /gradio_api/queue/join
            return refusal
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
        try:  # one request model (rag.models.AskRequest): wrong types and oversized history are refused first
            request = AskRequest.parse(question, k, mode, history, max_question_chars=settings.max_question_chars)
            pipe = backend.get()
            return answer_json(pipe.ask(request.question, k=request.k, mode=request.mode, history=request.history))
        except InvalidQuestion as exc:
            log.info("/ask refused: %s", exc)  # one line, no traceback: the caller's input was wrong
            raise gr.Error(str(exc), print_exception=False) from None
        except PaperIndexError as exc:
            log.warning("/ask: %s", exc)
            raise gr.Error(str(exc), print_exception=False) from None

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
            search = gr.Textbox(
                label="Search titles and abstracts",
                placeholder="words…",
                elem_id="paper-search",
                max_length=MAX_SEARCH_CHARS,
            )
            papers = gr.HTML(search_papers(""), elem_id="paper-list")

        outputs = [question, chatbot, sources, status, turns_state]
        inputs = [question, chatbot, top_k, mode, turns_state]
        for trigger in (question.submit, send.click):
            trigger(respond, inputs, outputs, api_visibility="private")
        clear_btn.click(clear, None, [chatbot, sources, status, turns_state], api_visibility="private")
        search.change(search_papers, search, papers, api_visibility="private", trigger_mode="always_last")
        search.submit(search_papers, search, papers, api_visibility="private")
        gr.api(ask, api_name="ask")
    app.paperchat_backend = backend  # launch() serves /v1 from the same pipeline
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


def service_routes(app: Any, settings: Settings) -> tuple[list[Any], Any]:
    """The OpenAI chat API (`/v1`) and MCP over streamable HTTP (`/mcp`) over the app's own pipeline.

    Returns the routes and the lifespan the MCP session manager needs (rag/service/).
    """
    from rag.service.mcp_server import http_routes
    from rag.service.openai_api import router

    backend = getattr(app, "paperchat_backend", None) or Backend(settings)
    mcp_routes, lifespan = http_routes(backend.get, settings)
    return [*router(backend.get, settings).routes, *mcp_routes], lifespan


def launch(
    app: Any,
    settings: Settings,
    host: str | None = None,
    port: int | None = None,
    block: bool = True,
    logins: FailedLogins | None = None,
    **kwargs: Any,
) -> Any:
    """Queue (many users at once) and start the server, the OpenAI API beside the chat; `serve` and tests alike.

    The /v1 and /mcp routes go in when Gradio builds its FastAPI app (`app_kwargs`), so they are
    there from the first request and take precedence over Gradio's own. With a login (RAG_AUTH),
    repeated wrong passwords from one address are refused for a while (`rag.ui.login`); `logins`
    holds those counts (tests pass one with their own clock).
    """
    from starlette.middleware import Middleware

    app.queue(default_concurrency_limit=max(1, settings.concurrency))
    app_kwargs = dict(kwargs.pop("app_kwargs", None) or {})
    if settings.auth:
        guard = Middleware(LoginBackoff, logins=logins or FailedLogins())
        app_kwargs["middleware"] = [*app_kwargs.get("middleware", []), guard]
    routes, lifespan = service_routes(app, settings)
    app_kwargs["routes"] = [*app_kwargs.get("routes", []), *routes]
    app_kwargs.setdefault("lifespan", lifespan)
    return app.launch(
        app_kwargs=app_kwargs,
        server_name=host or settings.host,
        server_port=port or settings.port,
        auth=parse_auth(settings.auth.get_secret_value() if settings.auth else None),
        theme=theme(),
        css=CSS,
        prevent_thread_lock=not block,
        footer_links=["api"],
        max_file_size=MAX_UPLOAD,
        **kwargs,
    )


def serve(host: str | None = None, port: int | None = None) -> None:
    """`rag serve` / `python app.py`: 127.0.0.1:7860 unless RAG_HOST/RAG_PORT/--host/--port say otherwise."""
    settings = get_settings()
    check_host(host or settings.host)  # before the index loads: a typo fails in a second, and says what
    launch(build_app(settings=settings), settings, host, port)


def check_host(host: str) -> None:
    """Raise ValueError naming `host` if it does not resolve (Gradio would say "Cannot find empty port")."""
    import socket

    try:
        socket.getaddrinfo(host, None)
    except (socket.gaierror, UnicodeError) as exc:
        raise ValueError(f"the host {host!r} (RAG_HOST or --host) cannot be resolved: {exc}") from None
