"""The input checks both service front ends share, in one function.

`validate_ask` is the one place a service request's question, k, mode and history are
checked; it delegates to the pipeline's own rules (`clean_question`, `check_k`), so the API,
MCP, the chat and `rag ask` refuse the same inputs with the same messages. (To be swapped for
the shared request model once there is one.)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from rag.config import Settings
from rag.pipeline import InvalidQuestion, ModeChoice, check_k, clean_question

MODES = ("auto", "extractive", "llm")
MAX_HISTORY_TURNS = 20  # earlier turns kept: a follow-up leans on the last answers, not on turn 1 of 300
MAX_TURN_CHARS = 20_000  # an earlier turn's question as the history carries it


@dataclass(frozen=True)
class AskArgs:
    question: str
    k: int | None = None
    mode: ModeChoice = "auto"
    history: list[dict[str, Any]] = field(default_factory=list)


def validate_ask(question: Any, settings: Settings, k: Any = None, mode: Any = "auto", history: Any = None) -> AskArgs:
    """Checked arguments for `Pipeline.ask/stream`, or `InvalidQuestion` with a message for the user."""
    clean_question(question, settings.max_question_chars)
    if k is not None:
        check_k(k)
    if mode not in MODES:
        raise InvalidQuestion(f"mode must be one of {', '.join(MODES)} (got {mode!r})")
    turns = list(history or [])
    for turn in turns:
        if not isinstance(turn, dict) or not isinstance(turn.get("question"), str):
            raise InvalidQuestion("each history turn must be an object with a text `question`")
        if len(turn["question"]) > MAX_TURN_CHARS:
            raise InvalidQuestion(f"a history turn is longer than {MAX_TURN_CHARS:,} characters")
    return AskArgs(question=question, k=k, mode=mode, history=turns[-MAX_HISTORY_TURNS:])
