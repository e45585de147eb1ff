"""Hybrid retrieval: dense (Chroma, cosine) + BM25 over the same chunks, fused per paper.

Both retrievers rank chunks; a paper takes the rank of its best chunk in each
list, and the two paper rankings are merged with weighted reciprocal rank
fusion. The evidence behind the best paper (its cosine, whether the two
retrievers agree on it, how much of the question's vocabulary it contains)
decides whether the question is answerable from the corpus at all.
"""

from __future__ import annotations

import logging
import math
import re
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from rag.config import Settings, get_settings
from rag.index import StoredChunk, load_index, open_collection
from rag.models import Source

WORD = re.compile(r"(?u)\b\w\w+\b")
TOKEN = re.compile(r"\w[\w\-.]*\w|\w")
QUOTED = re.compile(r"(?<!\w)['\"\u2018\u201c]([^'\"\u2019\u201d]{3,60})['\"\u2019\u201d](?!\w)")


def named_terms(question: str) -> list[str]:
    """Quoted phrases and name-like tokens (MusicLM, LLaMA-2, Chinchilla) of a question."""
    names = [m.strip() for m in QUOTED.findall(question)]
    for match in TOKEN.finditer(question):
        word = match.group()
        if len(word) < 2:
            continue
        inner_capital = any(c.isupper() for c in word[1:])
        capitalised = word[0].isupper() and match.start() > 0 and question[: match.start()].rstrip()[-1:] not in ".?!:"
        if inner_capital or capitalised or any(c.isdigit() for c in word):
            names.append(word)
    return names


def _mentions(text: str, name: str) -> bool:
    """Case-insensitive, forgiving a plural and a `-style`/`-based` suffix on hyphenated names."""
    name = name.lower()
    variants = {name, name.removesuffix("s")}
    variants |= {v.split("-")[0] for v in list(variants) if "-" in v and len(v.split("-")[0]) >= 4}
    return any(v in text for v in variants)


class Tokenizer:
    """Lower-case word tokens with English stop words out: for BM25 and term coverage.

    No stemming: Snowball stemming measured worse on the dev set (BM25 alone hit@5
    0.88 vs 0.91), as it merges technical terms that differ in meaning.
    """

    def __init__(self) -> None:
        from bm25s.stopwords import STOPWORDS_EN

        self._stop = frozenset(STOPWORDS_EN)

    def __call__(self, text: str) -> list[str]:
        return [w for w in WORD.findall(text.lower()) if w not in self._stop]


class BM25Index:
    """bm25s over pre-tokenised chunk texts."""

    def __init__(self, texts: list[str], tokenizer: Tokenizer) -> None:
        import bm25s

        logging.getLogger("bm25s").setLevel(logging.WARNING)  # it sets itself to DEBUG on import
        self.tokenize = tokenizer
        self.docs = [tokenizer(t) for t in texts]
        self.vocab_df: dict[str, int] = {}
        for doc in self.docs:
            for term in set(doc):
                self.vocab_df[term] = self.vocab_df.get(term, 0) + 1
        self.model = bm25s.BM25()
        self.model.index(self.docs, show_progress=False)

    def search(self, question: str, n: int) -> list[tuple[int, float]]:
        terms = [t for t in self.tokenize(question) if t in self.vocab_df]
        if not terms:
            return []
        scores = self.model.get_scores(terms)
        n = min(n, len(scores))
        top = np.argpartition(-scores, n - 1)[:n]
        top = top[np.argsort(-scores[top])]
        return [(int(i), float(scores[i])) for i in top if scores[i] > 0]


@dataclass
class Retrieval:
    """Ranked sources plus the evidence used to decide answerability."""

    sources: list[Source]
    answerable: bool
    evidence: dict[str, float] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)


@dataclass
class _PaperHit:
    paper_id: str
    dense_rank: int | None = None
    bm25_rank: int | None = None
    cosine: float = -1.0
    bm25: float = 0.0
    chunks: list[int] = field(default_factory=list)
    fused: float = 0.0


class Retriever:
    """Loads the index once; `retrieve` is thread-safe and read-only."""

    def __init__(self, settings: Settings | None = None, embedder: Any = None) -> None:
        from llama_index.vector_stores.chroma import ChromaVectorStore

        from rag.embeddings import get_embedder

        self.settings = settings or get_settings()
        self.chunks: list[StoredChunk] = load_index(self.settings)  # first: a missing index fails fast
        self.embedder = embedder or get_embedder(self.settings)
        self.position = {c.chunk.id: i for i, c in enumerate(self.chunks)}
        self.vector_store = ChromaVectorStore(chroma_collection=open_collection(self.settings))
        self.tokenize = Tokenizer()
        self.bm25 = BM25Index([c.text for c in self.chunks], self.tokenize)
        self.paper_count = len({c.paper.id for c in self.chunks})

    # -- the two retrievers ------------------------------------------------------------
    def dense(self, question: str, n: int) -> list[tuple[int, float]]:
        """(chunk position, cosine) best first, through llama-index's ChromaVectorStore."""
        from llama_index.core.vector_stores.types import VectorStoreQuery

        vector = self.embedder.embed_query(question)
        result = self.vector_store.query(
            VectorStoreQuery(query_embedding=[float(x) for x in vector], similarity_top_k=n)
        )
        hits = []
        for node_id, similarity in zip(result.ids or [], result.similarities or [], strict=False):
            # ChromaVectorStore reports exp(-distance); in cosine space distance = 1 - cosine.
            cosine = 1.0 + math.log(max(similarity, 1e-12))
            if node_id in self.position:
                hits.append((self.position[node_id], cosine))
        return hits

    def lexical(self, question: str, n: int) -> list[tuple[int, float]]:
        return self.bm25.search(question, n)

    # -- fusion ----------------------------------------------------------------------------
    def _fuse(self, dense: list[tuple[int, float]], lexical: list[tuple[int, float]]) -> list[_PaperHit]:
        """Each retriever's paper scores become a softmax distribution; fused = weighted sum.

        A retriever that is sure (one paper far ahead) dominates; one whose scores are flat
        (BM25 on a paraphrase, say) hardly moves the ranking. On the dev set this beat
        reciprocal rank fusion (hit@5 0.97 vs 0.91, MRR 0.91 vs 0.85; see README).
        """
        s = self.settings
        papers: dict[str, _PaperHit] = {}
        for ranking, kind in ((dense, "dense"), (lexical, "bm25")):
            rank = 0
            for pos, score in ranking:
                pid = self.chunks[pos].paper.id
                hit = papers.setdefault(pid, _PaperHit(pid))
                if pos not in hit.chunks:
                    hit.chunks.append(pos)
                if kind == "dense" and hit.dense_rank is None:
                    hit.dense_rank, hit.cosine = rank, score
                    rank += 1
                elif kind == "bm25" and hit.bm25_rank is None:
                    hit.bm25_rank, hit.bm25 = rank, score
                    rank += 1
        hits = list(papers.values())
        for weight, temperature, value in (
            (s.dense_weight, s.dense_temperature, lambda h: h.cosine if h.dense_rank is not None else None),
            (s.bm25_weight, s.bm25_temperature, lambda h: h.bm25 if h.bm25_rank is not None else None),
        ):
            scored = [(h, v) for h in hits if (v := value(h)) is not None]
            if not scored:
                continue
            top = max(v for _, v in scored)
            exps = [(h, math.exp((v - top) / temperature)) for h, v in scored]
            total = sum(e for _, e in exps)
            for h, e in exps:
                h.fused += weight * e / total
        return sorted(hits, key=lambda h: (-h.fused, h.paper_id))

    def _evidence(
        self, question: str, fused: list[_PaperHit], dense: list[tuple[int, float]], k: int
    ) -> dict[str, float]:
        """Signals of answerability (see `is_answerable`)."""
        if not fused:
            return {"confidence": 0.0, "agree": 0.0, "cosine": 0.0, "missing_names": 0.0}
        best = fused[0]
        texts = [
            (self.chunks[h.chunks[0]].paper.title + " " + self.chunks[h.chunks[0]].paper.abstract).lower()
            for h in fused[:k]
        ]
        missing = [name for name in named_terms(question) if not any(_mentions(t, name) for t in texts)]
        return {
            "confidence": best.fused,
            "agree": float(best.dense_rank == 0 and best.bm25_rank == 0),
            "cosine": dense[0][1] if dense else 0.0,
            "missing_names": float(len(missing)),
        }

    def is_answerable(self, evidence: dict[str, float]) -> bool:
        """Weak evidence means "not in the listed papers".

        - The question names something (a capitalised or quoted term, a model name with
          digits) that no retrieved abstract mentions: it asks about a paper we lack.
        - Otherwise both retrievers putting the same paper first is strong evidence.
        - Otherwise the fused top score must be high enough and the best cosine not tiny.
        Thresholds were set on the dev set; see README, "Refusals".
        """
        s = self.settings
        if evidence["missing_names"] > 0:
            return False
        if evidence["agree"]:
            return True
        return evidence["confidence"] >= s.min_confidence and evidence["cosine"] >= s.min_cosine

    def retrieve(self, question: str, k: int | None = None) -> Retrieval:
        k = k or self.settings.top_k
        n = max(self.settings.candidates, 4 * k)
        t0 = time.perf_counter()
        dense = self.dense(question, n)
        t1 = time.perf_counter()
        lexical = self.lexical(question, n)
        t2 = time.perf_counter()
        fused = self._fuse(dense, lexical)
        evidence = self._evidence(question, fused, dense, k)
        sources = []
        for number, hit in enumerate(fused[:k], start=1):
            positions = sorted(hit.chunks, key=lambda p: self.chunks[p].chunk.start)
            sources.append(
                Source(
                    n=number,
                    paper=self.chunks[positions[0]].paper,
                    chunks=[self.chunks[p].chunk for p in positions],
                    score=round(hit.fused, 6),
                )
            )
        t3 = time.perf_counter()
        return Retrieval(
            sources=sources,
            answerable=bool(sources) and self.is_answerable(evidence),
            evidence=evidence,
            timings={"dense_ms": (t1 - t0) * 1e3, "bm25_ms": (t2 - t1) * 1e3, "fuse_ms": (t3 - t2) * 1e3},
        )
