"""`rag mcp`: paperchat's papers as MCP tools for agents and editors (Claude Desktop, Cursor, IDEs).

The official `mcp` SDK (2.x, `MCPServer`, formerly FastMCP) over stdio. Tools:
`ask(question, history?)` (the cited answer: text with `[n]` markers, the answer record as
structured content), `search_papers(query, k)`, `get_paper(id_or_title)`,
`list_papers(contains?)`. Every one goes through the same Pipeline as the chat, with the same
input checks (`rag.service.validation`); a bad argument or a refused input comes back as a tool
error whose message says what to change. The index loads in the background at start, so the
client's handshake and tool listing never wait for it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Annotated, Any, Literal

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp_types import CallToolResult, TextContent, ToolAnnotations
from pydantic import BaseModel, Field

from rag.config import MAX_TOP_K, MIN_TOP_K, Settings, get_settings
from rag.index import PaperIndexError
from rag.models import answer_record
from rag.pipeline import InvalidQuestion, Pipeline, check_k, clean_question
from rag.service.papers import catalogue
from rag.service.reply import reply_text
from rag.service.validation import recent, validate_ask

log = logging.getLogger(__name__)
LogLevel = Literal["DEBUG", "INFO", "WARNING"]

INSTRUCTIONS = (
    "paperchat answers questions about one fixed collection of research-paper abstracts, citing them as [n]. "
    "Use `ask` for questions, `search_papers` to find papers on a topic, `get_paper` to read one abstract, "
    "`list_papers` to browse. It knows only these abstracts, not the full papers or anything newer."
)
ASK = (
    "Answer a question from the research papers in this collection, with citations. Call it whenever the user "
    "asks what a paper proposes or finds, which papers address a topic, how two approaches compare, or for a "
    "number or result reported in an abstract. The text carries [n] markers and ends with a `Sources:` list; "
    "the structured result has each citation's paper id, title and the quoted sentence. Keep the [n] markers "
    "when you relay it. If the collection does not cover the question the answer says so (`refused: true`): "
    "tell the user rather than rephrasing repeatedly. For a follow-up ('what datasets did they use?'), pass the "
    "earlier turns as `history`, oldest first."
)
SEARCH = (
    "Rank the collection's papers for a query: each with its score and best-matching passage. Call it to find "
    "which papers are about a topic, or to get ids for `get_paper`. It writes no answer (use `ask` for that)."
)
GET = (
    "One paper in full: its title, abstract and the seed listings it appeared in, by id (from `search_papers`, "
    "`list_papers` or an `ask` citation) or exact title. Call it when you need the whole abstract."
)
LIST = (
    "List the papers of the collection (id, title, seed listings), optionally only those whose title or "
    "abstract contains every word of `contains`. Call it to browse or to check whether a paper is here by name."
)
READ_ONLY = ToolAnnotations(read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=False)


class EarlierTurn(BaseModel):
    """One earlier turn of the conversation."""

    question: str = Field(description="What was asked.")
    answer: str = Field("", description="The text `ask` returned for it (its `Sources:` list says what it cited).")
    cited_paper_ids: list[str] = Field(
        default_factory=list, description="Or: the `paper_id`s of that answer's citations."
    )


class PaperHit(BaseModel):
    rank: int
    paper_id: str
    title: str
    score: float = Field(
        description="The paper's fused retrieval score, comparable within one search only; the rank is the final "
        "order, which a learned rerank may set against it (RAG_RERANK), so scores need not fall with rank."
    )
    passage: str = Field(description="The abstract passage that matched best.")


class SearchResult(BaseModel):
    query: str
    results: list[PaperHit]


class PaperRecord(BaseModel):
    id: str
    title: str
    abstract: str
    seed_files: list[str]


class PaperSummary(BaseModel):
    id: str
    title: str
    seed_files: list[str]


class PaperList(BaseModel):
    total: int = Field(description="How many papers match; `papers` holds at most `limit` of them.")
    papers: list[PaperSummary]


class LazyPipeline:
    """The pipeline, loaded once (in the background from `start`); an index error is retried per call."""

    def __init__(self, settings: Settings | None = None, pipeline: Pipeline | None = None) -> None:
        self.settings = settings or get_settings()
        self._pipeline = pipeline
        self._lock = threading.Lock()

    def start(self) -> None:
        threading.Thread(target=self._warm, name="pipeline-load", daemon=True).start()

    def _warm(self) -> None:
        try:
            self.get()
        except Exception as exc:  # the first tool call reports it
            log.warning("the paper index did not load: %s", exc)

    def get(self) -> Pipeline:
        with self._lock:
            if self._pipeline is None:
                self._pipeline = Pipeline(self.settings)
            return self._pipeline


def build_server(get_pipeline: Callable[[], Pipeline], settings: Settings) -> MCPServer:
    """The MCP server over the pipeline `get_pipeline` returns."""
    # the SDK calls logging.basicConfig(level=log_level): keep the host's level (rag serve must not turn INFO on)
    level = logging.getLogger().getEffectiveLevel()
    log_level: LogLevel = "DEBUG" if level <= logging.DEBUG else "INFO" if level <= logging.INFO else "WARNING"
    server: MCPServer = MCPServer(name="paperchat", instructions=INSTRUCTIONS, log_level=log_level)

    def pipeline() -> Pipeline:
        try:
            return get_pipeline()
        except PaperIndexError as exc:
            raise ToolError(f"The paper index is not ready: {exc} Run `rag ingest`, then call again.") from None

    @server.tool(description=ASK, annotations=READ_ONLY)
    def ask(
        question: Annotated[str, Field(description="The question, in plain words.")],
        history: Annotated[
            list[EarlierTurn] | None, Field(description="Earlier turns, oldest first, for a follow-up.")
        ] = None,
    ) -> CallToolResult:
        pipe = pipeline()
        papers = catalogue(pipe)
        turns = [
            papers.turn(t.question, paper_ids=t.cited_paper_ids)
            if t.cited_paper_ids
            else papers.turn_from_reply(t.question, t.answer)
            for t in history or []
        ]
        try:
            args = validate_ask(question, settings, history=recent(turns, settings))
            answer = pipe.ask(args.question, k=args.k, mode=args.mode, history=args.history or None)
        except InvalidQuestion as exc:
            raise ToolError(str(exc)) from None
        return CallToolResult(
            content=[TextContent(type="text", text=reply_text(answer))], structured_content=answer_record(answer)
        )

    @server.tool(description=SEARCH, annotations=READ_ONLY)
    def search_papers(
        query: Annotated[str, Field(description="Words, a topic or a question.")],
        k: Annotated[int, Field(ge=MIN_TOP_K, le=MAX_TOP_K, description="How many papers to return.")] = 5,
    ) -> SearchResult:
        try:
            text = clean_question(query, settings.max_question_chars)
            check_k(k)
        except InvalidQuestion as exc:
            raise ToolError(str(exc)) from None
        pipe = pipeline()
        pipe.refresh()
        retrieval = pipe.retriever.retrieve(text, k)
        hits = [
            PaperHit(
                rank=s.n,
                paper_id=s.paper.id,
                title=s.paper.title,
                score=round(s.score, 4),
                passage=s.chunks[0].text if s.chunks else s.paper.abstract[:400],
            )
            for s in retrieval.sources[:k]
        ]
        return SearchResult(query=text, results=hits)

    @server.tool(description=GET, annotations=READ_ONLY)
    def get_paper(
        id_or_title: Annotated[str, Field(min_length=1, max_length=1000, description="A paper id or exact title.")],
    ) -> PaperRecord:
        papers = catalogue(pipeline())
        paper = papers.find(id_or_title)
        if paper is None:
            near = [p.title for p in papers.containing(id_or_title)[:5]]
            hint = f" Titles containing those words: {'; '.join(near)}." if near else " Try search_papers."
            raise ToolError(f"No paper has the id or title {id_or_title!r}.{hint}")
        return PaperRecord(id=paper.id, title=paper.title, abstract=paper.abstract, seed_files=list(paper.seed_files))

    @server.tool(description=LIST, annotations=READ_ONLY)
    def list_papers(
        contains: Annotated[
            str | None, Field(max_length=1000, description="Only papers whose title or abstract has all these words.")
        ] = None,
        limit: Annotated[int, Field(ge=1, le=1000, description="At most this many papers.")] = 100,
    ) -> PaperList:
        papers = catalogue(pipeline())
        shown = papers.containing(contains) if contains else papers.papers
        summaries = [PaperSummary(id=p.id, title=p.title, seed_files=list(p.seed_files)) for p in shown[:limit]]
        return PaperList(total=len(shown), papers=summaries)

    return server


def main(settings: Settings | None = None) -> None:
    """`rag mcp`: serve the tools over stdio until the client closes the pipe."""
    settings = settings or get_settings()
    lazy = LazyPipeline(settings)
    lazy.start()
    build_server(lazy.get, settings).run("stdio")


class KeyGate:
    """ASGI wrapper: the MCP endpoint takes the same keys as the OpenAI API (`openai_api.Keys`)."""

    def __init__(self, app: Any, keys: Any) -> None:
        self.app, self.keys = app, keys

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
            if not self.keys.allows(headers.get("authorization")):
                body = b'{"error": {"message": "a valid API key is required", "code": "invalid_api_key"}}'
                await send(
                    {
                        "type": "http.response.start",
                        "status": 401,
                        "headers": [(b"content-type", b"application/json"), (b"www-authenticate", b"Bearer")],
                    }
                )
                await send({"type": "http.response.body", "body": body})
                return
        await self.app(scope, receive, send)


def http_routes(get_pipeline: Callable[[], Pipeline], settings: Settings) -> tuple[list[Any], Any]:
    """`/mcp` (streamable HTTP, stateless) for `rag serve`, and the lifespan its session manager needs.

    Behind the same keys as /v1; DNS-rebinding protection (Host/Origin on loopback) when bound to loopback.
    """
    from starlette.routing import Route

    from rag.service.openai_api import Keys

    server = build_server(get_pipeline, settings)
    app = server.streamable_http_app(streamable_http_path="/mcp", stateless_http=True, host=settings.host)
    gate = Keys(settings)
    routes = [
        Route(route.path, endpoint=KeyGate(route.endpoint, gate), methods=route.methods)
        for route in app.routes
        if isinstance(route, Route) and route.path == "/mcp"
    ]
    return routes, lambda _app: server.session_manager.run()
