"""A scripted OpenAI-compatible endpoint on loopback: fixed replies, streamed as the real API streams.

For the LLM-path logic (reply checks, echo and refusal detection, fallbacks), whose outcome
must not depend on what a small real model happens to say. Serves `/v1/models`,
`/v1/chat/completions` and `/v1/completions`, with SSE streaming when the request asks
for it; `reply` is the text every completion says, `fault` an HTTP failure instead.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

FAULTS: dict[str, tuple[bytes, int, str]] = {
    "429": (b'{"error": {"message": "Rate limit reached", "type": "requests"}}', 429, "application/json"),
    "500": (b'{"error": {"message": "internal error"}}', 500, "application/json"),
    "garbage-sse": (b"data: {this is not json\n\n", 200, "text/event-stream"),
    "garbage-html": (b"<html><body>502 Bad Gateway</body></html>", 200, "text/html"),
    # an error whose message is markup that would load an image if shown as HTML (issue 21)
    "502-html": (
        b'{"error": {"message": "<img src=\\"http://evil.example/toast.png\\"><b>Bad Gateway</b>"}}',
        502,
        "application/json",
    ),
}


class ScriptedHandler(BaseHTTPRequestHandler):
    reply = ""
    fault = ""  # a key of FAULTS, "401" (rejects the key it was sent, naming it as OpenAI does) or "hang"
    requests: list[dict[str, Any]] = []  # noqa: RUF012 (a fresh list per server, set in `scripted_server`)
    release = threading.Event()  # ends a "hang" (set when the server stops)

    def log_message(self, *args: object) -> None:  # quiet
        pass

    def do_GET(self) -> None:
        self._send(json.dumps({"object": "list", "data": [{"id": "fake", "object": "model"}]}).encode())

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers.get("content-length") or 0)) or b"{}")
        self.requests.append({"path": self.path, "body": body, "auth": self.headers.get("authorization", "")})
        if self.fault == "hang":
            self.release.wait(30)
            return
        if self.fault == "401":
            key = (self.headers.get("authorization") or "").removeprefix("Bearer ")
            self._send(json.dumps({"error": {"message": f"Incorrect API key provided: {key}."}}).encode(), 401)
            return
        if self.fault:
            payload, status, ctype = FAULTS[self.fault]
            self._send(payload, status, ctype)
            return
        chat = self.path.endswith("/chat/completions")
        if body.get("stream"):
            self._send(sse(self.reply, chat), ctype="text/event-stream")
        else:
            self._send(json.dumps(whole(self.reply, chat)).encode())

    def _send(self, payload: bytes, status: int = 200, ctype: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("content-type", ctype)
        self.send_header("content-length", str(len(payload)))
        if status == 429:
            self.send_header("retry-after", "0")
        self.end_headers()
        self.wfile.write(payload)


def _choice(text: str, chat: bool, stream: bool) -> dict[str, Any]:
    if chat:
        key = "delta" if stream else "message"
        return {"index": 0, key: {"role": "assistant", "content": text}, "finish_reason": None if stream else "stop"}
    return {"index": 0, "text": text, "finish_reason": None if stream else "stop"}


def whole(text: str, chat: bool) -> dict[str, Any]:
    kind = "chat.completion" if chat else "text_completion"
    return {"id": "x", "object": kind, "created": 0, "model": "fake", "choices": [_choice(text, chat, False)]}


def sse(text: str, chat: bool) -> bytes:
    """`text` in a few streamed pieces, then [DONE]."""
    kind = "chat.completion.chunk" if chat else "text_completion"
    words = text.split(" ")
    pieces = [" ".join(words[i : i + 4]) + (" " if i + 4 < len(words) else "") for i in range(0, len(words), 4)]
    events = [
        {"id": "x", "object": kind, "created": 0, "model": "fake", "choices": [_choice(piece, chat, True)]}
        for piece in pieces
    ]
    return "".join(f"data: {json.dumps(e)}\n\n" for e in events).encode() + b"data: [DONE]\n\n"


@contextmanager
def scripted_server(reply: str = "", fault: str = "") -> Iterator[tuple[str, type[ScriptedHandler]]]:
    """(base URL ending in /v1, the handler class with its `requests` log), stopped on exit."""
    attrs = {"reply": reply, "fault": fault, "requests": [], "release": threading.Event()}
    handler = type("Handler", (ScriptedHandler,), attrs)
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1", handler
    finally:
        handler.release.set()
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
