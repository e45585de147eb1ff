"""The LRU cache of query vectors: a repeated question is not embedded again, and the cache stays bounded."""

from __future__ import annotations

import numpy as np
import pytest

from rag.embeddings import MiniLMEmbedder


@pytest.fixture(scope="module")
def minilm(model_cache) -> MiniLMEmbedder:
    return MiniLMEmbedder(cache_dir=model_cache)


class Counting:
    """Counts the texts that reach the model (the cache sits in front of `_encode`)."""

    def __init__(self, embedder: MiniLMEmbedder, monkeypatch: pytest.MonkeyPatch) -> None:
        self.texts: list[str] = []
        inner = embedder._encode

        def encode(texts: list[str]) -> np.ndarray:
            self.texts += texts
            return inner(texts)

        monkeypatch.setattr(embedder, "_encode", encode)


def test_a_repeated_query_comes_from_the_cache_with_the_same_vector(minilm, monkeypatch):
    counting = Counting(minilm, monkeypatch)
    text = "which paper compresses document vectors into cluster codes?"
    first = minilm.embed_query(text)
    hits = minilm.cache_hits
    again = minilm.embed_query(text)
    assert counting.texts == [text] and minilm.cache_hits == hits + 1
    assert again is first
    np.testing.assert_allclose(first, minilm.embed([text])[0], atol=1e-6)  # what an uncached embed gives
    with pytest.raises(ValueError):
        first[0] = 1.0  # shared between callers: read-only


def test_the_cache_keeps_the_most_recent_queries_only(minilm, monkeypatch):
    monkeypatch.setattr(minilm, "query_cache_size", 2)
    counting = Counting(minilm, monkeypatch)
    a, b, c = "graph neural networks", "speech recognition", "protein folding"
    for text in (a, b, a, c):  # c evicts b, the least recently used
        minilm.embed_query(text)
    assert len(minilm._query_cache) == 2
    minilm.embed_query(a)
    minilm.embed_query(b)
    assert counting.texts == [a, b, c, b]
