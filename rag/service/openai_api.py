"""The OpenAI chat API over the Pipeline: `GET /v1/models`, `POST /v1/chat/completions` (plain and SSE).

So Open WebUI, LibreChat or any OpenAI SDK can talk to paperchat as the model `paperchat`.
The whole `messages` list is the conversation: each earlier user message is a turn whose
papers are read back from the assistant reply after it (`Sources:` list, see `reply`), so a
follow-up resolves as it does in the chat. The reply is `reply.reply_text(answer)`; the full
answer record (`rag.models.answer_record`) rides along in the extra field `paperchat` of the
response and of the last stream chunk. A refusal is an ordinary reply.

Errors are OpenAI-shaped (`{"error": {"message", "type", "param", "code"}}`): 400 for bad
input, 401 for a missing or wrong key, 404 for an unknown model, 413 for an oversized body,
503 while the index is not built. The router is pure FastAPI: the web app serves it beside
the Gradio chat (`rag.ui.app.launch`), and it answers through the same Pipeline.

Streaming: the text is sent once the answer's citations are checked, so a client never shows a
`[n]` that the checker would remove; with an LLM the first words therefore arrive when its
generation ends (the role chunk goes out at once).
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import logging
import re
import time
import uuid
from collections.abc import AsyncIterator, Callable
from functools import partial
from typing import Any, Literal, TypeVar

import anyio
import anyio.to_thread
from fastapi import APIRouter, Request
from fastapi.responses import Response, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from rag.config import MAX_TOP_K, MIN_TOP_K, Settings
from rag.index import PaperIndexError
from rag.models import Answer, AskRequest, answer_record
from rag.pipeline import InvalidQuestion, Pipeline
from rag.service.papers import Catalogue, catalogue
from rag.service.reply import reply_text
from rag.service.validation import recent, validate_ask

log = logging.getLogger(__name__)

MODEL = "paperchat"
MAX_BODY_BYTES = 4 * 1024 * 1024  # a long conversation is a few hundred kB; more is not a chat
WORDS_PER_CHUNK = 8
TYPE_TAGS = {"str", "int", "bool", "float", "none", "list", "dict"}
T = TypeVar("T")


# -- request ---------------------------------------------------------------------------------
class _Request(BaseModel):
    # strict: `"stream": "yes"` or a number as content is a wrong type, not something to guess at
    model_config = ConfigDict(strict=True, extra="allow")


class ContentPart(_Request):
    type: str
    text: str | None = None


class ChatMessage(_Request):
    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: str | list[ContentPart] | None = None


class PaperchatOptions(_Request):
    """`paperchat` in the request body (the OpenAI SDK's `extra_body`): paperchat's own knobs."""

    model_config = ConfigDict(strict=True, extra="forbid")
    k: int | None = Field(None, ge=MIN_TOP_K, le=MAX_TOP_K)
    mode: Literal["auto", "extractive", "llm"] = "auto"


class ChatRequest(_Request):
    """The fields paperchat reads; the rest (temperature, top_p, user, ...) are accepted and ignored."""

    model: str
    messages: list[ChatMessage]
    stream: bool = False
    paperchat: PaperchatOptions | None = None


class APIError(Exception):
    """An OpenAI-style error response."""

    def __init__(
        self, status: int, message: str, param: str | None = None, code: str | None = None, kind: str = ""
    ) -> None:
        super().__init__(message)
        self.status, self.message, self.param, self.code = status, message, param, code
        self.kind = kind or ("invalid_request_error" if status < 500 else "server_error")

    def response(self) -> Response:
        body = {"error": {"message": self.message, "type": self.kind, "param": self.param, "code": self.code}}
        headers = {"WWW-Authenticate": "Bearer"} if self.status == 401 else None
        return _json(body, self.status, headers)


def unknown_model(model: str) -> APIError:
    return APIError(404, f"The model {model!r} does not exist; use {MODEL!r}", "model", "model_not_found")


def _json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(json.dumps(body, ensure_ascii=False), status, headers, media_type="application/json")


def parse_request(raw: bytes) -> ChatRequest:
    """The body as a ChatRequest, or a 400 naming the first field that is wrong."""
    try:
        return ChatRequest.model_validate_json(raw)
    except ValidationError as exc:
        error = exc.errors()[0]
        path = []
        for part in error["loc"]:  # `messages.0.content`, not pydantic's union tag `...content.str`
            if isinstance(part, str) and (part in TYPE_TAGS or "[" in part):
                break
            path.append(str(part))
        param = ".".join(path) or None
        where = f"{param}: " if param else ""
        raise APIError(400, f"{where}{error['msg']}", param, error["type"]) from None


def message_text(message: ChatMessage, index: int) -> str:
    """A message's text: a string, or the text parts of a content list."""
    if isinstance(message.content, str):
        return message.content
    if message.content is None:
        if message.role == "user":
            raise APIError(400, "a user message needs content", f"messages.{index}.content", "missing")
        return ""
    texts = []
    for part in message.content:
        if part.type != "text" or part.text is None:
            raise APIError(
                400, f"only text content is supported (got {part.type!r})", f"messages.{index}.content", "invalid_type"
            )
        texts.append(part.text)
    return "\n".join(texts)


def conversation(messages: list[ChatMessage], papers: Catalogue) -> tuple[str, list[dict[str, Any]]]:
    """(question, history): the last message is the question, earlier user/assistant pairs the turns.

    System and developer messages say nothing paperchat uses and are skipped; an assistant
    reply's papers come from its `Sources:` list or, when a client echoes it, its `paperchat` record.
    """
    if not messages:
        hint = "messages must not be empty: send the conversation, the question last"
        raise APIError(400, hint, "messages", "empty_array")
    if messages[-1].role != "user":
        raise APIError(
            400,
            f"the last message must be from the user (got {messages[-1].role!r})",
            f"messages.{len(messages) - 1}.role",
            "invalid_value",
        )
    turns: list[dict[str, Any]] = []
    pending: str | None = None
    for index, message in enumerate(messages[:-1]):
        if message.role == "user":
            if pending is not None:  # a question nobody answered: a turn that cited nothing
                turns.append(papers.turn(pending))
            pending = message_text(message, index)
        elif message.role == "assistant" and pending is not None:
            record = (message.model_extra or {}).get("paperchat")
            cited = record.get("citations") if isinstance(record, dict) else None
            if isinstance(cited, list):
                ids = [c.get("paper_id", "") for c in cited if isinstance(c, dict)]
                turns.append(papers.turn(pending, paper_ids=[i for i in ids if isinstance(i, str)]))
            else:
                turns.append(papers.turn_from_reply(pending, message_text(message, index)))
            pending = None
    if pending is not None:
        turns.append(papers.turn(pending))
    return message_text(messages[-1], len(messages) - 1), turns


# -- login -----------------------------------------------------------------------------------
def _secret(value: Any) -> str:
    if value is None:
        return ""
    return str(value.get_secret_value() if hasattr(value, "get_secret_value") else value)


class Keys:
    """Who may call /v1: a bearer key of RAG_API_KEYS, or the web login (RAG_AUTH) as key or Basic auth.

    Neither set: the API is as open as the chat (which binds to loopback unless told otherwise).
    """

    def __init__(self, settings: Settings) -> None:
        keys = [k.strip() for k in _secret(getattr(settings, "api_keys", None)).split(",")]
        login = _secret(settings.auth)
        self._secrets = [s.encode() for s in [*keys, login] if s]

    @property
    def required(self) -> bool:
        return bool(self._secrets)

    def allows(self, authorization: str | None) -> bool:
        if not self._secrets:
            return True
        scheme, _, credential = (authorization or "").strip().partition(" ")
        credential = credential.strip()
        if scheme.lower() == "basic":
            try:
                credential = base64.b64decode(credential, validate=True).decode("utf-8")
            except (binascii.Error, UnicodeDecodeError):
                return False
        elif scheme.lower() != "bearer":
            return False
        given = credential.encode()
        # every secret is compared (in constant time each), so timing does not say which one is near
        return any([hmac.compare_digest(given, secret) for secret in self._secrets])


# -- the router ------------------------------------------------------------------------------
def completion_id() -> str:
    return f"chatcmpl-{uuid.uuid4().hex}"


def chunks_of(text: str) -> list[str]:
    """The reply in a few word groups (whitespace kept), so the stream joins back to the reply exactly."""
    words = re.findall(r"\s*\S+", text) or [text]
    return ["".join(words[i : i + WORDS_PER_CHUNK]) for i in range(0, len(words), WORDS_PER_CHUNK)]


def completion(answer: Answer, ident: str, created: int) -> dict[str, Any]:
    return {
        "id": ident,
        "object": "chat.completion",
        "created": created,
        "model": MODEL,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": reply_text(answer)},
                "finish_reason": "stop",
                "logprobs": None,
            }
        ],
        "paperchat": answer_record(answer),
    }


def _chunk(ident: str, created: int, delta: dict[str, Any], finish: str | None = None, **extra: Any) -> str:
    body = {
        "id": ident,
        "object": "chat.completion.chunk",
        "created": created,
        "model": MODEL,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}],
        **extra,
    }
    return f"data: {json.dumps(body, ensure_ascii=False)}\n\n"


def router(get_pipeline: Callable[[], Pipeline], settings: Settings) -> APIRouter:
    """The /v1 routes over the pipeline `get_pipeline` returns (it may raise `PaperIndexError`)."""
    api = APIRouter(prefix="/v1")
    keys = Keys(settings)
    created = int(time.time())
    limiter: list[anyio.CapacityLimiter] = []  # made on first use: it needs the server's event loop

    async def in_thread(fn: Callable[..., T], *args: Any) -> T:
        """Blocking pipeline work off the event loop, at most `settings.concurrency` at once (as the chat)."""
        if not limiter:
            limiter.append(anyio.CapacityLimiter(max(1, settings.concurrency)))
        return await anyio.to_thread.run_sync(partial(fn, *args), limiter=limiter[0])

    def denied(request: Request) -> Response | None:
        if keys.allows(request.headers.get("authorization")):
            return None
        message = "a valid API key is required: send `Authorization: Bearer <key>` (RAG_API_KEYS or the RAG_AUTH login)"
        return APIError(401, message, code="invalid_api_key").response()

    def model_card() -> dict[str, Any]:
        return {"id": MODEL, "object": "model", "created": created, "owned_by": "paperchat"}

    @api.get("/models")
    async def list_models(request: Request) -> Response:
        return denied(request) or _json({"object": "list", "data": [model_card()]})

    @api.get("/models/{model}")
    async def get_model(model: str, request: Request) -> Response:
        if refused := denied(request):
            return refused
        if model != MODEL:
            return unknown_model(model).response()
        return _json(model_card())

    @api.post("/chat/completions")
    async def chat_completions(request: Request) -> Response:
        if refused := denied(request):
            return refused
        try:
            return await _complete(request)
        except APIError as exc:
            return exc.response()
        except Exception:  # the reason goes to the log only: it may name a key or a path
            log.exception("answering a chat completion failed")
            return APIError(500, "answering failed; see the server log").response()

    async def _complete(request: Request) -> Response:
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
            raise APIError(413, f"the request body is over {MAX_BODY_BYTES:,} bytes", code="request_too_large")
        raw = b""
        async for piece in request.stream():
            raw += piece
            if len(raw) > MAX_BODY_BYTES:
                raise APIError(413, f"the request body is over {MAX_BODY_BYTES:,} bytes", code="request_too_large")
        body = parse_request(raw)
        if body.model != MODEL:
            raise unknown_model(body.model)
        try:
            pipeline = await in_thread(get_pipeline)
        except PaperIndexError as exc:
            raise APIError(503, f"The paper index is not ready: {exc}", code="index_not_ready") from None
        question, history = conversation(body.messages, catalogue(pipeline))
        options = body.paperchat or PaperchatOptions()
        try:
            args = validate_ask(question, settings, k=options.k, mode=options.mode, history=recent(history, settings))
        except InvalidQuestion as exc:
            raise APIError(400, str(exc), f"messages.{len(body.messages) - 1}.content", "invalid_value") from None
        ident, now = completion_id(), int(time.time())
        if not body.stream:
            answer = await in_thread(_ask, pipeline, args)
            return _json(completion(answer, ident, now))
        events = pipeline.stream(args.question, k=args.k, mode=args.mode, history=args.history or None)
        first = await in_thread(_first, events)  # input the pipeline refuses fails here, before the 200
        headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
        return StreamingResponse(_sse(events, first, ident, now), media_type="text/event-stream", headers=headers)

    async def _sse(events: Any, first: Any, ident: str, now: int) -> AsyncIterator[str]:
        yield _chunk(ident, now, {"role": "assistant", "content": ""})
        answer = first.answer if first.kind == "answer" else None
        try:
            while answer is None:
                event = await in_thread(next, events, None)
                if event is None:
                    raise RuntimeError("the pipeline ended without an answer")
                if event.kind == "answer":
                    answer = event.answer
        except Exception:  # the reason goes to the log, never to the client (it may name a key or a path)
            log.exception("answering a streamed chat completion failed")
            error = {"message": "answering failed; see the server log", "type": "server_error", "code": None}
            yield f"data: {json.dumps({'error': error})}\n\n"
            yield "data: [DONE]\n\n"
            return
        for piece in chunks_of(reply_text(answer)):
            yield _chunk(ident, now, {"content": piece})
        yield _chunk(ident, now, {}, "stop", paperchat=answer_record(answer))
        yield "data: [DONE]\n\n"

    return api


def _ask(pipeline: Pipeline, args: AskRequest) -> Answer:
    try:
        return pipeline.ask(args.question, k=args.k, mode=args.mode, history=args.history or None)
    except InvalidQuestion as exc:
        raise APIError(400, str(exc), "messages", "invalid_value") from None


def _first(events: Any) -> Any:
    try:
        return next(events)
    except InvalidQuestion as exc:
        raise APIError(400, str(exc), "messages", "invalid_value") from None
