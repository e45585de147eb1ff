"""The loaded papers by id and by title, for the service tools and for reading history back.

Built once per loaded index (a reload brings a new retriever, so a new catalogue).
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Sequence
from typing import Any

from rag.corpus import normalize_title
from rag.models import Paper
from rag.service.reply import cited_titles


class Catalogue:
    """Every paper of the index; lookups by id or normalised title."""

    def __init__(self, papers: Sequence[Paper]) -> None:
        self.papers = list(papers)
        self.by_id = {p.id: p for p in self.papers}
        self.by_title = {normalize_title(p.title): p for p in self.papers}

    def find(self, id_or_title: str) -> Paper | None:
        """The paper with this id or this title (case and spacing ignored)."""
        key = id_or_title.strip()
        return self.by_id.get(key) or self.by_title.get(normalize_title(key))

    def containing(self, text: str) -> list[Paper]:
        """Papers whose title or abstract contains every word of `text` (case ignored)."""
        words = text.lower().split()
        return [p for p in self.papers if all(w in f"{p.title}\n{p.abstract}".lower() for w in words)]

    def turn(self, question: str, titles: Sequence[str] = (), paper_ids: Sequence[str] = ()) -> dict[str, Any]:
        """One history turn as the pipeline takes it; titles and ids it does not know are dropped."""
        cited = [self.by_id.get(pid) for pid in paper_ids] + [self.by_title.get(normalize_title(t)) for t in titles]
        seen = {p.id: p.title for p in cited if p is not None}
        return {"question": question, "cited_paper_ids": list(seen), "cited_titles": list(seen.values())}

    def turn_from_reply(self, question: str, reply: str | None) -> dict[str, Any]:
        """A turn whose answer is a reply's text: its `Sources:` list says what it cited."""
        return self.turn(question, cited_titles(reply or ""))


_cache: weakref.WeakKeyDictionary[Any, Catalogue] = weakref.WeakKeyDictionary()
_lock = threading.Lock()


def catalogue(pipeline: Any) -> Catalogue:
    """The catalogue of the pipeline's current index (built on first use)."""
    retriever = pipeline.retriever
    with _lock:
        found = _cache.get(retriever)
        if found is None:
            found = _cache[retriever] = Catalogue(pipeline.papers())
        return found
