"""Every record that crosses a module boundary, in one place.

Frozen pydantic models: they validate on the way in, serialise to JSON for
`rag ask --json` and the eval reports, and cannot be mutated by a consumer
(the UI, an eval script) behind the pipeline's back.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

AnswerMode = Literal["extractive", "llm"]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True)


class Paper(_Frozen):
    """One unique paper of the corpus; `id` derives from the normalised title."""

    id: str
    title: str
    abstract: str
    seed_files: list[str] = Field(default_factory=list)


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


class Citation(_Frozen):
    """A checked `[n]`: it always resolves to a retrieved paper and a quote of it."""

    n: int
    paper_id: str
    title: str
    quote: str
    start: int = -1
    end: int = -1


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
    }
