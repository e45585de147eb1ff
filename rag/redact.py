"""Secret-safe logging: the HTTP clients log request URLs, and a URL may carry `user:password@`.

Below every LLM step (answer, query rewrite, eval) so each can install the filter without importing another.
"""

from __future__ import annotations

import logging
import re

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
