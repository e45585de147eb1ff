"""Every record that crosses a module boundary, in one place.

Frozen pydantic models: they validate on the way in, serialise to JSON for
`rag ask --json` and the eval reports, and cannot be mutated by a consumer
(the UI, an eval script) behind the pipeline's back.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator, model_validator
from pydantic_core import PydanticCustomError

from rag.config import MAX_TOP_K, MIN_TOP_K

AnswerMode = Literal["extractive", "llm"]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True)


def short_name(title: str) -> str:
    """ "SPLADE: Sparse Lexical ..." -> "SPLADE"; a title with no short head (five words at most) stays whole."""
    head = title.split(":", 1)[0].strip()
    return head if ":" in title and 0 < len(head.split()) <= 5 else title


class Paper(_Frozen):
    """One unique paper of the corpus; `id` derives from the normalised title."""

    id: str
    title: str
    abstract: str
    seed_files: list[str] = Field(default_factory=list)

    @property
    def short_name(self) -> str:
        """The title's short name (`short_name`)."""
        return short_name(self.title)


class Chunk(_Frozen):
    """A slice of an abstract; `start`/`end` are character offsets into it."""

    id: str
    paper_id: str
    text: str
    start: int
    end: int


class Source(_Frozen):
    """One retrieved paper, numbered as the answer cites it (`[n]`)."""

    n: int
    paper: Paper
    chunks: list[Chunk]
    score: float


@dataclass
class PaperHit:
    """One paper's standing in each retriever and after fusion (internal to retrieval and refusal:
    a plain dataclass, filled in as fusion goes)."""

    paper_id: str
    scores: dict[str, float] = field(default_factory=dict)  # retriever -> the paper's best chunk score
    ranks: dict[str, int] = field(default_factory=dict)  # retriever -> the paper's rank in it (0 = best)
    chunks: list[int] = field(default_factory=list)
    fused: float = 0.0


class Citation(_Frozen):
    """A checked `[n]`: it always resolves to a retrieved paper and a quote of it."""

    n: int
    paper_id: str
    title: str
    quote: str
    start: int = -1
    end: int = -1


class QueryRewrite(_Frozen):
    """The opt-in LLM rewrite of a question (RAG_QUERY_REWRITE): the passage searched beside it, or why none was."""

    passage: str = Field("", description="What the model wrote an answering abstract would say; searched too.")
    skipped: str = Field("", description="Why no passage was searched (the question alone was); empty when one was.")
    ms: float = Field(0.0, description="Time the rewrite took (0 from the cache).")
    cached: bool = Field(False, description="The passage came from the cache of earlier questions.")

    @property
    def used(self) -> bool:
        return bool(self.passage)


class Answer(_Frozen):
    """What every entry point (Python, CLI, UI, eval) receives for a question."""

    question: str
    text: str
    citations: list[Citation] = Field(default_factory=list)
    sources: list[Source] = Field(default_factory=list)
    refused: bool = False
    mode: AnswerMode = "extractive"
    timings: dict[str, float] = Field(default_factory=dict)
    notice: str = ""
    uncited_sentences: list[str] = Field(default_factory=list)
    made_up_citations: list[int] = Field(
        default_factory=list, description="[n] the model wrote that name no retrieved source: removed from `text`."
    )
    low_confidence: bool = Field(
        False, description="Answered, but the evidence was middling: the papers shown are the closest matches."
    )
    confidence: float = Field(0.0, description="The answerability model's probability that the papers answer it.")
    closest: list[str] = Field(
        default_factory=list,
        description="On a refusal: titles of the best-matching papers, cited for nothing, so the user can still check"
        " them (a refusal can be wrong).",
    )
    standalone_question: str = Field(
        "", description="What was searched: the question itself, or a follow-up resolved against the conversation."
    )
    used_sources: list[int] = Field(
        default_factory=list, description="Numbers of the sources the answer cites (the UI marks them as used)."
    )
    form: str = Field("", description="The question's form (rag.question.form): single, set, comparison, ...")
    query_rewrite: QueryRewrite | None = Field(
        None, description="With RAG_QUERY_REWRITE on: the passage searched beside the question, or why none was."
    )


class StreamEvent(_Frozen):
    """One step of `Pipeline.stream`: `sources`, then `delta` text, maybe a `notice`, last `answer`.

    A `notice` means the generated text so far was dropped (the LLM failed or its reply was
    unusable): a front end clears what it showed; the extractive deltas that follow replace it.
    """

    kind: Literal["sources", "delta", "notice", "answer"]
    text: str = ""
    sources: list[Source] = Field(default_factory=list)
    answer: Answer | None = None


def answer_record(answer: Answer) -> dict[str, Any]:
    """The JSON schema of an answer, the same for `rag ask --json` and the web app's `/ask` API.

    Papers appear once per source (id, title, seed files, fused score), citations carry their
    quote and its offsets into the abstract; abstracts themselves are left out (`rag papers
    --json` lists them).
    """
    return {
        "question": answer.question,
        "text": answer.text,
        "refused": answer.refused,
        "mode": answer.mode,
        "notice": answer.notice,
        "low_confidence": answer.low_confidence,
        "confidence": answer.confidence,
        "standalone_question": answer.standalone_question,
        "closest": list(answer.closest),
        "used_sources": list(answer.used_sources),
        "form": answer.form,
        "citations": [c.model_dump() for c in answer.citations],
        "sources": [
            {
                "n": s.n,
                "paper_id": s.paper.id,
                "title": s.paper.title,
                "seed_files": list(s.paper.seed_files),
                "score": s.score,
            }
            for s in answer.sources
        ],
        "uncited_sentences": list(answer.uncited_sentences),
        "made_up_citations": list(answer.made_up_citations),
        "timings": dict(answer.timings),
        **({"query_rewrite": answer.query_rewrite.model_dump()} if answer.query_rewrite is not None else {}),
    }


# -- what a question may carry in: one request model for every entry point ----------------------
class InvalidQuestion(ValueError):
    """A request we cannot take (empty or too long question, bad k, mode or history); the message is for the user."""


# Bounds on everything a request carries, checked before any work (issue 21: a 1 MB title in the
# history took 11 s of CPU). Seed titles run 16-213 characters, abstracts up to 1,921.
MAX_HISTORY_TURNS = 50  # earlier turns a request may carry (only the last few are read)
MAX_TITLE_CHARS = 500  # a cited title in a history turn
MAX_PAPER_ID_CHARS = 64  # paper ids are 16 hex digits
MAX_ANSWER_CHARS = 20_000  # an earlier answer's text (the API's own answers, sent back)
MAX_QUOTE_CHARS = 5_000  # an earlier answer's quoted sentence
DEFAULT_MAX_QUESTION_CHARS = 2_000  # Settings.max_question_chars, when no setting is given


def clean_text(text: str) -> str:
    """NFC, control/format/separator characters and lone surrogates to spaces, whitespace collapsed.

    A lone surrogate ("\\ud800", valid JSON) cannot be encoded and broke the tokenizer with a
    TypeError; as a space it is simply gone.
    """
    if any("\ud800" <= c <= "\udfff" for c in text):
        text = "".join(" " if "\ud800" <= c <= "\udfff" else c for c in text)
    text = unicodedata.normalize("NFC", text)
    text = "".join(" " if unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp") else c for c in text)
    return " ".join(text.split())


def _max_question_chars(info: ValidationInfo) -> int:
    context = info.context or {}
    return int(context.get("max_question_chars") or DEFAULT_MAX_QUESTION_CHARS)


def _too_long(what: str, length: int, limit: int) -> PydanticCustomError:
    return PydanticCustomError(
        "too_long", "{what} is {length} characters long; the limit is {limit}",
        {"what": what, "length": f"{length:,}", "limit": f"{limit:,}"},
    )  # fmt: skip


def _bounded_text(value: Any, what: str, limit: int) -> str:
    """Text under `limit` characters (checked before any other work), cleaned."""
    if isinstance(value, bytes):
        value = value.decode("utf-8", errors="replace")
    if not isinstance(value, str):
        raise PydanticCustomError(
            "text", "{what} must be text, not {kind}", {"what": what, "kind": type(value).__name__}
        )
    if len(value) > limit:
        raise _too_long(what, len(value), limit)
    return clean_text(value)


def _bounded_list(value: Any, what: str, limit: int) -> list[Any]:
    if not isinstance(value, list | tuple):
        raise PydanticCustomError(
            "list", "{what} must be a list, not {kind}", {"what": what, "kind": type(value).__name__}
        )
    if len(value) > limit:
        raise PydanticCustomError(
            "too_many", "{what} has {n} entries; the limit is {limit}", {"what": what, "n": len(value), "limit": limit}
        )
    return list(value)


class HistoryTurn(_Frozen):
    """One earlier exchange as a request carries it: the question, the papers its answer cited and those it showed.

    The shown sources matter to a follow-up over a set ("which of them is about stock prediction?",
    "the second one"): it chooses among every paper the answer showed, not only the quoted ones.
    Accepted forms (converted here, so every front end validates the same way): this record
    (`{"question", "cited_paper_ids", "cited_titles"}`, optionally `shown_paper_ids` / `shown_titles`),
    an answer as the `/ask` API returns it (`{"question", "citations": [{"paper_id", "title", ...}],
    "sources": [...], ...}`), a `(question, Answer)` pair, or any object with `question` and `cited()`
    (and `sources()`).
    """

    question: str
    cited_paper_ids: list[str] = Field(default_factory=list)
    cited_titles: list[str] = Field(default_factory=list)
    shown_paper_ids: list[str] = Field(
        default_factory=list, description="The answer's sources in their numbered order ([1], [2], ...)."
    )
    shown_titles: list[str] = Field(default_factory=list)

    @model_validator(mode="before")
    @classmethod
    def _accept_forms(cls, value: Any, info: ValidationInfo) -> Any:
        if isinstance(value, HistoryTurn):
            return value
        if isinstance(value, list | tuple):
            if len(value) != 2:
                raise PydanticCustomError("turn", "a history turn must be a (question, answer) pair or a record")
            question, answer = value
            if isinstance(answer, Answer):
                return {
                    "question": question,
                    **_papers_of("cited", ((c.n, c.paper_id, c.title) for c in answer.citations)),
                    **_papers_of("shown", ((s.n, s.paper.id, s.paper.title) for s in answer.sources)),
                }
            if isinstance(answer, dict):
                return {**answer, "question": question}
            raise PydanticCustomError("turn", "the answer of a (question, answer) turn must be an Answer or a record")
        if isinstance(value, dict):
            if "citations" in value and "cited_paper_ids" not in value:  # an answer as the /ask API returns it
                _bounded_text(value.get("text", ""), "an earlier answer", MAX_ANSWER_CHARS)
                citations = _bounded_list(value["citations"] or [], "an earlier answer's citations", MAX_TOP_K * 4)
                sources = _bounded_list(value.get("sources") or [], "an earlier answer's sources", MAX_TOP_K)
                cited = (_cited_record(c) for c in citations)
                shown = (_cited_record(source, "source") for source in sources)
                return {
                    "question": value.get("question"),
                    **_papers_of("cited", ((r.n, r.paper_id, r.title) for r in cited)),
                    **_papers_of("shown", ((r.n, r.paper_id, r.title) for r in shown)),
                }
            return value
        if hasattr(value, "question"):  # rag.conversation.Turn and the like
            cited = value.cited() if callable(getattr(value, "cited", None)) else []
            shown = value.sources() if callable(getattr(value, "sources", None)) else []
            return {
                "question": value.question,
                **_papers_of("cited", ((n, pid, title) for n, (pid, title) in enumerate(cited))),  # in order
                **_papers_of("shown", ((n, pid, title) for n, (pid, title) in enumerate(shown))),
            }
        raise PydanticCustomError(
            "turn", "a history turn must be a record with a question, not {kind}", {"kind": type(value).__name__}
        )

    @field_validator("question", mode="before")
    @classmethod
    def _question(cls, value: Any, info: ValidationInfo) -> str:
        if value is None:
            raise PydanticCustomError("missing", "a history turn needs its question")
        return _bounded_text(value, "an earlier question", _max_question_chars(info) * 4)

    @field_validator("cited_paper_ids", "shown_paper_ids", mode="before")
    @classmethod
    def _ids(cls, value: Any, info: ValidationInfo) -> list[str]:
        items = _bounded_list(value or [], info.field_name or "paper ids", MAX_TOP_K)
        return [_bounded_text(v, "a paper id", MAX_PAPER_ID_CHARS) for v in items]

    @field_validator("cited_titles", "shown_titles", mode="before")
    @classmethod
    def _titles(cls, value: Any, info: ValidationInfo) -> list[str]:
        items = _bounded_list(value or [], info.field_name or "titles", MAX_TOP_K)
        what = "a cited title" if info.field_name == "cited_titles" else "a source's title"
        return [_bounded_text(v, what, MAX_TITLE_CHARS) for v in items]

    @model_validator(mode="after")
    def _paired(self) -> HistoryTurn:
        for kind, ids, titles in (
            ("cited", self.cited_paper_ids, self.cited_titles),
            ("shown", self.shown_paper_ids, self.shown_titles),
        ):
            if len(titles) != len(ids):
                raise PydanticCustomError(
                    "unpaired",
                    "a history turn needs one {kind}_paper_ids entry per {kind}_titles entry (got {i} and {t})",
                    {"kind": kind, "i": len(ids), "t": len(titles)},
                )
        return self

    def cited(self) -> list[tuple[str, str]]:
        """(paper id, title) of the papers this turn's answer cited, first cited first."""
        return list(zip(self.cited_paper_ids, self.cited_titles, strict=True))


class _CitedRecord(BaseModel):
    """A citation inside an answer record sent back as history: only what a follow-up reads."""

    model_config = ConfigDict(extra="ignore")

    n: int = 0
    paper_id: str
    title: str


def _cited_record(value: Any, what: str = "citation") -> _CitedRecord:
    if not isinstance(value, dict):
        raise PydanticCustomError("citation", "a {what} must be a record with paper_id and title", {"what": what})
    for key in ("paper_id", "title"):
        if key not in value:
            raise PydanticCustomError(
                "citation", "a {what} of an earlier answer has no {key}", {"what": what, "key": key}
            )
    _bounded_text(value.get("quote", ""), "a quote", MAX_QUOTE_CHARS)
    return _CitedRecord(
        n=value.get("n") if isinstance(value.get("n"), int) else 0,
        paper_id=_bounded_text(value["paper_id"], "a paper id", MAX_PAPER_ID_CHARS),
        title=_bounded_text(value["title"], "a cited title", MAX_TITLE_CHARS),
    )


def _papers_of(kind: str, numbered: Iterable[tuple[int, str, str]]) -> dict[str, list[str]]:
    """`{kind}_paper_ids` and `{kind}_titles` of (n, paper id, title) entries: by number [n], each paper once."""
    seen: dict[str, str] = {}
    for _, paper_id, title in sorted(numbered, key=lambda entry: entry[0]):
        seen.setdefault(paper_id, title)
    return {f"{kind}_paper_ids": list(seen), f"{kind}_titles": list(seen.values())}


class AskRequest(_Frozen):
    """A question as every entry point takes it (`rag.ask`, `Pipeline.ask/stream`, the `/ask` API).

    Build it with `AskRequest.parse`, which turns any validation failure into one
    `InvalidQuestion` whose message names what is wrong. Every text is bounded before it is
    looked at; the question limit is `Settings.max_question_chars` (passed as `max_question_chars`).
    """

    question: str
    k: int = Field(5, description=f"Papers to retrieve, {MIN_TOP_K}-{MAX_TOP_K}.")
    mode: Literal["auto", "extractive", "llm"] = "auto"
    history: list[HistoryTurn] = Field(default_factory=list)

    @field_validator("question", mode="before")
    @classmethod
    def _question(cls, value: Any, info: ValidationInfo) -> str:
        limit = _max_question_chars(info)
        if isinstance(value, bytes):
            value = value.decode("utf-8", errors="replace")
        if not isinstance(value, str):
            raise PydanticCustomError("text", "the question must be text")
        if len(value) > limit * 4:  # far too long even before whitespace is collapsed: no work on it at all
            raise _question_too_long(len(value), limit)
        text = clean_text(value)
        if not text:
            raise PydanticCustomError("empty", "Please type a question about the listed papers.")
        if len(text) > limit:
            raise _question_too_long(len(text), limit)
        return text

    @field_validator("k", mode="before")
    @classmethod
    def _k(cls, value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or not MIN_TOP_K <= value <= MAX_TOP_K:
            raise PydanticCustomError(
                "k", "k must be a whole number from {lo} to {hi} (got {got})",
                {"lo": MIN_TOP_K, "hi": MAX_TOP_K, "got": repr(value)[:40]},
            )  # fmt: skip
        return value

    @field_validator("mode", mode="before")
    @classmethod
    def _mode(cls, value: Any) -> Any:
        if value not in ("auto", "extractive", "llm"):
            raise PydanticCustomError(
                "mode", "mode must be one of auto, extractive, llm (got {got})", {"got": repr(value)[:40]}
            )
        return value

    @field_validator("history", mode="before")
    @classmethod
    def _history(cls, value: Any) -> list[Any]:
        if value is None:
            return []
        if isinstance(value, str | bytes | dict):
            raise PydanticCustomError("list", "history must be a list of earlier turns, not {kind}",
                                      {"kind": type(value).__name__})  # fmt: skip
        return _bounded_list(value, "history", MAX_HISTORY_TURNS)

    @classmethod
    def parse(
        cls,
        question: Any,
        k: Any = 5,
        mode: Any = "auto",
        history: Any = None,
        max_question_chars: int = DEFAULT_MAX_QUESTION_CHARS,
    ) -> AskRequest:
        """Validate a request; raise `InvalidQuestion` with every problem in one message."""
        data = {"question": question, "k": k, "mode": mode, "history": history}
        try:
            return cls.model_validate(data, context={"max_question_chars": max_question_chars})
        except ValidationError as exc:
            raise InvalidQuestion(describe(exc)) from None


def _question_too_long(length: int, limit: int) -> PydanticCustomError:
    return PydanticCustomError(
        "too_long", "That question is {length} characters long; please keep it under {limit} characters.",
        {"length": f"{length:,}", "limit": f"{limit:,}"},
    )  # fmt: skip


def describe(exc: ValidationError) -> str:
    """One line for the user: each problem with where it is (`history[2].cited_titles[0]`)."""
    parts = []
    for error in exc.errors(include_url=False, include_input=False)[:5]:
        where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error["loc"]).lstrip(".")
        top = where in ("question", "k", "mode", "history") and error["type"] not in ("missing",)
        message = error["msg"]
        parts.append(message if top or not where else f"{where}: {message}")
    return "; ".join(parts)
