"""paperchat: cited answers over research-paper abstracts.

    >>> from rag import ask
    >>> answer = ask("Which paper introduced pointer networks?")
    >>> print(answer.text)

Heavy modules load on first use, so `import rag` stays instant.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from rag.models import Answer, Chunk, Citation, Paper, Source, StreamEvent

if TYPE_CHECKING:
    from rag.config import Settings
    from rag.index import IndexCorrupt, IndexMissing, PaperIndexError
    from rag.pipeline import InvalidQuestion, Pipeline

__all__ = [
    "Answer",
    "Chunk",
    "Citation",
    "IndexCorrupt",
    "IndexMissing",
    "InvalidQuestion",
    "Paper",
    "PaperIndexError",
    "Pipeline",
    "Settings",
    "Source",
    "StreamEvent",
    "ask",
]
# What an `ask()` caller may catch or configure, loaded on first use (gradio, chromadb stay unloaded).
_LAZY = {
    "Pipeline": "rag.pipeline",
    "InvalidQuestion": "rag.pipeline",
    "Settings": "rag.config",
    "PaperIndexError": "rag.index",
    "IndexMissing": "rag.index",
    "IndexCorrupt": "rag.index",
}


def ask(question: str, k: int = 5, history: Sequence[Any] | None = None) -> Answer:
    """Answer a question over the ingested papers, citing them as [n].

    `history`: the conversation's earlier turns, e.g. `[(question, answer), ...]`, so a
    follow-up ("what datasets did they use?") is searched with the paper it refers to.
    """
    from rag.pipeline import ask as _ask

    return _ask(question, k=k, history=history)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(name)
