"""Opt-in query rewrite (HyDE / query2doc): the passage an abstract answering the question would contain.

A half-remembered question ("a retriever that squeezes document vectors into cluster codes")
is worded unlike the abstract it wants. With `query_rewrite` on and an LLM configured, the
model writes what that abstract would say (prompts/rewrite.txt); `rag.search` searches the
passage beside the question and `fuse_with_passage` adds its rankings to the question's in
the same softmax fusion (`rag.retrieve.fuse`). The passage is a search text and nothing
more: what the question names, and whether the papers answer it at all, are read from the
question alone, so a passage the model made up cannot name a paper or turn a refusal into
an answer.

Any failure (endpoint down, timeout, an empty, echoed or unreadable reply) gives a
`QueryRewrite` that says why it was skipped, logged in one line, and the question is searched
alone. Passages are cached per question text (temperature 0: the same question, the same passage).
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections import OrderedDict
from typing import TYPE_CHECKING, Any

from rag.endpoint import endpoint_host, open_client
from rag.models import PaperHit, QueryRewrite
from rag.prompts import PromptError, Prompts
from rag.retrieve import SIGNALS, fuse, signal_weights

if TYPE_CHECKING:
    from rag.config import Settings

log = logging.getLogger(__name__)

SUFFIX = "_rewrite"  # the passage's rankings: "dense_rewrite", "bm25_rewrite", "paper_dense_rewrite"
CACHE_SIZE = 512  # questions whose passage is kept
MIN_WORDS = 6  # a shorter reply is no passage ("Yes.", "I cannot help")
MAX_CHARS = 1200  # a reply that runs on is cut here, at a word
LABEL = re.compile(r"^\s*(?:passage|abstract|answer)\s*:\s*", re.IGNORECASE)


class UnusableRewrite(ValueError):
    """The model replied, but not with a passage; the message says what it sent instead."""


class QueryRewriter:
    """Asks an OpenAI-compatible endpoint for the passage; thread-safe, never raises from `rewrite`."""

    def __init__(self, settings: Settings, prompts: Prompts | None = None) -> None:
        self.settings = settings
        self._prompts = prompts
        self._client: Any = None
        self._cache: OrderedDict[str, str] = OrderedDict()
        self._lock = threading.Lock()

    def rewrite(self, question: str) -> QueryRewrite:
        """The passage for `question` (cached), or a record of why there is none."""
        with self._lock:
            passage = self._cache.get(question)
            if passage is not None:
                self._cache.move_to_end(question)
                return QueryRewrite(passage=passage, cached=True)
        started = time.perf_counter()
        try:
            passage = self.passage(self.ask(question), question)
        except Exception as exc:  # the same rule as every LLM step: never fail the question, say why
            reason = self.reason(exc)
            log.warning("query rewrite skipped, searching the question alone: %s", reason)
            return QueryRewrite(skipped=reason, ms=round((time.perf_counter() - started) * 1e3, 3))
        with self._lock:
            self._cache[question] = passage
            while len(self._cache) > CACHE_SIZE:
                self._cache.popitem(last=False)
        return QueryRewrite(passage=passage, ms=round((time.perf_counter() - started) * 1e3, 3))

    def ask(self, question: str) -> str:
        """The model's raw reply to the rewrite prompt (one short call, no streaming, no retry)."""
        if self._prompts is None:
            self._prompts = Prompts.load(self.settings.prompts_dir)
        prompt = self._prompts.render_rewrite(question)
        s = self.settings
        common: dict[str, Any] = {"model": s.llm_model, "max_tokens": s.query_rewrite_max_tokens, "temperature": 0.0}
        client = self.client()
        if s.llm_api == "completions":
            reply = client.completions.create(prompt=prompt, stop=["\n\n", "\nQuestion:"], **common)
            return reply.choices[0].text or ""
        messages: list[Any] = [{"role": "user", "content": prompt}]
        return client.chat.completions.create(messages=messages, **common).choices[0].message.content or ""

    def client(self) -> Any:
        """The OpenAI client, built on first use: the rewrite's own timeout and no retries (the user waits)."""
        if self._client is None:
            self._client = open_client(self.settings, self.settings.query_rewrite_timeout, max_retries=0)
        return self._client

    def passage(self, reply: str, question: str) -> str:
        """The reply as one passage, or `UnusableRewrite` when it is none."""
        text = " ".join(LABEL.sub("", reply.strip()).split()).strip(" \"'")
        if len(text) > MAX_CHARS:
            text = text[:MAX_CHARS].rsplit(" ", 1)[0]
        assert self._prompts is not None  # loaded by `ask`
        template = [line.strip() for line in self._prompts.rewrite.splitlines() if len(line.strip()) >= 30]
        if not text:
            raise UnusableRewrite("the model returned an empty reply")
        if re.search(r"<\s*/?\s*source\b|\{question\}", text, re.IGNORECASE) or any(
            line in text for line in template if "{" not in line
        ):
            raise UnusableRewrite("the model repeated its instructions")
        if len(text.split()) < MIN_WORDS:
            raise UnusableRewrite(f"the reply {shorten(text)!r} is no passage")
        if _words(text) <= _words(question):
            raise UnusableRewrite("the model repeated the question")
        return text

    def reason(self, exc: BaseException) -> str:
        """Why the rewrite failed, for the log and the record; never an exception's message (it can hold the key)."""
        import openai

        s = self.settings
        host = endpoint_host(s)
        if isinstance(exc, UnusableRewrite | PromptError):  # their messages name a file or the reply, no secret
            return str(exc)
        if isinstance(exc, openai.APITimeoutError | TimeoutError):
            return f"no reply from {host} within {s.query_rewrite_timeout:g} s"
        if isinstance(exc, openai.APIConnectionError):
            return f"cannot connect to {host}"
        if isinstance(exc, openai.APIStatusError):
            return f"{host} answered HTTP {exc.status_code}"
        if isinstance(exc, openai.APIError | ValueError | AttributeError | TypeError | IndexError):
            return f"{host} sent an unreadable reply"
        return f"{type(exc).__name__} while asking {host}"


def fuse_with_passage(
    rankings: dict[str, list[tuple[int, float]]],
    passage_rankings: dict[str, list[tuple[int, float]]],
    paper_of: list[str],
    settings: Settings,
    named: list[str] | tuple[str, ...],
    first_chunk: dict[str, int],
) -> list[PaperHit]:
    """The question's and the passage's rankings in one `rag.retrieve.fuse`.

    Each passage ranking weighs `query_rewrite_weight` times the question's ranking of the same
    retriever, at the same temperature; the name bonus goes to what the question names only.
    """
    weights, temperatures = signal_weights(settings)
    for name, w, t in SIGNALS:
        weights[name + SUFFIX] = getattr(settings, w) * settings.query_rewrite_weight
        temperatures[name + SUFFIX] = getattr(settings, t)
    both = {**rankings, **{name + SUFFIX: ranking for name, ranking in passage_rankings.items()}}
    return fuse(both, paper_of, weights, temperatures, named, settings.name_bonus, first_chunk)


def _words(text: str) -> set[str]:
    return set(re.findall(r"\w+", text.lower()))


def shorten(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
