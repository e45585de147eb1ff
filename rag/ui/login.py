"""Per-client back-off for the web app's login: repeated wrong passwords from one address are refused for a while.

Gradio checks the password itself (`POST /login`) and tells its auth check nothing about the
caller, so this is an ASGI middleware in front of that route: it counts failed logins (HTTP 400)
per client address; past `free` failures in a row, that address is refused with HTTP 429 for
`first` seconds, doubling per further failure up to `longest`. A success clears the count.
Behind a reverse proxy every client shares the proxy's address: then the proxy should limit.
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

MAX_CLIENTS = 10_000  # addresses remembered at once; the oldest are forgotten past it


@dataclass
class _Record:
    failures: int = 0
    locked_until: float = 0.0
    last: float = 0.0


class FailedLogins:
    """Failed-login counts per client address, and how long each must wait. `clock` is injectable for tests."""

    def __init__(
        self, free: int = 3, first: float = 1.0, longest: float = 30.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.free, self.first, self.longest, self.clock = free, first, longest, clock
        self._records: dict[str, _Record] = {}
        self._lock = threading.Lock()

    def wait(self, client: str) -> float:
        """Seconds `client` must still wait before its next attempt (0: go ahead)."""
        with self._lock:
            record = self._records.get(client)
            return max(0.0, record.locked_until - self.clock()) if record else 0.0

    def failed(self, client: str) -> None:
        with self._lock:
            now = self.clock()
            record = self._records.pop(client, None) or _Record()
            if now - record.last > self.longest * 4:  # a failure long ago does not count against a new try
                record.failures = 0
            record.failures += 1
            record.last = now
            if record.failures > self.free:
                record.locked_until = now + min(self.longest, self.first * 2 ** (record.failures - self.free - 1))
            self._records[client] = record  # re-inserted: dict order is oldest-first
            while len(self._records) > MAX_CLIENTS:
                del self._records[next(iter(self._records))]

    def succeeded(self, client: str) -> None:
        with self._lock:
            self._records.pop(client, None)


class LoginBackoff:
    """ASGI middleware: refuse `POST /login` with HTTP 429 while the client is backing off; count its outcomes."""

    def __init__(self, app: ASGIApp, logins: FailedLogins) -> None:
        self.app, self.logins = app, logins

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"].rstrip("/") != "/login":
            await self.app(scope, receive, send)
            return
        client = str((scope.get("client") or ("unknown",))[0])
        wait = self.logins.wait(client)
        if wait > 0:
            await _refuse(send, wait)
            return
        status: list[int] = []

        async def watch(message: Message) -> None:
            if message["type"] == "http.response.start":
                status.append(int(message["status"]))
            await send(message)

        await self.app(scope, receive, watch)
        if status and status[0] == 400:
            self.logins.failed(client)
        elif status and status[0] < 300:
            self.logins.succeeded(client)


async def _refuse(send: Send, wait: float) -> None:
    seconds = max(1, math.ceil(wait))
    body = json.dumps({"detail": f"Too many failed logins from this address; try again in {seconds} s."}).encode()
    headers = [(b"content-type", b"application/json"), (b"retry-after", str(seconds).encode()),
               (b"content-length", str(len(body)).encode())]  # fmt: skip
    await send({"type": "http.response.start", "status": 429, "headers": headers})
    await send({"type": "http.response.body", "body": body})
