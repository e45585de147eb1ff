"""Hybrid retrieval: dense (Chroma, cosine) + BM25 over the same chunks, fused per paper.

`Ranker` ranks papers for a `Query` (a question as `rag.question` read it). Each
retriever ranks chunks; a paper takes its best chunk's score in each. Each retriever's
paper scores become a softmax distribution (a retriever sure of one paper dominates, a
flat one hardly moves the ranking) and the distributions are added with weights. A paper
the question names gets the name bonus: by a name-like title word ("SoFar", "HYPO"), a
short title head or the whole title (`Query.named`), or by a name its abstract coins
("PCME", `Query.named_in_abstract`); a follow-up's earlier papers count as named too.
Temperatures, weights and the bonus are set on the tune half of the question set
(scripts/tune.py).

Whether the corpus answers the question at all is decided afterwards, from the ranking,
by `rag.refusal`; `rag.search` runs the two in turn.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from rag.config import Settings, get_settings
from rag.index import (
    StoredChunk,
    check_vector_files,
    corpus_version,
    load_index,
    open_collection,
    spot_check_vectors,
)
from rag.models import Paper, PaperHit
from rag.question import CorpusNames, Query
from rag.question.common_words import CorpusWords
from rag.question.text import WORD
from rag.snapshot import load_snapshot, save_snapshot, snapshot_path

log = logging.getLogger(__name__)


class Tokenizer:
    """Lower-case word tokens with English stop words out: for BM25 and term coverage.

    No stemming: Snowball stemming measured worse on the dev set (BM25 alone hit@5
    0.88 vs 0.91), as it merges technical terms that differ in meaning.
    """

    def __init__(self) -> None:
        from bm25s.stopwords import STOPWORDS_EN

        self.stop_words = frozenset(STOPWORDS_EN)

    def __call__(self, text: str) -> list[str]:
        return [w for w in WORD.findall(text.lower()) if w not in self.stop_words]


class BM25Index:
    """bm25s over pre-tokenised chunk texts."""

    def __init__(self, texts: list[str], tokenizer: Tokenizer) -> None:
        import bm25s

        logging.getLogger("bm25s").setLevel(logging.WARNING)  # it sets itself to DEBUG on import
        self.tokenize = tokenizer
        docs = [tokenizer(t) for t in texts]
        self.size = len(docs)
        self.vocab_df: dict[str, int] = {}
        for doc in docs:
            for term in set(doc):
                self.vocab_df[term] = self.vocab_df.get(term, 0) + 1
        self.model = bm25s.BM25()
        self.model.index(docs, show_progress=False)  # the token lists are not kept: bm25s holds what it needs

    def idf(self, term: str) -> float:
        """BM25's inverse document frequency of a term over the chunks."""
        df = self.vocab_df.get(term, 0)
        return math.log(1 + (self.size - df + 0.5) / (df + 0.5))

    def search(self, question: str, n: int) -> list[tuple[int, float]]:
        terms = [t for t in self.tokenize(question) if t in self.vocab_df]
        if not terms:
            return []
        scores = self.model.get_scores(terms)
        n = min(n, len(scores))
        top = np.argpartition(-scores, n - 1)[:n]
        top = top[np.argsort(-scores[top])]
        return [(int(i), float(scores[i])) for i in top if scores[i] > 0]


# (retriever name, settings field of its weight, settings field of its softmax temperature)
SIGNALS = (
    ("dense", "dense_weight", "dense_temperature"),
    ("bm25", "bm25_weight", "bm25_temperature"),
    ("paper_dense", "paper_dense_weight", "paper_dense_temperature"),
)


def signal_weights(settings: Settings) -> tuple[dict[str, float], dict[str, float]]:
    """Each SIGNALS retriever's fusion weight and softmax temperature, as the settings give them."""
    weights = {name: getattr(settings, w) for name, w, _ in SIGNALS}
    temperatures = {name: getattr(settings, t) for name, _, t in SIGNALS}
    return weights, temperatures


def fuse(
    rankings: dict[str, list[tuple[int, float]]],
    paper_of: list[str],
    weights: dict[str, float],
    temperatures: dict[str, float],
    named: list[str] | tuple[str, ...] = (),
    name_bonus: float = 0.0,
    first_chunk: dict[str, int] | None = None,
) -> list[PaperHit]:
    """Softmax-score fusion of chunk rankings into one paper ranking (best first).

    `rankings` maps a retriever to its (chunk position, score) list, best first;
    `paper_of[position]` is the chunk's paper id. A named paper no retriever ranked
    ("what problem does The Geometry of Concepts solve") enters with its first chunk
    (`first_chunk`) and the name bonus alone. Pure: the tuning script calls it with
    cached rankings to search weights and temperatures fast.
    """
    papers: dict[str, PaperHit] = {}
    for name, ranking in rankings.items():
        rank = 0  # papers this retriever has ranked so far
        for pos, score in ranking:
            hit = papers.setdefault(paper_of[pos], PaperHit(paper_of[pos]))
            if pos not in hit.chunks:
                hit.chunks.append(pos)
            if name not in hit.scores:
                hit.ranks[name], hit.scores[name] = rank, score
                rank += 1
    for pid in named:
        if first_chunk is not None and pid not in papers and pid in first_chunk:
            papers[pid] = PaperHit(pid, chunks=[first_chunk[pid]])
    hits = list(papers.values())
    for name in rankings:
        scored = [(h, h.scores[name]) for h in hits if name in h.scores]
        if not scored or weights.get(name, 0.0) == 0.0:
            continue
        top = max(v for _, v in scored)
        exps = [(h, math.exp((v - top) / temperatures[name])) for h, v in scored]
        total = sum(e for _, e in exps)
        for h, e in exps:
            h.fused += weights[name] * e / total
    total_weight = sum(weights.get(name, 0.0) for name in rankings) or 1.0
    for h in hits:
        h.fused /= total_weight
        if h.paper_id in named:
            h.fused += name_bonus
    return sorted(hits, key=lambda h: (-h.fused, h.paper_id))


def feedback_vector(
    query_vector: np.ndarray, top_vectors: np.ndarray, top_scores: Sequence[float], beta: float
) -> np.ndarray:
    """Rocchio pseudo-relevance feedback: the question's vector moved toward its top papers, unit length.

    q' = q + beta * (centroid of `top_vectors` weighted by `top_scores`). A half-remembered
    question shares few words with the abstract it means; the papers fusion ranks first
    share the abstract's vocabulary, so searching again from between them reaches the
    neighbours the question's own words miss (docs/evaluation.md, "Ranking variants").
    """
    query_vector = np.asarray(query_vector, dtype=np.float64)
    top_vectors = np.asarray(top_vectors, dtype=np.float64).reshape(-1, query_vector.shape[0])
    weights = np.clip(np.asarray(top_scores, dtype=np.float64), 0.0, None)
    if len(top_vectors) == 0 or beta == 0.0 or weights.sum() <= 0.0:
        return query_vector / (np.linalg.norm(query_vector) or 1.0)
    moved = query_vector + beta * (weights[:, None] * top_vectors).sum(axis=0) / weights.sum()
    return moved / (np.linalg.norm(moved) or 1.0)


def _nearest(collection: Any, vector: np.ndarray, n: int, position: dict[str, int]) -> list[tuple[int, float]]:
    """A Chroma cosine-space query as (position of each hit's id, cosine = 1 - distance), best first."""
    result = collection.query(query_embeddings=[vector.astype(float).tolist()], n_results=n, include=["distances"])
    ids, distances = result["ids"][0], (result["distances"] or [[]])[0]
    return [(position[i], 1.0 - float(d)) for i, d in zip(ids, distances, strict=True) if i in position]


@dataclass
class IndexState:
    """Everything retrieval derives from the stored chunks (saved per corpus version by rag.snapshot)."""

    chunks: list[StoredChunk]
    bm25: BM25Index
    names: CorpusNames
    paper_text: dict[str, str]
    paper_terms: dict[str, set[str]]
    words: CorpusWords  # how many papers use each word: a follow-up's common words name no topic of its own

    @classmethod
    def build(cls, chunks: list[StoredChunk]) -> IndexState:
        tokenize = Tokenizer()
        bm25 = BM25Index([c.text for c in chunks], tokenize)
        papers = {c.paper.id: c.paper for c in chunks}
        paper_text = {pid: (p.title + " " + p.abstract).lower() for pid, p in papers.items()}
        names = CorpusNames.build(
            {pid: p.abstract for pid, p in papers.items()},
            {pid: p.title for pid, p in papers.items()},
            bm25.vocab_df,
            tokenize.stop_words,
        )
        terms = {pid: set(tokenize(t)) for pid, t in paper_text.items()}
        return cls(chunks, bm25, names, paper_text, terms, CorpusWords(paper_text.values()))


class Ranker:
    """Loads the index once and ranks papers for a query; thread-safe and read-only."""

    def __init__(self, settings: Settings | None = None, embedder: Any = None) -> None:
        from rag.embeddings import get_embedder

        self.settings = settings or get_settings()
        check_vector_files(self.settings)  # before chromadb reads a vector file: a damaged one can crash it
        # read before the chunks: a change made while they load shows as a newer version next time
        self.version = corpus_version(self.settings)  # first: a missing index fails fast
        self.embedder = embedder or get_embedder(self.settings)
        state = self._state()
        self.chunks: list[StoredChunk] = state.chunks
        self.bm25: BM25Index = state.bm25
        self.tokenize: Tokenizer = state.bm25.tokenize
        self.names: CorpusNames = state.names  # what question reading knows of this corpus
        self.papers = {c.paper.id: c.paper for c in self.chunks}
        self.paper_text = state.paper_text
        self.paper_terms = state.paper_terms
        self.corpus_words: CorpusWords = state.words
        self.position = {c.chunk.id: i for i, c in enumerate(self.chunks)}
        self.paper_of = [c.paper.id for c in self.chunks]
        self.paper_count = len(self.papers)
        self.first_chunk: dict[str, int] = {}
        for pos, pid in enumerate(self.paper_of):
            self.first_chunk.setdefault(pid, pos)
        self.collection = open_collection(self.settings)
        spot_check_vectors(
            self.settings, self.collection, [(c.chunk.id, c.text) for c in self.chunks], self.embedder.embed
        )
        self.paper_embedder, self.paper_collection = self._paper_level()
        self._paper_vectors: dict[str, np.ndarray | None] = {}  # paper id -> paper-level vector (Ranker.paper_vectors)
        self._vectors: dict[str, np.ndarray] = {}  # the last few query vectors: dense search and landmarks share one
        self._vectors_lock = threading.Lock()

    def _state(self) -> IndexState:
        """The derived state of this corpus version: from its snapshot, else built from the store and saved."""
        path = snapshot_path(self.settings, self.version, self.embedder.name) if self.version else None
        state = load_snapshot(path) if path else None
        if isinstance(state, IndexState):
            return state
        state = IndexState.build(load_index(self.settings))
        if path:
            save_snapshot(path, state)
        return state

    def _paper_level(self) -> tuple[Any, Any]:
        """The paper-level embedder and its collection, when configured and ingested."""
        from rag.embeddings import get_paper_embedder
        from rag.index import open_paper_collection

        if self.settings.paper_embedder == "none":
            return None, None
        try:
            collection = open_paper_collection(self.settings)
        except Exception as exc:
            log.warning("no paper-level vectors (%s): run `rag ingest`; using chunk retrieval only", exc)
            return None, None
        return get_paper_embedder(self.settings), collection

    def all_papers(self) -> list[Paper]:
        """Every paper of the index, by title."""
        return sorted(self.papers.values(), key=lambda p: p.title.lower())

    def title_of(self, position: int) -> str:
        """The title of the paper a chunk position (as the retrievers return them) belongs to."""
        return self.chunks[position].paper.title

    def idf(self, term: str) -> float:
        """BM25's inverse document frequency of a word over the chunks (the extractive answerer weighs by it)."""
        return self.bm25.idf(term)

    def present(self, paper_ids: Sequence[str]) -> set[str]:
        """Which of these papers the store still holds (another process may have removed some)."""
        chunk_of = {pid: self.chunks[self.first_chunk[pid]].chunk.id for pid in paper_ids if pid in self.first_chunk}
        held = set(self.collection.get(ids=list(chunk_of.values()), include=[])["ids"]) if chunk_of else set()
        return {pid for pid, cid in chunk_of.items() if cid in held}

    # -- the retrievers ---------------------------------------------------------------------
    def query_vector(self, text: str) -> np.ndarray:
        """The chunk embedder's vector of a query text, embedded once however many signals use it."""
        with self._vectors_lock:
            vector = self._vectors.get(text)
        if vector is None:
            vector = self.embedder.embed_query(text)
            with self._vectors_lock:
                if len(self._vectors) >= 64:
                    self._vectors.pop(next(iter(self._vectors)))
                self._vectors[text] = vector
        return vector

    def dense(self, text: str, n: int) -> list[tuple[int, float]]:
        """(chunk position, cosine) best first, straight from the Chroma collection (cosine space)."""
        return _nearest(self.collection, self.query_vector(text), min(n, len(self.chunks)), self.position)

    def paper_dense(self, text: str, n: int) -> list[tuple[int, float]]:
        """(first chunk position of the paper, cosine) from the paper-level embedder, best first."""
        if self.paper_embedder is None:
            return []
        vector = self.paper_embedder.embed_query(text)
        return _nearest(self.paper_collection, vector, min(n, self.paper_count), self.first_chunk)

    def paper_vectors(self, paper_ids: Sequence[str]) -> dict[str, np.ndarray | None]:
        """Each paper's paper-level vector (None: not in the paper collection), read from it once per paper.

        Feedback and the answer's per-paper decision both need the top papers' vectors; a retriever
        serves one corpus version, so what it read stays valid for its life.
        """
        if self.paper_collection is None:
            return dict.fromkeys(paper_ids)
        wanted = [pid for pid in dict.fromkeys(paper_ids) if pid not in self._paper_vectors]
        if wanted:
            got = self.paper_collection.get(ids=wanted, include=["embeddings"])
            stored = got["embeddings"] if got["embeddings"] is not None else []
            vectors = dict(zip(got["ids"], stored, strict=True))
            for pid in wanted:
                vector = vectors.get(pid)
                self._paper_vectors[pid] = None if vector is None else np.asarray(vector, dtype=np.float32)
        return {pid: self._paper_vectors[pid] for pid in paper_ids}

    def lexical(self, text: str, n: int) -> list[tuple[int, float]]:
        return self.bm25.search(text, n)

    def rankings(self, query: Query, n: int) -> tuple[dict[str, list[tuple[int, float]]], dict[str, float]]:
        """Every retriever's chunk ranking for the query, and the time each took (ms)."""
        return self.rankings_of(query.dense_text, query.lexical_text, n)

    def rankings_of(
        self, dense_text: str, lexical_text: str, n: int
    ) -> tuple[dict[str, list[tuple[int, float]]], dict[str, float]]:
        """Every retriever's ranking for these texts (dense and paper-level search one, BM25 the other)."""
        out: dict[str, list[tuple[int, float]]] = {}
        timings: dict[str, float] = {}
        runs = {
            "dense": lambda: self.dense(dense_text, n),
            "bm25": lambda: self.lexical(lexical_text, n),
        }
        if self.paper_embedder is not None:
            runs["paper_dense"] = lambda: self.paper_dense(dense_text, n)
        for name, run in runs.items():
            started = time.perf_counter()
            out[name] = run()
            timings[f"{name}_ms"] = (time.perf_counter() - started) * 1e3
        return out, timings

    def fuse(self, query: Query, rankings: dict[str, list[tuple[int, float]]]) -> list[PaperHit]:
        weights, temperatures = signal_weights(self.settings)
        named = query.named + query.named_in_abstract
        return fuse(rankings, self.paper_of, weights, temperatures, named, self.settings.name_bonus, self.first_chunk)

    def feedback(
        self,
        query: Query,
        rankings: dict[str, list[tuple[int, float]]],
        fused: list[PaperHit],
        n: int,
        exclude: Collection[str] = (),
    ) -> list[PaperHit]:
        """`fused` re-fused with pseudo-relevance feedback as a fourth signal; `fused` itself when it is off.

        Off without a paper embedder, at weight 0, and for a question that names a paper (its
        name already decides; moving toward the top papers would only drift). The paper
        embedder's query vector is cached, so this costs two collection calls and a fusion.
        """
        s = self.settings
        if s.feedback_weight == 0.0 or self.paper_embedder is None or not fused:
            return fused
        if query.named or query.named_in_abstract:
            return fused
        top = fused[: s.feedback_depth]
        vector_of = self.paper_vectors([h.paper_id for h in top])
        held = [h for h in top if vector_of[h.paper_id] is not None]
        if not held:
            return fused
        vector = feedback_vector(
            self.paper_embedder.embed_query(query.dense_text),
            np.asarray([vector_of[h.paper_id] for h in held]),
            [h.fused for h in held],
            s.feedback_beta,
        )
        ranking = _nearest(self.paper_collection, vector, min(n, self.paper_count), self.first_chunk)
        if exclude:
            ranking = [(pos, v) for pos, v in ranking if self.paper_of[pos] not in exclude]
        weights, temperatures = signal_weights(s)
        weights["feedback"], temperatures["feedback"] = s.feedback_weight, s.paper_dense_temperature
        return fuse({**rankings, "feedback": ranking}, self.paper_of, weights, temperatures, (), 0.0, self.first_chunk)
