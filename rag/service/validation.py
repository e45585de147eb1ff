"""The input checks of both service front ends: the one request model every entry point uses.

`validate_ask` is `rag.models.AskRequest` (question, k, mode and history bounds, one message
naming what is wrong), so the API, MCP, the chat, `rag ask` and `rag.ask` refuse the same
inputs with the same words. `recent` is what a chat conversation adds: a long chat keeps
going, so only its last turns are carried, each earlier question cut to the question limit.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rag.config import Settings
from rag.models import AskRequest

RECENT_TURNS = 20  # a follow-up leans on the last answers, not on turn 1 of 300 (AskRequest allows 50)


def recent(turns: Sequence[dict[str, Any]], settings: Settings) -> list[dict[str, Any]]:
    """The conversation's last turns, each earlier question at most `max_question_chars` long."""
    limit = settings.max_question_chars
    return [{**turn, "question": str(turn["question"])[:limit]} for turn in turns[-RECENT_TURNS:]]


def validate_ask(
    question: Any, settings: Settings, k: Any = None, mode: Any = "auto", history: Any = None
) -> AskRequest:
    """The checked request for `Pipeline.ask/stream`, or `InvalidQuestion` with a message for the user."""
    k = settings.top_k if k is None else k
    return AskRequest.parse(question, k, mode, history, max_question_chars=settings.max_question_chars)
