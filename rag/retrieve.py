"""Hybrid retrieval: dense (Chroma, cosine) + BM25 over the same chunks, fused per paper.

The question first goes through `rag.query` (boilerplate stripped, acronyms expanded,
typos repaired, paper names spotted). Each retriever ranks chunks; a paper takes its
best chunk's score in each. Each retriever's paper scores become a softmax
distribution (a retriever sure of one paper dominates, a flat one hardly moves the
ranking) and the distributions are added with weights; a paper the question names by
its coined title word ("SoFar", "HYPO") gets a bonus. Temperatures, weights and the
bonus are set on the tune half of the question set (scripts/tune.py).

Whether the corpus answers the question at all is decided by `rag.answerability`
from the evidence computed here (`Retriever.evidence`).
"""

from __future__ import annotations

import logging
import math
import re
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from rag.answerability import AnswerabilityModel, Verdict, default_model_file
from rag.config import Settings, get_settings
from rag.index import StoredChunk, corpus_version, load_index, open_collection
from rag.landmarks import Landmark, LandmarkIndex, load_landmarks
from rag.models import Paper, Source
from rag.query import MAX_NAME_DF, QUOTED, Query, QueryAnalyzer, _coins, contains_token, discusses, quotes_a_name
from rag.snapshot import load_snapshot, save_snapshot, snapshot_path

log = logging.getLogger(__name__)
WORD = re.compile(r"(?u)\b\w\w+\b")
TOKEN = re.compile(r"\w[\w\-.]*\w|\w")
MAX_SHORT_ASK = 6  # words (boilerplate stripped) of a question that asks for one thing only
LANDMARK_MATCH = 0.6  # cosine above which a question and a landmark's summary are about the same work


DESCRIPTOR = re.compile(r"-(?:style|like|based|type|esque|inspired)$", re.IGNORECASE)
# an amount ("1.6", "1000", "3B", "4-bit", "20%"): written many ways ("1,000", "three billion"), so no name
AMOUNT = re.compile(r"^\d[\d.,]*(?:[kmbt]|bn|-?bits?|%|x)?$", re.IGNORECASE)
ACRONYM = re.compile(r"^[a-z]?[A-Z][A-Za-z0-9]*[A-Z][a-z]?$")  # CNN, kNN, mBERT, ViT, NeRFs, PDEs


def named_terms(question: str) -> list[str]:
    """Quoted phrases and name-like tokens (MusicLM, LLaMA-2, Chinchilla) of a question.

    "GPT-style" or "BERT-based" only says what something resembles, and an amount can be
    written many ways, so neither is a name the papers must carry; a number right after a
    capitalised word is part of a name ("Atari 2600").
    """
    names = [m.group(1).strip() for m in QUOTED.finditer(question) if quotes_a_name(question, m)]
    previous = ""
    for match in TOKEN.finditer(question):
        word, before = match.group(), previous
        previous = word
        if len(word) < 2 or DESCRIPTOR.search(word):
            continue
        if AMOUNT.match(word) and not before[:1].isupper():  # "Atari 2600", "Llama 2": part of a name
            continue
        inner_capital = any(c.isupper() for c in word[1:])
        capitalised = word[0].isupper() and match.start() > 0 and question[: match.start()].rstrip()[-1:] not in ".?!:"
        if inner_capital or capitalised or any(c.isdigit() for c in word):
            names.append(word)
    return names


def _mentions(text: str, name: str, acronyms: dict[str, str] | None = None) -> bool:
    """Case-insensitive, forgiving a plural and a `-style`/`-based` suffix on hyphenated names.

    An acronym also counts as mentioned when the text spells it out: by the long form
    the abstracts or the common list give it ("ViT": vision transformer), or by words
    whose initials are its letters ("kNN": k-nearest neighbours, "PDEs": partial
    differential equations).
    """
    lowered = name.lower()
    variants = {lowered, lowered.removesuffix("s")}
    variants |= {v.split("-")[0] for v in list(variants) if "-" in v and len(v.split("-")[0]) >= 4}
    if any(v in text for v in variants):
        return True
    if not ACRONYM.match(name):
        return False
    singular = name[:-1] if name.endswith("s") and name[-2:-1].isupper() else name
    long = (acronyms or {}).get(singular.lower())
    if long and long in text:
        return True
    return _spelled_out(text, singular.lower())


def _spelled_out(text: str, letters: str) -> bool:
    """Do consecutive words of `text` start with exactly these letters, in order?"""
    if not letters.isalpha() or not 2 <= len(letters) <= 6:
        return False
    return letters in "".join(w[0] for w in re.findall(r"[a-z0-9]+", text))


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

    @property
    def answerable(self) -> bool:
        return self.verdict != "refuse"


@dataclass
class PaperHit:
    """One paper's standing in each retriever and after fusion."""

    paper_id: str
    scores: dict[str, float] = field(default_factory=dict)  # retriever -> the paper's best chunk score
    ranks: dict[str, int] = field(default_factory=dict)  # retriever -> the paper's rank in it (0 = best)
    chunks: list[int] = field(default_factory=list)
    fused: float = 0.0


# (retriever name, settings field of its weight, settings field of its softmax temperature)
SIGNALS = (
    ("dense", "dense_weight", "dense_temperature"),
    ("bm25", "bm25_weight", "bm25_temperature"),
    ("paper_dense", "paper_dense_weight", "paper_dense_temperature"),
)


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
    analyzer: QueryAnalyzer
    paper_text: dict[str, str]
    paper_terms: dict[str, set[str]]

    @classmethod
    def build(cls, chunks: list[StoredChunk]) -> IndexState:
        tokenize = Tokenizer()
        bm25 = BM25Index([c.text for c in chunks], tokenize)
        papers = {c.paper.id: c.paper for c in chunks}
        paper_text = {pid: (p.title + " " + p.abstract).lower() for pid, p in papers.items()}
        analyzer = QueryAnalyzer(
            {pid: p.abstract for pid, p in papers.items()},
            {pid: p.title for pid, p in papers.items()},
            bm25.vocab_df,
            tokenize.stop_words,
        )
        return cls(chunks, bm25, analyzer, paper_text, {pid: set(tokenize(t)) for pid, t in paper_text.items()})


class Retriever:
    """Loads the index once; `retrieve` is thread-safe and read-only."""

    def __init__(self, settings: Settings | None = None, embedder: Any = None) -> None:
        from rag.embeddings import get_embedder

        self.settings = settings or get_settings()
        # read before the chunks: a change made while they load shows as a newer version next time
        self.version = corpus_version(self.settings)  # first: a missing index fails fast
        self.embedder = embedder or get_embedder(self.settings)
        state = self._state()
        self.chunks: list[StoredChunk] = state.chunks
        self.bm25: BM25Index = state.bm25
        self.tokenize: Tokenizer = state.bm25.tokenize
        self.analyzer: QueryAnalyzer = state.analyzer
        self.papers = {c.paper.id: c.paper for c in self.chunks}
        self.paper_text = state.paper_text
        self.paper_terms = state.paper_terms
        self.position = {c.chunk.id: i for i, c in enumerate(self.chunks)}
        self.paper_of = [c.paper.id for c in self.chunks]
        self.paper_count = len(self.papers)
        self.first_chunk: dict[str, int] = {}
        for pos, pid in enumerate(self.paper_of):
            self.first_chunk.setdefault(pid, pos)
        self.collection = open_collection(self.settings)
        self.answerability = AnswerabilityModel.load(
            self.settings.answerability_model or default_model_file(self.settings.paper_embedder)
        )
        self.paper_embedder, self.paper_collection = self._paper_level()
        self.landmarks = LandmarkIndex(
            load_landmarks(), [p.title for p in self.papers.values()], self.embedder, self.settings.data_dir / "cache"
        )
        self.analyzer.known_names = frozenset(
            name.lower() for landmark in self.landmarks.landmarks for name in [*landmark.aka, landmark.title]
        )
        # and their words: "Perceiver" and "splatting" are not misspelt "perceive" and "splitting"
        self.analyzer.known_names |= {w for name in self.analyzer.known_names for w in WORD.findall(name)}
        tokenizer = getattr(self.embedder, "tokenizer", None)
        if tokenizer is not None:
            self.analyzer.common_words = frozenset(w for w in tokenizer.get_vocab() if w.isalpha())
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

    def lexical(self, text: str, n: int) -> list[tuple[int, float]]:
        return self.bm25.search(text, n)

    def analyze(self, question: str) -> Query:
        return self.analyzer.analyze(question, self.settings.strip_boilerplate, self.settings.expand_query)

    def rankings(self, query: Query, n: int) -> tuple[dict[str, list[tuple[int, float]]], dict[str, float]]:
        """Every retriever's chunk ranking for the query, and the time each took (ms)."""
        out: dict[str, list[tuple[int, float]]] = {}
        timings: dict[str, float] = {}
        runs = {
            "dense": lambda: self.dense(query.dense_text, n),
            "bm25": lambda: self.lexical(query.lexical_text, n),
        }
        if self.paper_embedder is not None:
            runs["paper_dense"] = lambda: self.paper_dense(query.dense_text, n)
        for name, run in runs.items():
            started = time.perf_counter()
            out[name] = run()
            timings[f"{name}_ms"] = (time.perf_counter() - started) * 1e3
        return out, timings

    def fuse(self, query: Query, rankings: dict[str, list[tuple[int, float]]]) -> list[PaperHit]:
        s = self.settings
        weights = {name: getattr(s, w) for name, w, _ in SIGNALS}
        temperatures = {name: getattr(s, t) for name, _, t in SIGNALS}
        named = query.named + query.named_in_abstract
        return fuse(rankings, self.paper_of, weights, temperatures, named, s.name_bonus, self.first_chunk)

    # -- answerability ------------------------------------------------------------------------
    def evidence(
        self, query: Query, fused: list[PaperHit], rankings: dict[str, list[tuple[int, float]]], k: int
    ) -> dict[str, float]:
        """Features of how well the best papers match the question (see rag.answerability)."""
        if not fused:
            return {}
        best = fused[0]
        second = fused[1].fused if len(fused) > 1 else 0.0
        terms = [t for t in dict.fromkeys(self.tokenize(query.lexical_text))]
        known = [t for t in terms if t in self.bm25.vocab_df]
        idf = {t: self.bm25.idf(t) for t in known}
        mass = sum(idf.values()) or 1.0
        top_terms = self.paper_terms[best.paper_id]
        top3_terms = set().union(*(self.paper_terms[h.paper_id] for h in fused[:3]))
        max_idf = max(idf.values(), default=1.0)
        names = named_terms(query.text)
        texts = [self.paper_text[h.paper_id] for h in fused[:k]]
        top_titles = [self.papers[h.paper_id].title.lower() for h in fused[:k]]
        acronyms = self.analyzer.acronyms
        missing = [name for name in names if not any(_mentions(t, name, acronyms) for t in texts)]
        dense = rankings.get("dense") or []
        paper_dense = rankings.get("paper_dense") or []
        dense_scores = [score for _, score in dense[:20]]
        _, landmark_top = self.landmarks.nearest(self.query_vector(query.dense_text))
        landmark_names = [name for _, name in self.landmarks.named(query.text)]
        return {
            "fused_top": best.fused,
            "fused_margin": best.fused - second,
            "dense_top": dense_scores[0] if dense_scores else 0.0,
            "paper_dense_top": paper_dense[0][1] if paper_dense else 0.0,
            "dense_spread": (dense_scores[0] - float(np.mean(dense_scores))) if dense_scores else 0.0,
            "agree": sum(best.ranks.get(name) == 0 for name in rankings) / max(len(rankings), 1),
            "coverage": sum(v for t, v in idf.items() if t in top_terms) / mass,
            "coverage_top3": sum(v for t, v in idf.items() if t in top3_terms) / mass,
            # the most specific word of the question that the best paper never uses
            "rarest_missing": max((v for t, v in idf.items() if t not in top_terms), default=0.0) / max_idf,
            "unknown_words": (len(terms) - len(known)) / max(len(terms), 1),
            "named": float(any(h.paper_id in query.named for h in fused[:k])),
            "named_in_abstract": float(any(h.paper_id in query.named_in_abstract for h in fused[:k])),
            "missing_names": min(len(missing), 2) / 2,
            # a well-known name (BERT, ResNet) that no top title carries: asked about, only mentioned here
            "famous_name": float(any(not any(contains_token(t, name) for t in top_titles) for name in query.famous)),
            # "the BERT paper" when no retrieved paper is named BERT (in its title or as the name it coins)
            # or "what is capsule networks?" when no candidate paper (of all fused) is about capsule networks
            "asked_name_absent": float(
                any(not self._names_paper(name, fused[:k]) for name in query.asked_names)
                or bool(query.asked_topic and not self._discussed(query.asked_topic, fused))
            ),
            # a famous paper outside the collection matches the question better than the best chunk does
            "landmark_top": landmark_top,
            "landmark_margin": landmark_top - (dense_scores[0] if dense_scores else 0.0),
            # the question names a famous paper outside the collection ("layer normalization", "DQN")
            # that no top title carries
            "landmark_named": float(
                any(not any(contains_token(t, name) for t in top_titles) for name in landmark_names)
            ),
        }

    def decide(self, query: Query, fused: list[PaperHit], evidence: dict[str, float], k: int) -> tuple[float, Verdict]:
        """The answerability model's probability and verdict, with two overrides, one each way.

        A question that asks about nothing but a name a retrieved paper goes by ("what is
        HYPO?", "what does CALM do") is answered: the user named the paper, and such short
        questions give the model too little evidence to be sure. A short question asking for a
        name or topic that no candidate paper goes by or is about ("What is Deep Sets?",
        "Which paper introduced capsule networks?", "explain layer normalization") is refused
        for the same reason the other way: the asked thing is not here. This evidence
        (`asked_name_absent`) fires for none of the 367 answerable questions of the tune, test,
        dev, fresh and blind sets, nor in the sweeps of tests/test_unseen.py.
        """
        if not evidence:
            return 0.0, "refuse"
        probability = self.answerability.probability(evidence)
        verdict = self.answerability.verdict(probability)
        if set(query.only_name) & {h.paper_id for h in fused[:k]}:
            verdict = "answer"
        elif evidence.get("asked_name_absent") and (query.asked_topic or len(query.text.split()) <= MAX_SHORT_ASK):
            verdict = "refuse"  # "Which paper introduced capsule networks?": no paper here is that one
        return probability, verdict

    def outside(self, query: Query, evidence: dict[str, float]) -> Landmark | None:
        """The famous paper a refused question is about, when the evidence points at one.

        Its summary must match the question better than any chunk of the collection does,
        and closely (cosine >= LANDMARK_MATCH), so the hint is seldom wrong.
        """
        landmark, cosine = self.landmarks.nearest(self.query_vector(query.dense_text))
        if landmark is not None and cosine >= LANDMARK_MATCH and evidence.get("landmark_margin", 0.0) > 0:
            return landmark
        return None

    def _discussed(self, topic: str, hits: list[PaperHit]) -> bool:
        """Is one of these papers about `topic` (not just mentioning it once)?"""
        return any(discusses(self.papers[h.paper_id].title, self.papers[h.paper_id].abstract, topic) for h in hits)

    def _names_paper(self, name: str, hits: list[PaperHit]) -> bool:
        """Is `name` the title (or a title word, or the coined name) of one of these papers?

        A hyphenated variant counts as its paper's name ("MIGA-Conv" is MIGA's). So does a rare
        word an abstract introduces though it does not look coined ("we introduce a new paradigm
        Coconut"); a word many chunks use (BERT) is a well-known name, not the paper's.
        """
        analyzer = self.analyzer
        stem = name.split("-")[0]  # "MIGA-Conv": MIGA's
        names = {name, stem} if len(stem) >= 3 else {name}
        owners = set().union(
            *(set(analyzer.title_names.get(n, ())) | set(analyzer.abstract_names.get(n, ())) for n in names)
        )
        rare = self.analyzer.vocabulary.get(name, 0) <= MAX_NAME_DF  # "Coconut", not "BERT"
        return any(
            h.paper_id in owners
            or contains_token(self.papers[h.paper_id].title.lower().split(":")[0], name)  # the stem only as a name
            or (rare and _coins(self.papers[h.paper_id].abstract, name))
            for h in hits
        )

    def retrieve(self, question: str, k: int | None = None, carried: Sequence[str] = (), depth: int = 0) -> Retrieval:
        """Rank papers for `question`; `carried` papers (a follow-up's earlier sources) count as named.

        `depth`: return this many sources when more than k (the answer may cite papers past the
        top k); the search and the answerability decision are those of k all the same.
        """
        k = k or self.settings.top_k
        n = max(self.settings.candidates, 4 * k)
        started = time.perf_counter()
        query = self.analyze(question)
        if carried:  # "how does the clustering part work?" is about the paper under discussion
            query = replace(query, named=list(dict.fromkeys([*query.named, *carried])), asked_topic="")
        analysed = time.perf_counter()
        rankings, timings = self.rankings(query, n)
        timings["query_ms"] = (analysed - started) * 1e3
        t1 = time.perf_counter()
        fused = self.fuse(query, rankings)
        evidence = self.evidence(query, fused, rankings, self.settings.top_k)
        probability, verdict = self.decide(query, fused, evidence, k)
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
            outside=self.outside(query, evidence) if verdict == "refuse" else None,
            query=query,
            probability=round(probability, 4),
            evidence=evidence,
            timings=timings,
            hits=fused[: len(sources)],
        )
