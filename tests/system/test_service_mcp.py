"""`rag mcp` as a client sees it: the official SDK's stdio client starts the real server process.

One server process for the module (over the session's seeds index); the client session lives
in a background event loop and each test sends its calls there.
"""

from __future__ import annotations

import asyncio
import os
import sys
import threading
from collections.abc import Coroutine, Iterator
from typing import Any

import pytest
from mcp import ClientSession, StdioServerParameters, stdio_client
from mcp_types import CallToolResult

from rag.answer import NOT_IN_CORPUS
from rag.service.reply import reply_text
from tests.conftest import ROOT

TOOLS = {"ask", "search_papers", "get_paper", "list_papers"}
CALL_TIMEOUT = 120


class Remote:
    """An MCP client session to `rag mcp`, held open in its own thread's event loop."""

    def __init__(self, env: dict[str, str]) -> None:
        self.params = StdioServerParameters(
            command=sys.executable, args=["-m", "rag.cli", "mcp"], env=env, cwd=str(ROOT)
        )
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.stop: asyncio.Event | None = None
        self.session: ClientSession | None = None
        self.failure: BaseException | None = None
        self.thread = threading.Thread(target=self.loop.run_until_complete, args=(self._hold(),), daemon=True)
        self.thread.start()
        if not self.ready.wait(CALL_TIMEOUT) or self.session is None:
            raise RuntimeError(f"the MCP server did not start: {self.failure!r}")

    async def _hold(self) -> None:
        self.stop = asyncio.Event()
        try:
            async with stdio_client(self.params) as (read, write), ClientSession(read, write) as session:
                await session.initialize()
                self.session = session
                self.ready.set()
                await self.stop.wait()
        except BaseException as exc:
            self.failure = exc
            self.ready.set()

    def run(self, coroutine: Coroutine[Any, Any, Any]) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(CALL_TIMEOUT)

    def call(self, tool: str, arguments: dict[str, Any]) -> CallToolResult:
        assert self.session is not None
        return self.run(self.session.call_tool(tool, arguments))

    def close(self) -> None:
        if self.stop is not None:
            self.loop.call_soon_threadsafe(self.stop.set)
        self.thread.join(CALL_TIMEOUT)


@pytest.fixture(scope="module")
def remote(seeds_index) -> Iterator[Remote]:
    env = {
        "RAG_DATA_DIR": str(seeds_index.data_dir),
        "RAG_SEEDS_DIR": str(seeds_index.seeds_dir),
        "PYTHONPATH": str(ROOT),
        "HF_HUB_OFFLINE": "1",
        "ANONYMIZED_TELEMETRY": "False",
    }
    for key in ("TMPDIR", "LANG", "LC_ALL"):
        if key in os.environ:
            env[key] = os.environ[key]
    server = Remote(env)
    try:
        yield server
    finally:
        server.close()


def text_of(result: CallToolResult) -> str:
    return "\n".join(getattr(block, "text", "") for block in result.content)


def test_lists_the_four_tools_with_guidance(remote: Remote) -> None:
    assert remote.session is not None
    tools = {t.name: t for t in remote.run(remote.session.list_tools()).tools}
    assert set(tools) == TOOLS
    for tool in tools.values():
        assert "Call it" in (tool.description or ""), tool.name  # tells an agent when to use it
    assert tools["ask"].input_schema["required"] == ["question"]
    assert "history" in tools["ask"].input_schema["properties"]
    k = tools["search_papers"].input_schema["properties"]["k"]
    assert (k["minimum"], k["maximum"], k["default"]) == (1, 20, 5)
    assert tools["search_papers"].output_schema is not None and tools["get_paper"].output_schema is not None


@pytest.fixture(scope="module")
def answered(pipeline, dev_questions) -> tuple[str, Any]:
    for q in dev_questions:
        if q["type"] == "single":
            answer = pipeline.ask(q["question"])
            if not answer.refused and answer.citations and answer.citations[0].title in q["gold_titles"]:
                return q["question"], answer
    pytest.fail("no single-paper dev question is answered from its gold paper")


def test_ask_returns_cited_text_and_the_record(remote: Remote, answered) -> None:
    question, expected = answered
    result = remote.call("ask", {"question": question})
    assert not result.is_error
    assert text_of(result) == reply_text(expected)
    record = result.structured_content
    assert record is not None and record["refused"] is False
    assert [(c["n"], c["paper_id"], c["quote"]) for c in record["citations"]] == [
        (c.n, c.paper_id, c.quote) for c in expected.citations
    ]


def test_ask_follow_up_with_history(remote: Remote, pipeline, answered) -> None:
    question, first = answered
    follow = "What datasets did they evaluate it on?"
    expected = pipeline.ask(follow, history=[(question, first)])
    by_text = remote.call("ask", {"question": follow, "history": [{"question": question, "answer": reply_text(first)}]})
    by_ids = remote.call(
        "ask",
        {"question": follow, "history": [{"question": question, "cited_paper_ids": [first.citations[0].paper_id]}]},
    )
    for result in (by_text, by_ids):
        assert not result.is_error
        assert result.structured_content["standalone_question"] == expected.standalone_question
        assert first.citations[0].title in expected.standalone_question


def test_ask_refusal_is_an_answer_not_an_error(remote: Remote) -> None:
    result = remote.call("ask", {"question": "What is the best recipe for a sourdough lasagna?"})
    assert not result.is_error
    assert text_of(result).startswith(NOT_IN_CORPUS)
    assert result.structured_content["refused"] is True


def test_search_papers_ranks_with_scores_and_passages(remote: Remote, pipeline, answered) -> None:
    question, expected = answered
    result = remote.call("search_papers", {"query": question, "k": 3})
    assert not result.is_error
    hits = result.structured_content["results"]
    assert [h["rank"] for h in hits] == [1, 2, 3]
    # the order is the answer's (fused, then reranked); each score is that paper's fused score
    assert [(h["paper_id"], h["score"]) for h in hits] == [
        (s.paper.id, round(s.score, 4)) for s in expected.sources[:3]
    ]
    assert hits[0]["title"] == expected.sources[0].paper.title
    papers = {p.id: p for p in pipeline.papers()}
    for hit in hits:
        assert hit["passage"] and hit["passage"] in papers[hit["paper_id"]].abstract


def test_get_paper_by_id_or_title(remote: Remote, pipeline) -> None:
    paper = next(p for p in pipeline.papers() if len(p.seed_files) > 1)
    for key in (paper.id, paper.title.upper(), f"  {paper.title}  "):
        result = remote.call("get_paper", {"id_or_title": key})
        assert not result.is_error
        assert result.structured_content == {
            "id": paper.id,
            "title": paper.title,
            "abstract": paper.abstract,
            "seed_files": paper.seed_files,
        }
    missing = remote.call("get_paper", {"id_or_title": "Pointer"})
    assert missing.is_error and "No paper has the id or title" in text_of(missing)
    assert "Pointer Networks" in text_of(missing)  # the titles it might have meant


def test_list_papers(remote: Remote, pipeline) -> None:
    everything = remote.call("list_papers", {})
    assert not everything.is_error
    assert everything.structured_content["total"] == pipeline.paper_count == 505
    assert len(everything.structured_content["papers"]) == 100
    some = remote.call("list_papers", {"contains": "Pointer networks", "limit": 1000})
    titles = [p["title"] for p in some.structured_content["papers"]]
    assert "Pointer Networks" in titles and len(titles) == some.structured_content["total"] < 20


BAD_CALLS = [
    ("search_papers", {"query": "graphs", "k": 99}, "less than or equal to 20"),
    ("search_papers", {"query": "graphs", "k": "five"}, "valid integer"),
    ("search_papers", {"query": 5}, "valid string"),
    ("search_papers", {"query": "   "}, "Please type a question"),
    ("ask", {}, "Field required"),
    ("ask", {"question": ""}, "Please type a question"),
    ("ask", {"question": "word " * 1000}, "characters long"),
    ("ask", {"question": "what?", "history": "yesterday"}, "history"),
    ("get_paper", {"id_or_title": ""}, "at least 1 character"),
    ("list_papers", {"limit": 0}, "greater than or equal to 1"),
]


@pytest.mark.parametrize(("tool", "arguments", "says"), BAD_CALLS, ids=[f"{t}-{a}"[:60] for t, a, _ in BAD_CALLS])
def test_bad_arguments_are_tool_errors(remote: Remote, tool: str, arguments: dict, says: str) -> None:
    result = remote.call(tool, arguments)
    assert result.is_error, text_of(result)
    assert says in text_of(result)


def test_unknown_tool(remote: Remote) -> None:
    try:
        result = remote.call("delete_papers", {})
    except Exception as exc:  # a protocol error is also a refusal
        assert "delete_papers" in str(exc)
    else:
        assert result.is_error and "delete_papers" in text_of(result)


def test_streamable_http_under_rag_serve(pipeline, answered) -> None:
    """`rag serve` also serves the tools at /mcp (streamable HTTP), behind the same keys as /v1."""
    import anyio
    import httpx
    import httpx2
    from mcp.client.streamable_http import streamable_http_client
    from pydantic import SecretStr

    from tests.conftest import launch_app

    question, expected = answered
    settings = pipeline.settings.model_copy(update={"api_keys": SecretStr("mcp-key-5e1")})
    app, url = launch_app(pipeline, settings)

    async def session_calls() -> tuple[set[str], CallToolResult]:
        headers = {"Authorization": "Bearer mcp-key-5e1"}
        async with (
            httpx2.AsyncClient(headers=headers, timeout=CALL_TIMEOUT) as http,
            streamable_http_client(f"{url}mcp", http_client=http) as streams,
            ClientSession(streams[0], streams[1]) as session,
        ):
            await session.initialize()
            names = {t.name for t in (await session.list_tools()).tools}
            return names, await session.call_tool("ask", {"question": question})

    try:
        names, result = anyio.run(session_calls)
        denied = httpx.post(f"{url}mcp", json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"}, timeout=60)
    finally:
        app.close()
    assert names == TOOLS
    assert not result.is_error and text_of(result) == reply_text(expected)
    assert denied.status_code == 401 and denied.json()["error"]["code"] == "invalid_api_key"
