"""Answer writers and the citation checker every answer passes through.

The extractive answerer (the default: offline, no key) quotes the sentences of
the retrieved abstracts that best match the question, each followed by the `[n]`
of its paper, so every claim is a verbatim quote of its source. Whatever wrote
an answer, `check_citations` keeps only `[n]` that name a retrieved source and
resolves each to the paper's title and the sentence it supports.

`LLMAnswerer` generates through any OpenAI-compatible endpoint (OpenAI, vLLM,
llama.cpp's server, Ollama) with the prompts in `rag/prompt_templates/`; the pipeline falls
back to the extractive answerer whenever it fails.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from rag.models import Citation, Source
from rag.prompts import Prompts

if TYPE_CHECKING:
    from rag.config import Settings

log = logging.getLogger(__name__)

NOT_IN_CORPUS = "I could not find this in the listed papers, so I will not guess."

SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"“(])")
# abbreviations a sentence does not end on
NO_BREAK_AFTER = re.compile(r"(?:\bet al|\be\.g|\bi\.e|\bcf|\bvs|\bFigs?|\bEqs?|\bSec|\bTab|\bapprox|\bNo)\.$")
# `[1]`, `[1, 2]`, `[1;2]`, `[2-4]`, `[1, 2, and 3]`, `[Source 1]`: the forms LLMs write.
_CITE_BODY = r"\s*\d+(?:\s*(?:,\s*and|[-–,;]|and)\s*\d+)*\s*"
CITATION = re.compile(rf"\[(?:sources?\s*)?({_CITE_BODY})\]", re.IGNORECASE)
TRAILING_MARKERS = re.compile(rf"([.!?])((?:\s*\[(?:sources?\s*)?{_CITE_BODY}\])+)", re.IGNORECASE)
WORD = re.compile(r"(?u)\b\w\w+\b")
# "Tell me about X", "What is X?", "What does the X paper propose?": the answer is what the paper contributes.
GENERAL_QUESTION = re.compile(
    r"^\s*(?:(?:can you |please )?(?:tell me (?:more )?about|explain|describe|summari[sz]e|overview of)\b"
    r"|(?:what|who) (?:is|are)\b(?!.*\b(?:how|which|why)\b)"
    r"|what (?:does|did|do) .{1,80}\b(?:propose|do|introduce|present|contribute|solve|address|tackle)\b"
    r"|what problem)",
    re.IGNORECASE,
)
CONTRIBUTION = re.compile(
    r"\b(?:we|this (?:paper|work|study)|our (?:paper|work))\s+(?:\w+\s+){0,2}?"
    r"(?:propose|introduce|present|develop|describe|design|address|tackle)",
    re.IGNORECASE,
)
NUMERIC_QUESTION = re.compile(r"\b(how (many|much|fast|big|large|long)|what (fraction|percentage|range|size))\b", re.I)


@dataclass(frozen=True)
class Sentence:
    text: str
    start: int
    end: int


def split_sentences(text: str) -> list[Sentence]:
    """Sentences with character offsets into `text` (abstract debris stays verbatim)."""
    out, start = [], 0
    for match in SENTENCE_END.finditer(text):
        piece = text[start : match.start()]
        if NO_BREAK_AFTER.search(piece) or piece.rfind("(") > max(piece.rfind(")"), len(piece) - 60):
            continue  # "Welleck et al. (2020)." and "(e.g. Python)" are one sentence each
        if piece.strip():
            out.append(Sentence(piece, start, match.start()))
        start = match.end()
    if text[start:].strip():
        out.append(Sentence(text[start:].rstrip(), start, len(text.rstrip())))
    return out


# ------------------------------------------------------------------------------------------
# Citation checking


def parse_citation_numbers(body: str) -> list[int]:
    """`1`, `1, 3`, `2-4`, `1 and 2`, `1; 2, and 3` -> [1], [1, 3], [2, 3, 4], [1, 2], [1, 2, 3] (ranges: 50 max)."""
    numbers: list[int] = []
    for part in re.split(r"\s*(?:,|;|\band\b)\s*", body.strip()):
        if not part:
            continue
        bounds = re.split(r"\s*[-–]\s*", part)
        if len(bounds) == 2 and bounds[0].isdigit() and bounds[1].isdigit():
            lo, hi = int(bounds[0]), int(bounds[1])
            if lo <= hi and hi - lo <= 50:
                numbers.extend(range(lo, hi + 1))
        elif part.isdigit():
            numbers.append(int(part))
    return list(dict.fromkeys(numbers))


@dataclass
class CheckedText:
    text: str
    citations: list[Citation]
    uncited_sentences: list[str] = field(default_factory=list)
    removed: list[int] = field(default_factory=list)


def best_quote(claim: str, source: Source) -> Sentence:
    """The sentence of the cited abstract quoted in the claim, else the one sharing most words."""
    sentences = split_sentences(source.paper.abstract) or [
        Sentence(source.paper.abstract, 0, len(source.paper.abstract))
    ]
    verbatim = [s for s in sentences if s.text.strip().rstrip(".!?") in claim]
    if verbatim:
        return max(verbatim, key=lambda s: len(s.text))
    claim_words = set(WORD.findall(claim.lower()))
    return max(sentences, key=lambda s: (len(claim_words & set(WORD.findall(s.text.lower()))), -s.start))


def check_citations(text: str, sources: list[Source]) -> CheckedText:
    """Drop `[n]` that are not retrieved sources; resolve the rest to title + quote.

    Citation forms `[n]`, `[n, m]`, `[n-m]` are read; what survives is rewritten
    as `[n][m]` so every marker a reader sees is one clickable source.
    """
    text = TRAILING_MARKERS.sub(lambda m: m.group(2) + m.group(1), text)  # "claim. [1]" -> "claim [1]."
    by_n = {s.n: s for s in sources}
    citations: dict[tuple[int, int], Citation] = {}
    removed: list[int] = []
    uncited: list[str] = []
    out_parts: list[str] = []
    cursor = 0

    for sentence in split_sentences(text) if text.strip() else []:
        numbers: list[int] = []

        def rewrite(match: re.Match[str], numbers: list[int] = numbers) -> str:
            kept = []
            for n in parse_citation_numbers(match.group(1)):
                if n in by_n:
                    kept.append(n)
                    numbers.append(n)
                else:
                    removed.append(n)
            return "".join(f"[{n}]" for n in kept)

        cleaned = CITATION.sub(rewrite, sentence.text)
        cleaned = re.sub(r"[ \t]+([.,;:!?])", r"\1", re.sub(r"[ \t]{2,}", " ", cleaned))
        claim = CITATION.sub("", cleaned).strip()
        if numbers:
            for n in dict.fromkeys(numbers):
                quote = best_quote(claim, by_n[n])
                key = (n, quote.start)
                if key not in citations:
                    citations[key] = Citation(
                        n=n,
                        paper_id=by_n[n].paper.id,
                        title=by_n[n].paper.title,
                        quote=quote.text,
                        start=quote.start,
                        end=quote.end,
                    )
        elif len(WORD.findall(claim)) >= 4 and not claim.endswith(":"):
            uncited.append(claim)
        out_parts.append(text[cursor : sentence.start])  # the original whitespace keeps paragraphs
        out_parts.append(cleaned)
        cursor = sentence.end
    clean_text = "".join(out_parts).strip()
    ordered = sorted(citations.values(), key=lambda c: (c.n, c.start))
    return CheckedText(clean_text, ordered, uncited, list(dict.fromkeys(removed)))


# ------------------------------------------------------------------------------------------
# The extractive answerer


@dataclass
class ScoredSentence:
    source: Source
    sentence: Sentence
    score: float


class ExtractiveAnswerer:
    """Quotes the best-matching sentences of the retrieved abstracts with `[n]` markers."""

    mode = "extractive"

    def __init__(self, idf: Callable[[str], float], max_sentences: int = 3, source_floor: float = 0.0) -> None:
        """`idf`: a word's inverse document frequency over the index (the BM25 index's)."""
        self.source_floor = source_floor
        self._idf = idf
        self.max_sentences = max_sentences

    def score(self, question: str, sources: list[Source], tokenize) -> list[ScoredSentence]:
        terms = set(tokenize(question))
        wants_number = bool(NUMERIC_QUESTION.search(question))
        scored = []
        for source in sources:
            rank_prior = 1.0 / (1.0 + 0.35 * (source.n - 1))
            for sentence in split_sentences(source.paper.abstract):
                words = tokenize(sentence.text)
                overlap = sum(self._idf(t) for t in terms.intersection(words))
                length_norm = 1.0 + 0.02 * len(words)
                number_bonus = 1.25 if wants_number and re.search(r"\d", sentence.text) else 1.0
                scored.append(ScoredSentence(source, sentence, rank_prior * number_bonus * overlap / length_norm))
        return scored

    def select(self, question: str, sources: list[Source], tokenize) -> list[ScoredSentence]:
        """The best sentence of the top paper, then the strongest others (two per paper at most)."""
        scored = self.score(question, sources, tokenize)
        if not scored:
            return []
        first = [s for s in scored if s.source.n == sources[0].n]
        if GENERAL_QUESTION.search(question):
            # a question about the paper as a whole: lead with what it contributes
            contributions = [s for s in first if CONTRIBUTION.search(s.sentence.text)]
            first = contributions or first
        picked = [max(first, key=lambda s: (s.score, -s.sentence.start))] if first else []
        floor = 0.5 * max(s.score for s in scored)
        for candidate in sorted(scored, key=lambda s: (-s.score, s.source.n, s.sentence.start)):
            if len(picked) >= self.max_sentences:
                break
            if candidate in picked or candidate.score < floor or candidate.score <= 0:
                continue
            if sum(p.source.n == candidate.source.n for p in picked) >= 2:
                continue
            if candidate.source.score < self.source_floor * sources[0].score:
                continue  # a paper retrieval ranks far below the top one is not quoted
            picked.append(candidate)
        return sorted(picked, key=lambda s: (s.source.n, s.sentence.start))

    def write(self, question: str, sources: list[Source], tokenize) -> Iterator[str]:
        """Yield the answer text piece by piece (one quoted sentence per piece)."""
        picked = self.select(question, sources, tokenize)
        current = None
        for item in picked:
            if item.source.n != current:
                current = item.source.n
                lead = "" if item is picked[0] else "\n\n"
                yield f"{lead}From “{item.source.paper.title}” [{current}]: "
            else:
                yield " "
            yield f"{item.sentence.text.strip()} [{current}]"


# ------------------------------------------------------------------------------------------
# The LLM answerer (any OpenAI-compatible endpoint)

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
        import openai  # lazy: the CLI's extractive path never pays for it

        self.settings = settings
        self.prompts = prompts or Prompts.load(settings.prompts_dir)
        key = settings.openai_api_key.get_secret_value() if settings.openai_api_key else ""
        self._secrets = [key] if key else []
        self.client = openai.OpenAI(
            base_url=settings.llm_base_url,
            api_key=key or "not-needed",
            timeout=settings.llm_timeout,
            max_retries=settings.llm_max_retries,
        )

    def messages(self, question: str, sources: list[Source]) -> list[dict[str, str]]:
        """The chat turns: system rules, then the fenced sources and the question."""
        system = self.prompts.render_system()
        user = self.prompts.render_question(question, sources, self.settings.llm_abstract_chars)
        if self.settings.llm_system_in_user:
            return [{"role": "user", "content": f"{system}\n\n{user}"}]
        return [{"role": "system", "content": system}, {"role": "user", "content": user}]

    def stream(self, question: str, sources: list[Source]) -> Iterator[str]:
        """Yield the answer's text deltas as the endpoint streams them."""
        deadline = time.monotonic() + self.settings.llm_timeout
        common: dict[str, Any] = {
            "model": self.settings.llm_model,
            "max_tokens": self.settings.llm_max_tokens,
            "temperature": self.settings.llm_temperature,
            "stream": True,
        }
        if self.settings.llm_api == "completions":
            prompt = self.prompts.render_completion(question, sources, self.settings.llm_abstract_chars)
            # A base model runs on past its answer into another example: stop at the next one.
            response = self.client.completions.create(prompt=prompt, stop=COMPLETION_STOPS, **common)
        else:
            response = self.client.chat.completions.create(
                messages=self.messages(question, sources),  # type: ignore[arg-type]  # plain role/content dicts
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

        host = urlsplit(self.settings.llm_base_url or "https://api.openai.com").netloc or "the endpoint"
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
