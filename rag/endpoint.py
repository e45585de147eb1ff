"""The OpenAI-compatible endpoint as every LLM step talks to it and names it, secrets kept in.

The answer and the query rewrite open a client on `Settings.llm_base_url` and name
its host in notices; the URL may carry `user:password@` and the HTTP clients log request URLs.
This is the one place that unwraps the secrets for the client, installs the log filter, and
gives the host as it may be shown (eval installs the filter too). Below every LLM step, so none
imports another for it.
"""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

if TYPE_CHECKING:
    import openai

    from rag.config import Settings

USERINFO = re.compile(r"(\b[a-z][a-z0-9+.-]*://)[^/@\s]+@", re.IGNORECASE)
HTTP_LOGGERS = ("httpx", "httpx2", "httpcore", "openai")  # they log request URLs, user:password@ included


class _RedactUserinfo(logging.Filter):
    """Rewrites `scheme://user:password@host` to `scheme://***@host` in a log record (`rag -v` prints them)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "@" in message:
            record.msg, record.args = USERINFO.sub(r"\1***@", message), ()
        return True


_REDACT = _RedactUserinfo()


def redact_http_logs() -> None:
    """Install the filter on the HTTP clients' loggers (idempotent: a filter is added once)."""
    for name in HTTP_LOGGERS:
        logger = logging.getLogger(name)
        if _REDACT not in logger.filters:
            logger.addFilter(_REDACT)


def endpoint_host(settings: Settings) -> str:
    """The LLM endpoint's host:port as a notice may name it: never `user:password@`."""
    url = settings.llm_base_url.get_secret_value() if settings.llm_base_url else "https://api.openai.com"
    return urlsplit(url).netloc.rpartition("@")[2] or "the endpoint"


def open_client(settings: Settings, timeout: float, max_retries: int) -> openai.OpenAI:
    """An `openai.OpenAI` client on the configured endpoint (a local server needs no key), logs redacted."""
    import openai  # lazy: the extractive path never pays for it

    redact_http_logs()
    return openai.OpenAI(
        base_url=settings.llm_base_url.get_secret_value() if settings.llm_base_url else None,
        api_key=settings.openai_api_key.get_secret_value() if settings.openai_api_key else "not-needed",
        timeout=timeout,
        max_retries=max_retries,
    )
