"""Generated answers through any OpenAI-compatible endpoint (OpenAI, vLLM, llama.cpp's server, Ollama).

Prompts come from `prompts/` (shipped in the wheel as `rag/prompts_data/`); replies are checked (an echoed prompt, the
refusal sentence, citations with no text) and the pipeline falls back to the extractive
answerer, with a notice, whenever the model fails or its reply is unusable.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from rag.answer.citations import CITATION
from rag.endpoint import endpoint_host, open_client
from rag.models import Source
from rag.prompts import Prompts

if TYPE_CHECKING:
    from rag.config import Settings

log = logging.getLogger(__name__)

KEY_LIKE = re.compile(r"\b(sk|pk|rk|key)-[A-Za-z0-9_\-]{6,}")
FALLBACK = "showing quotes from the papers instead."
LOW_CONFIDENCE = "The papers may not answer this directly: these are the closest matches I found."


class LLMDeadlineExceeded(TimeoutError):
    """The whole answer took longer than `llm_timeout` (the client's timeout is per read)."""


def _normalise(text: str) -> str:
    text = CITATION.sub("", text).lower()
    return " ".join(re.sub(r"[^\w\s]", " ", text).split())


class LLMAnswerer:
    """Streams an answer from an OpenAI-compatible chat endpoint; sources are fenced as data.

    The client's timeout and retries are set explicitly (its defaults are 600 s and 2
    retries); a wall-clock deadline of `llm_timeout` also bounds a slow trickle of tokens.
    """

    mode = "llm"

    def __init__(self, settings: Settings, prompts: Prompts | None = None) -> None:
        self.settings = settings
        self.prompts = prompts or Prompts.load(settings.prompts_dir)
        key = settings.openai_api_key.get_secret_value() if settings.openai_api_key else ""
        base_url = settings.llm_base_url.get_secret_value() if settings.llm_base_url else None
        userinfo = urlsplit(base_url or "").netloc.rpartition("@")[0]
        self._secrets = [s for s in (key, userinfo, userinfo.partition(":")[2]) if s]  # never shown or logged
        self.client = open_client(settings, settings.llm_timeout, settings.llm_max_retries)

    def messages(self, question: str, sources: list[Source], plan: Any = None) -> list[dict[str, str]]:
        """The chat turns: system rules, then the fenced sources and the question.

        With a plan (`rag.answer.plan`), only the papers it chose are given, and the turn says the
        question's form (a set question asks for one item per paper).
        """
        system = self.prompts.render_system()
        if plan is not None and plan.chosen:
            chosen = [c.source for c in sorted(plan.chosen, key=lambda c: c.source.n)]
            user = self.prompts.render_form(question, chosen, plan.layout, self.settings.llm_abstract_chars)
        else:
            user = self.prompts.render_question(question, sources, self.settings.llm_abstract_chars)
        if self.settings.llm_system_in_user:
            return [{"role": "user", "content": f"{system}\n\n{user}"}]
        return [{"role": "system", "content": system}, {"role": "user", "content": user}]

    def stream(self, question: str, sources: list[Source], plan: Any = None) -> Iterator[str]:
        """Yield the answer's text deltas as the endpoint streams them (`plan`: see `messages`)."""
        deadline = time.monotonic() + self.settings.llm_timeout
        common: dict[str, Any] = {
            "model": self.settings.llm_model,
            "max_tokens": self.settings.llm_max_tokens,
            "temperature": self.settings.llm_temperature,
            "stream": True,
        }
        if self.settings.llm_api == "completions":
            given = (
                [c.source for c in sorted(plan.chosen, key=lambda c: c.source.n)] if plan and plan.chosen else sources
            )
            prompt = self.prompts.render_completion(question, given, self.settings.llm_abstract_chars)
            # A base model runs on past its answer into another example: stop at the next one.
            response = self.client.completions.create(prompt=prompt, stop=COMPLETION_STOPS, **common)
        else:
            response = self.client.chat.completions.create(
                messages=self.messages(question, sources, plan),  # type: ignore[arg-type]  # plain role/content dicts
                **common,
            )
        try:
            for chunk in response:
                if time.monotonic() > deadline:
                    raise LLMDeadlineExceeded(f"no complete answer within {self.settings.llm_timeout:g} s")
                if text := _delta_text(chunk):
                    yield text
        finally:
            response.close()

    def condense(self, question: str, turns: list[Any]) -> str:
        """The follow-up restated as a standalone question by the model (one short call, no streaming).

        Raises on any failure, or when the reply is not one plausible question; the pipeline
        then keeps the offline resolution and says so.
        """
        lines = []
        for turn in turns[-CONDENSE_TURNS:]:
            lines.append(f"User: {turn.question}")
            titles = [title for _, title in turn.cited()]
            lines.append(f"Assistant answered from: {'; '.join(titles)}" if titles else "Assistant: not in the papers")
        prompt = self.prompts.render_condense(question, "\n".join(lines))
        common: dict[str, Any] = {"model": self.settings.llm_model, "max_tokens": 80, "temperature": 0.0}
        if self.settings.llm_api == "completions":
            reply = self.client.completions.create(prompt=prompt, stop=["\n"], **common).choices[0].text or ""
        else:
            messages: list[Any] = [{"role": "user", "content": prompt}]
            reply = self.client.chat.completions.create(messages=messages, **common).choices[0].message.content or ""
        standalone = " ".join(reply.strip().splitlines()[0].split()) if reply.strip() else ""
        standalone = re.sub(r"^(?:standalone question:\s*)", "", standalone, flags=re.IGNORECASE).strip(" \"'")
        template_lines = [
            line.strip().lower() for line in self.prompts.condense.splitlines() if len(line.strip()) >= 12
        ]
        echoed = any(line in standalone.lower() for line in template_lines if "{" not in line)
        if not 3 <= len(standalone.split()) <= 60 or echoed or self.echoes_prompt(standalone) or "{" in standalone:
            raise ValueError(f"no usable standalone question in the reply {shorten(reply, 80)!r}")
        return standalone

    def is_refusal(self, reply: str) -> bool:
        """True when the model answered with the fixed refusal sentence (its first sentence,
        or anywhere in a reply that cites nothing)."""
        refusal, said = _normalise(self.prompts.refusal), _normalise(reply)
        if not refusal or refusal not in said:
            return False
        return said.startswith(refusal) or not CITATION.search(reply)

    def echoes_prompt(self, reply: str) -> bool:
        """True when the reply parrots the prompt (small base models do): an instruction line
        or a source fence tag appears verbatim. Such text can carry the `[1]` of the rules."""
        if re.search(r"<\s*/?\s*source\b", reply, re.IGNORECASE):
            return True
        lines = (
            self.prompts.render_system().splitlines()
            + self.prompts.question_answer.splitlines()
            + self.prompts.completion.splitlines()
            + self.prompts.question_form.splitlines()
        )
        refusal = self.prompts.refusal.strip()
        return any(
            len(line.strip()) >= 30 and line.strip() in reply
            for line in lines
            if "{" not in line and line.strip() != refusal  # saying the refusal sentence is not an echo
        )

    def scrub(self, text: str) -> str:
        """`text` without the API key (or anything shaped like one)."""
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return KEY_LIKE.sub("***", text)

    def describe_failure(self, exc: BaseException) -> str:
        """A notice for the user naming why the model failed; it never contains the key."""
        reason = self.scrub(self._reason(exc))
        log.warning("LLM answer failed, falling back to extractive: %s", reason)
        return f"The language model could not be reached ({reason}); {FALLBACK}"

    def _reason(self, exc: BaseException) -> str:
        import openai

        host = endpoint_host(self.settings)
        if isinstance(exc, openai.APITimeoutError | LLMDeadlineExceeded | TimeoutError):
            return f"no answer from {host} within {self.settings.llm_timeout:g} s"
        if isinstance(exc, openai.APIConnectionError):
            return f"cannot connect to {host}"
        if isinstance(exc, openai.RateLimitError):
            return f"{host} is rate-limiting requests (HTTP 429)"
        if isinstance(exc, openai.AuthenticationError | openai.PermissionDeniedError):
            return f"{host} rejected the API key (HTTP {exc.status_code})"
        if isinstance(exc, openai.APIStatusError):
            return f"{host} answered HTTP {exc.status_code}: {shorten(_error_message(exc))}"
        if isinstance(exc, openai.APIError | ValueError):  # ValueError: a stream chunk that is not JSON
            return f"{host} sent an unreadable reply: {shorten(str(exc))}"
        return f"{type(exc).__name__}: {shorten(str(exc))}"


CONDENSE_TURNS = 3  # earlier turns shown to the model when it restates a follow-up
COMPLETION_STOPS = ["\nQuestion:", "\nSources:", "<source", "\n\n\n"]


def _delta_text(chunk: Any) -> str:
    """The new text of a streamed chunk, chat (`delta.content`) or completions (`text`)."""
    if not chunk.choices:
        return ""
    choice = chunk.choices[0]
    delta = getattr(choice, "delta", None)
    if delta is not None:
        return delta.content or ""
    return getattr(choice, "text", None) or ""


def _error_message(exc: Any) -> str:
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        inner = body.get("error", body)
        message = inner.get("message") if isinstance(inner, dict) else inner
        if message:
            return str(message)
    return str(getattr(exc, "message", "") or exc)


def shorten(text: str, limit: int = 160) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
