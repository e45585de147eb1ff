"""The OpenAI chat API of `rag serve`, driven by the real `openai` package against the real server.

The server is the app `rag serve` runs (Gradio chat plus /v1, `rag.ui.launch`) over the session's
seeds index, on a free loopback port in this process; a second one has login and API keys on.
"""

from __future__ import annotations

import base64
import json
import re
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import openai
import pytest
from pydantic import SecretStr

from rag.answer import NOT_IN_CORPUS
from rag.models import Answer, Citation, Paper, Source
from rag.service.reply import cited_titles, escape_markdown, reply_text
from tests.conftest import launch_app

OFF_CORPUS = "What is the best recipe for a sourdough lasagna?"
KEYS = "key-one-7f3a,key-two-91bc"
LOGIN = "ann:pw-4d2e:x"


def client(url: str, key: str = "unused") -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{url}v1", api_key=key, max_retries=0, timeout=60)


def extra(obj: Any) -> dict[str, Any]:
    """The `paperchat` record the server adds to a completion or chunk (kept by the SDK as an extra)."""
    record = (obj.model_extra or {}).get("paperchat")
    assert isinstance(record, dict), f"no paperchat record in {obj!r}"
    return record


@pytest.fixture(scope="module")
def api_url(pipeline) -> Iterator[str]:
    app, url = launch_app(pipeline)
    try:
        yield url
    finally:
        app.close()


@pytest.fixture(scope="module")
def locked_url(pipeline) -> Iterator[str]:
    settings = pipeline.settings.model_copy(update={"api_keys": SecretStr(KEYS), "auth": SecretStr(LOGIN)})
    app, url = launch_app(pipeline, settings)
    try:
        yield url
    finally:
        app.close()


@pytest.fixture(scope="module")
def answered(pipeline, dev_questions) -> tuple[str, Answer]:
    """A dev question answered from its gold paper, and the pipeline's own answer to it."""
    for q in dev_questions:
        if q["type"] == "single":
            answer = pipeline.ask(q["question"])
            if not answer.refused and answer.citations and answer.citations[0].title in q["gold_titles"]:
                return q["question"], answer
    pytest.fail("no single-paper dev question is answered from its gold paper")


# -- the reply text (no server) ---------------------------------------------------------------
def test_reply_escapes_paper_text_and_reads_back_its_sources() -> None:
    title = "*Bold* <img src=x onerror=alert(1)> [MASK] $x^2$ `code` #1 | ~"
    paper = Paper(id="p1", title=title, abstract="An abstract.")
    answer = Answer(
        question="q",
        text="We use **<b>tricks</b>** [1] and [9] $y$.",
        citations=[Citation(n=1, paper_id="p1", title=title, quote="An abstract.")],
        sources=[Source(n=1, paper=paper, chunks=[], score=1.0)],
    )
    reply = reply_text(answer)
    body, sources = reply.split("\n\nSources:\n")
    assert body == r"We use \*\*\<b\>tricks\</b\>\*\* [1] and [9] \$y\$."  # markers kept, the rest literal
    assert sources == f"- [1] {escape_markdown(title)}"
    assert r"\<img src=x" in reply and r"\[MASK\]" in reply and r"\$x^2\$" in reply and r"\`code\`" in reply
    assert cited_titles(reply) == [title]
    assert cited_titles("no list here") == []


# -- the live server ----------------------------------------------------------------------------
def test_models_lists_paperchat(api_url: str) -> None:
    api = client(api_url)
    assert [m.id for m in api.models.list().data] == ["paperchat"]
    assert api.models.retrieve("paperchat").id == "paperchat"
    with pytest.raises(openai.NotFoundError):
        api.models.retrieve("gpt-4o")


def test_plain_completion_is_the_pipeline_answer(api_url: str, answered: tuple[str, Answer]) -> None:
    question, expected = answered
    done = client(api_url).chat.completions.create(model="paperchat", messages=[{"role": "user", "content": question}])
    assert done.model == "paperchat" and done.object == "chat.completion"
    choice = done.choices[0]
    assert choice.finish_reason == "stop" and choice.message.role == "assistant"
    assert choice.message.content == reply_text(expected)
    first = expected.citations[0]
    assert "[1]" in choice.message.content
    assert f"\n\nSources:\n- [{first.n}] {escape_markdown(first.title)}" in choice.message.content
    record = extra(done)
    assert record["text"] == expected.text and record["refused"] is False
    assert record["standalone_question"] == question
    assert record["citations"][0]["quote"] == first.quote and record["citations"][0]["paper_id"] == first.paper_id
    assert [s["title"] for s in record["sources"]] == [s.paper.title for s in expected.sources]
    assert 0 <= record["confidence"] <= 1


def test_streamed_completion_joins_to_the_plain_reply(api_url: str, answered: tuple[str, Answer]) -> None:
    question, expected = answered
    chunks = list(
        client(api_url).chat.completions.create(
            model="paperchat", messages=[{"role": "user", "content": question}], stream=True
        )
    )
    assert len(chunks) >= 3 and all(c.object == "chat.completion.chunk" for c in chunks)
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks)
    assert text == reply_text(expected)
    assert (
        [c.choices[0].finish_reason for c in chunks].count("stop")
        == 1
        == int(chunks[-1].choices[0].finish_reason == "stop")
    )
    assert extra(chunks[-1])["citations"][0]["quote"] == expected.citations[0].quote
    # on the wire: server-sent events, the last one `[DONE]`
    body = {"model": "paperchat", "stream": True, "messages": [{"role": "user", "content": question}]}
    with httpx.stream("POST", f"{api_url}v1/chat/completions", json=body, timeout=60) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        events = [line for line in response.iter_lines() if line.startswith("data: ")]
    assert events[-1] == "data: [DONE]"
    assert all(json.loads(e[6:])["id"] == json.loads(events[0][6:])["id"] for e in events[:-1])


def test_follow_up_uses_the_earlier_turns(api_url: str, pipeline, answered: tuple[str, Answer]) -> None:
    question, first = answered
    follow = "What datasets did they evaluate it on?"
    api = client(api_url)
    reply = api.chat.completions.create(model="paperchat", messages=[{"role": "user", "content": question}])
    messages = [
        {"role": "system", "content": "You are a helpful assistant."},  # Open WebUI sends one: skipped
        {"role": "user", "content": question},
        {"role": "assistant", "content": reply.choices[0].message.content},
        {"role": "user", "content": follow},
    ]
    record = extra(api.chat.completions.create(model="paperchat", messages=messages))
    title = first.citations[0].title
    assert title in record["standalone_question"], record["standalone_question"]
    expected = pipeline.ask(follow, history=[(question, first)])  # the chat's way: the same resolution
    assert record["standalone_question"] == expected.standalone_question
    assert record["text"] == expected.text
    # alone, the same words are not about that paper
    alone = extra(api.chat.completions.create(model="paperchat", messages=[{"role": "user", "content": follow}]))
    assert alone["standalone_question"] == follow


def test_refusal_is_an_ordinary_reply(api_url: str) -> None:
    done = client(api_url).chat.completions.create(
        model="paperchat", messages=[{"role": "user", "content": OFF_CORPUS}]
    )
    assert done.choices[0].finish_reason == "stop"
    assert done.choices[0].message.content.startswith(NOT_IN_CORPUS)
    assert "Sources:" not in done.choices[0].message.content
    record = extra(done)
    assert record["refused"] is True and record["citations"] == [] and record["sources"] == []


BAD_REQUESTS = [
    # (what, request body, status, param)
    ("no messages", {"model": "paperchat", "messages": []}, 400, "messages"),
    ("messages missing", {"model": "paperchat"}, 400, "messages"),
    ("last from the assistant", {"model": "paperchat", "messages": [{"role": "assistant", "content": "hi"}]}, 400,
     "messages.0.role"),
    ("unknown model", {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}, 404, "model"),
    ("over-long", {"model": "paperchat", "messages": [{"role": "user", "content": "word " * 1000}]}, 400,
     "messages.0.content"),
    ("empty question", {"model": "paperchat", "messages": [{"role": "user", "content": "  "}]}, 400,
     "messages.0.content"),
    ("content a number", {"model": "paperchat", "messages": [{"role": "user", "content": 5}]}, 400,
     "messages.0.content"),
    ("unknown role", {"model": "paperchat", "messages": [{"role": "boss", "content": "hi"}]}, 400, "messages.0.role"),
    ("stream a string", {"model": "paperchat", "stream": "yes", "messages": [{"role": "user", "content": "hi"}]},
     400, "stream"),
    ("image content", {"model": "paperchat", "messages": [{"role": "user", "content": [
        {"type": "image_url", "image_url": {"url": "http://x"}}]}]}, 400, "messages.0.content"),
    ("k out of range", {"model": "paperchat", "paperchat": {"k": 99}, "messages": [{"role": "user", "content": "hi"}]},
     400, "paperchat.k"),
]  # fmt: skip


@pytest.mark.parametrize(("what", "body", "status", "param"), BAD_REQUESTS, ids=[b[0] for b in BAD_REQUESTS])
def test_bad_requests_get_openai_errors(api_url: str, what: str, body: dict, status: int, param: str) -> None:
    variants = [body] if "stream" in body else [body, {**body, "stream": True}]
    for variant in variants:  # a stream refuses bad input before it starts, with the same error
        response = httpx.post(f"{api_url}v1/chat/completions", json=variant, timeout=60)
        assert response.status_code == status, response.text
        error = response.json()["error"]
        assert error["type"] == "invalid_request_error" and error["param"] == param, error
        assert error["message"]


def test_the_sdk_raises_on_errors(api_url: str) -> None:
    api = client(api_url)
    with pytest.raises(openai.BadRequestError) as bad:
        api.chat.completions.create(model="paperchat", messages=[{"role": "user", "content": "x" * 5000}])
    assert "characters" in bad.value.message
    with pytest.raises(openai.NotFoundError):
        api.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}])
    response = httpx.post(f"{api_url}v1/chat/completions", content=b"{not json", timeout=60)
    assert response.status_code == 400 and response.json()["error"]["code"] == "json_invalid"


def test_auth_on(locked_url: str, answered: tuple[str, Answer]) -> None:
    question = answered[0]
    messages = [{"role": "user", "content": question}]
    for wrong in ("", "key-one", "key-one-7f3a,key-two-91bc", "ann:pw"):
        with pytest.raises(openai.AuthenticationError) as denied:
            client(locked_url, wrong or "none").chat.completions.create(model="paperchat", messages=messages)
        assert "key-one-7f3a" not in str(denied.value.body)
    with pytest.raises(openai.AuthenticationError):
        client(locked_url, "nope").models.list()
    for key in ("key-one-7f3a", "key-two-91bc", LOGIN):  # each API key, and the web login as a key
        done = client(locked_url, key).chat.completions.create(model="paperchat", messages=messages)
        assert extra(done)["refused"] is False
    basic = base64.b64encode(LOGIN.encode()).decode()
    response = httpx.get(f"{locked_url}v1/models", headers={"Authorization": f"Basic {basic}"}, timeout=60)
    assert response.status_code == 200
    response = httpx.get(f"{locked_url}v1/models", timeout=60)
    assert response.status_code == 401 and response.headers["www-authenticate"] == "Bearer"
    assert response.json()["error"]["code"] == "invalid_api_key"
    # the chat itself still asks for its login
    assert httpx.get(f"{locked_url}config", timeout=60).status_code == 401


def test_a_long_chat_keeps_going(api_url: str, answered: tuple[str, Answer]) -> None:
    """60 earlier turns (over the request model's 50) and a pasted essay early on: the last turns carry it."""
    question, first = answered
    reply = reply_text(first)
    messages = [{"role": "user", "content": "essay " * 3000}, {"role": "assistant", "content": NOT_IN_CORPUS}]
    messages += [{"role": "user", "content": OFF_CORPUS}, {"role": "assistant", "content": NOT_IN_CORPUS}] * 58
    messages += [{"role": "user", "content": question}, {"role": "assistant", "content": reply}]
    messages.append({"role": "user", "content": "What datasets did they evaluate it on?"})
    done = client(api_url).chat.completions.create(model="paperchat", messages=messages)
    assert first.citations[0].title in extra(done)["standalone_question"]


def test_20_concurrent_clients_get_the_single_client_replies(api_url: str, pipeline, dev_questions) -> None:
    """Bounded load: 20 threads, each its own SDK client, 3 questions each (plain and streamed), 120 s at most."""
    questions = [q["question"] for q in dev_questions][:20]
    expected = {q: reply_text(pipeline.ask(q)) for q in questions}
    deadline = time.monotonic() + 120

    def one_client(index: int) -> list[str]:
        api, wrong = client(api_url), []
        for i in range(3):
            assert time.monotonic() < deadline, "the load test ran out of time"
            q = questions[(index + i) % len(questions)]
            if i % 2:
                got = "".join(
                    c.choices[0].delta.content or ""
                    for c in api.chat.completions.create(
                        model="paperchat", messages=[{"role": "user", "content": q}], stream=True
                    )
                )
            else:
                done = api.chat.completions.create(model="paperchat", messages=[{"role": "user", "content": q}])
                got = done.choices[0].message.content or ""
            if got != expected[q]:
                wrong.append(q)
        return wrong

    with ThreadPoolExecutor(max_workers=20) as pool:
        wrong = [q for result in pool.map(one_client, range(20)) for q in result]
    assert not wrong, f"{len(wrong)} of 60 replies differ under load, e.g. {wrong[:2]}"


@pytest.fixture(scope="module")
def llama(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """llama.cpp's server with the gemma 270M GGUF (tests/llm_server.py), as tests/system/test_llm.py runs it."""
    from tests.system.test_llm import LlamaServer

    server = LlamaServer(tmp_path_factory.mktemp("llm") / "server.log")
    try:
        yield server
    finally:
        server.stop()


@pytest.mark.llm
def test_llm_mode_streams_a_checked_reply(pipeline, llama) -> None:
    """With an LLM endpoint (the real llama.cpp server): the reply is checked, its key never shown."""
    from tests.system.test_llm import KEY, QUESTION, llm_pipeline

    llm = llm_pipeline(pipeline, llama.base_url)
    app, url = launch_app(llm)
    try:
        chunks = list(
            client(url).chat.completions.create(
                model="paperchat",
                messages=[{"role": "user", "content": QUESTION}],
                stream=True,
                extra_body={"paperchat": {"mode": "llm"}},
            )
        )
    finally:
        app.close()
    text = "".join(c.choices[0].delta.content or "" for c in chunks)
    record = extra(chunks[-1])
    assert record["mode"] == "llm" or "language model" in record["notice"]  # a checked answer or a said fallback
    numbers = {s["n"] for s in record["sources"]}
    assert {int(n) for n in re.findall(r"\[(\d+)\]", text.split("\n\nSources:\n")[0])} <= numbers
    cited = {c["n"]: c["title"] for c in record["citations"]}
    if cited:
        assert text.endswith("\n".join(f"- [{n}] {escape_markdown(t)}" for n, t in sorted(cited.items())))
    assert KEY not in text and KEY not in json.dumps(record)


def test_no_index_yet_is_a_503_that_says_what_to_run(tmp_path, model_cache) -> None:
    from rag.ui import build_app, launch
    from tests.conftest import make_settings
    from tests.helpers import free_port

    settings = make_settings(tmp_path / "empty", model_cache)
    app, port = build_app(settings=settings), free_port()
    launch(app, settings, host="127.0.0.1", port=port, block=False, quiet=True)
    try:
        api = client(f"http://127.0.0.1:{port}/")
        assert [m.id for m in api.models.list().data] == ["paperchat"]
        with pytest.raises(openai.InternalServerError) as down:
            api.chat.completions.create(model="paperchat", messages=[{"role": "user", "content": "hi"}])
    finally:
        app.close()
    assert down.value.status_code == 503
    assert "rag ingest" in down.value.message and down.value.code == "index_not_ready"
