"""One search: read the question, rank the papers, decide whether they answer it.

`Retriever.retrieve` runs the steps in turn, each in its own module: `rag.question` reads
the question (a `Query`), `rag.rewrite` (opt-in, with an LLM) adds the passage an answering
abstract would contain, `rag.retrieve` ranks papers for both, and `rag.refusal` measures
the evidence and decides (with the famous papers of `rag.landmarks` as a yardstick); then
`rag.rerank` (on unless `Settings.rerank` is off) reorders the top papers shown. No step calls back into an earlier one.
"""

from __future__ import annotations

import math
import time
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from rag.config import Settings
from rag.landmarks import Landmark, LandmarkIndex, load_landmarks
from rag.models import PaperHit, QueryRewrite, Source
from rag.question import Query, QueryAnalyzer
from rag.refusal import Refusal, load_model, outside
from rag.refusal_model import Verdict, default_model_file, warn_if_fitted_otherwise
from rag.rerank import RerankModel, default_rerank_file, rerank_features
from rag.retrieve import Ranker
from rag.rewrite import QueryRewriter, fuse_with_passage
from rag.sentences import SentenceIndex


@dataclass
class Retrieval:
    """Ranked sources plus the evidence used to decide answerability."""

    sources: list[Source]
    verdict: Verdict
    query: Query
    probability: float = 0.0
    evidence: dict[str, float] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    outside: Landmark | None = None  # a famous paper the question sounds like that the collection lacks
    hits: list[PaperHit] = field(default_factory=list)  # each source's standing per retriever, in source order
    rewrite: QueryRewrite | None = None  # the LLM's passage searched beside the question, or why not

    @property
    def answerable(self) -> bool:
        return self.verdict != "refuse"


def common_words(embedder: Any) -> frozenset[str]:
    """Everyday English words: the embedder's vocabulary (none for an embedder without one)."""
    tokenizer = getattr(embedder, "tokenizer", None)
    return frozenset(w for w in tokenizer.get_vocab() if w.isalpha()) if tokenizer is not None else frozenset()


class Retriever(Ranker):
    """The index's ranker with question reading and the refusal decision; `retrieve` is thread-safe."""

    def __init__(self, settings: Settings | None = None, embedder: Any = None) -> None:
        super().__init__(settings, embedder)
        self.landmarks = LandmarkIndex(
            load_landmarks(), [p.title for p in self.papers.values()], self.embedder, self.settings.data_dir / "cache"
        )
        self.analyzer = QueryAnalyzer(self.names, self.landmarks.known_names(), common_words(self.embedder))
        model = load_model(self.settings.answerability_model or default_model_file(self.settings.paper_embedder))
        warn_if_fitted_otherwise(model, self.settings, getattr(self.embedder, "name", None))
        self.refusal = Refusal(
            model, self.papers, self.paper_text, self.paper_terms, self.names, self.tokenize, self.bm25.idf
        )
        rewrite = self.settings.query_rewrite and self.settings.llm_enabled
        self.rewriter = QueryRewriter(self.settings) if rewrite else None
        # the abstracts' sentence vectors: the rerank reads them, and the answer's planner shares this copy
        self.sentences = SentenceIndex.load(self.settings, self.version)
        self.reranker = self._reranker()

    def _reranker(self) -> RerankModel | None:
        """The rerank model when it is on and this index has what it reads (paper-level vectors)."""
        if not self.settings.rerank or self.paper_embedder is None:
            return None
        return RerankModel.load(self.settings.rerank_model or default_rerank_file(self.settings.paper_embedder))

    def analyze(self, question: str, absent: Collection[str] = frozenset()) -> Query:
        return self.analyzer.analyze(question, self.settings.strip_boilerplate, self.settings.expand_query, absent)

    def nearest_landmark(self, query: Query) -> tuple[Landmark | None, float]:
        """The famous paper outside the collection closest to the question, and its cosine."""
        return self.landmarks.nearest(self.query_vector(query.dense_text))

    def evidence(
        self, query: Query, fused: list[PaperHit], rankings: dict[str, list[tuple[int, float]]], k: int
    ) -> dict[str, float]:
        """The refusal evidence for a ranking (scripts/tune.py fits the model on it)."""
        return self.refusal.evidence(query, fused, rankings, k, self.nearest_landmark(query)[1])

    def retrieve(
        self,
        question: str,
        k: int | None = None,
        carried: Sequence[str] = (),
        exclude: Collection[str] = (),
        depth: int = 0,
        rewrite: bool = True,
        pool: Sequence[str] = (),
    ) -> Retrieval:
        """Rank papers for `question`; `carried` papers (a follow-up's earlier sources) count as named.

        `pool`: a follow-up's papers to choose among ("which of them is about stock prediction?"): ranked
        like carried ones, recorded in `Query.pool` so the answer cites them only on their merits.

        `rewrite=False`: no LLM query rewrite even when it is on (a probe search, such as a follow-up's
        message searched alone to see whether it has a topic of its own, costs no request).

        `depth`: return this many sources when more than k (the answer may cite papers past the
        top k); the search and the answerability decision are those of k all the same.

        `exclude`: papers to rank and decide as if absent (another process deleted them and this
        index has not reloaded yet): the verdict is made again from the papers that are left.
        """
        k = k or self.settings.top_k
        n = max(self.settings.candidates, 4 * k)
        started = time.perf_counter()
        query = self.analyze(question, absent=exclude)
        if carried or pool:  # "how does the clustering part work?" is about the paper(s) under discussion
            query = replace(
                query,
                named=list(dict.fromkeys([*query.named, *carried, *pool])),
                pool=[pid for pid in pool if pid not in query.named],  # those the question does not name itself
                asked_topic="",
            )
        analysed = time.perf_counter()
        rewritten = self.rewrite(question, query) if rewrite else None
        rankings, timings = self.rankings(query, n)
        passage_rankings = self.passage_rankings(rewritten.passage, n, timings) if rewritten and rewritten.used else {}
        if exclude:
            gone = set(exclude)
            rankings, passage_rankings = (
                {name: [(pos, v) for pos, v in got if self.paper_of[pos] not in gone] for name, got in r.items()}
                for r in (rankings, passage_rankings)
            )
        timings["query_ms"] = (analysed - started) * 1e3
        if rewritten is not None:
            timings["rewrite_ms"] = rewritten.ms
        t1 = time.perf_counter()
        fused = self.fuse(query, rankings)
        landmark, landmark_cosine = self.nearest_landmark(query)
        # whether the papers answer it is the question's own evidence: a made-up passage finds some paper
        evidence = self.refusal.evidence(query, fused, rankings, self.settings.top_k, landmark_cosine)
        probability, verdict = self.refusal.decide(query, fused, evidence, k)
        if passage_rankings:  # the order of the papers is both texts' (the passage is the query expansion then)
            named = query.named + query.named_in_abstract
            fused = fuse_with_passage(rankings, passage_rankings, self.paper_of, self.settings, named, self.first_chunk)
        else:  # the order the sources are shown in; the verdict above reads the fusion the model was fitted on
            fused = self.feedback(query, rankings, fused, n, exclude)
            fused = self.rerank(query, fused, timings)
        if query.only_name:  # "what problem does The Geometry of Concepts solve": that paper first
            fused = sorted(fused, key=lambda h: h.paper_id not in query.only_name)  # stable
        sources = []
        for number, hit in enumerate(fused[: max(k, depth)], start=1):
            positions = sorted(hit.chunks, key=lambda p: self.chunks[p].chunk.start)
            sources.append(
                Source(
                    n=number,
                    paper=self.chunks[positions[0]].paper,
                    chunks=[self.chunks[p].chunk for p in positions],
                    score=round(hit.fused, 6),
                )
            )
        timings["fuse_ms"] = (time.perf_counter() - t1) * 1e3
        verdict = verdict if sources else "refuse"
        return Retrieval(
            sources=sources,
            verdict=verdict,
            outside=outside(landmark, landmark_cosine, evidence) if verdict == "refuse" else None,
            query=query,
            probability=round(probability, 4),
            evidence=evidence,
            timings=timings,
            hits=fused[: len(sources)],
            rewrite=rewritten,
        )

    def rerank_rows(
        self, query: Query, fused: Sequence[PaperHit], pool: int, sentence_rank: bool = False
    ) -> list[dict[str, float]]:
        """`rag.rerank.FEATURES` of the top `pool` papers of `fused` (scripts/fit_rerank.py fits on these).

        `sentence_rank`: also `r_sentence`, the paper's rank by its best sentence over the collection.
        """
        top = list(fused[:pool])
        vector = self.query_vector(query.dense_text)
        sims = [self.sentences.similarities(vector, h.paper_id) for h in top]
        terms = [t for t in dict.fromkeys(self.tokenize(query.lexical_text)) if t in self.bm25.vocab_df]
        question_vector = None
        paper_vectors: list[np.ndarray | None] = [None] * len(top)
        if self.paper_embedder is not None:
            question_vector = self.paper_embedder.embed_query(query.dense_text)
            vector_of = self.paper_vectors([h.paper_id for h in top])
            paper_vectors = [vector_of[h.paper_id] for h in top]
        papers = [self.papers[h.paper_id] for h in top]
        rows = rerank_features(papers, top, terms, self.idf, self.tokenize, sims, question_vector, paper_vectors)
        if sentence_rank:
            ranks = self.sentences.paper_ranks(vector)
            for row, hit in zip(rows, top, strict=True):
                row["r_sentence"] = math.log1p(ranks.get(hit.paper_id, len(ranks)))
        return rows

    def rerank(self, query: Query, fused: list[PaperHit], timings: dict[str, float]) -> list[PaperHit]:
        """The top of `fused` reordered by the rerank model; as it was when the rerank is off.

        A question that names a paper is left alone (its name already decides, as for the feedback).
        """
        model = self.reranker
        if model is None or len(fused) < 2 or query.named or query.named_in_abstract:
            return fused
        started = time.perf_counter()
        positions, head = model.candidates(fused)
        candidates = [fused[i] for i in positions]
        rows = self.rerank_rows(query, candidates, len(candidates), "r_sentence" in model.features)
        fused = model.rerank(fused, rows, positions, head)
        timings["rerank_ms"] = (time.perf_counter() - started) * 1e3
        return fused

    def rewrite(self, question: str, query: Query) -> QueryRewrite | None:
        """The LLM's passage for a vague question; None when the rewrite is off.

        A question that names its paper (or a follow-up about the papers before) is not vague:
        it is searched alone, with no request.
        """
        if self.rewriter is None:
            return None
        if query.named or query.named_in_abstract:
            return QueryRewrite(skipped="the question names its paper")
        return self.rewriter.rewrite(question)

    def passage_rankings(self, passage: str, n: int, timings: dict[str, float]) -> dict[str, list[tuple[int, float]]]:
        """Every retriever's ranking for the rewritten passage (searched as it is: it asks nothing)."""
        started = time.perf_counter()
        out, _ = self.rankings_of(passage, passage, n)
        timings["rewrite_search_ms"] = (time.perf_counter() - started) * 1e3
        return out
