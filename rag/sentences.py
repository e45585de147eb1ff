"""Abstract sentences embedded at ingest, so answers can pick sentences by meaning.

Shared words alone pick the wrong sentence of a right paper (background, a link, "code is
available at"); ranking a paper's sentences by MiniLM similarity to the question puts the
sentence that holds the answer in the top two far more often. Every abstract sentence (as
`rag.text.split_sentences` cuts it, the same cut the citations quote) is embedded
with the chunk embedder and stored in a Chroma collection beside the chunks
(`{collection}_sentences`, ids `{paper_id}:s{n}`, metadata: paper id, offsets, and the paper's
content hash). Like the chunks this is incremental and idempotent: a paper is re-embedded only
when its content hash changes, papers gone from the seeds lose their sentences. The seeds'
sentence vectors ship with the package (`rag/sentence-vectors-minilm.npz`, see
`rag.paper_vectors`): a sentence whose text and embedder digest match is stored from the file,
so a cold ingest of the seeds embeds none and a changed abstract only its new sentences.

A serving process reads every vector once into one matrix (`SentenceIndex`), saved per corpus
version beside the retrieval snapshot, so it is a file read, not a collection scan, at start.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from rag.config import Settings
from rag.models import Paper
from rag.text import split_sentences

if TYPE_CHECKING:
    from chromadb.api.models.Collection import Collection

log = logging.getLogger(__name__)
SENTENCE_BATCH = 64  # sentences are short: a wide batch pads little once sorted by length
PAGE = 5000


def sentence_collection_name(settings: Settings) -> str:
    return f"{settings.collection}_sentences"


def open_sentence_collection(settings: Settings, create: bool = False) -> Collection:
    """One vector per abstract sentence, beside the chunk collection."""
    from rag.index import open_side_collection

    return open_side_collection(settings, sentence_collection_name(settings), {}, create)


def paper_sentences(paper: Paper) -> list[tuple[int, int, str]]:
    """(start, end, text) of each abstract sentence, cut as the citations quote them."""
    return [(s.start, s.end, s.text) for s in split_sentences(paper.abstract)]


def _held(collection: Collection) -> dict[str, tuple[str, list[str]]]:
    """paper id -> (content hash, its sentence ids) as the store holds them."""
    held: dict[str, tuple[str, list[str]]] = {}
    offset = 0
    while True:
        got = collection.get(include=["metadatas"], limit=PAGE, offset=offset)
        for sid, meta in zip(got["ids"], got["metadatas"] or [], strict=False):
            pid = str((meta or {}).get("paper_id", sid.rsplit(":", 1)[0]))
            digest = str((meta or {}).get("content_hash", ""))
            old = held.get(pid)
            if old is None:
                held[pid] = (digest, [sid])
            else:
                old[1].append(sid)
                if old[0] != digest:
                    held[pid] = ("mixed", old[1])
        if len(got["ids"]) < PAGE:
            return held
        offset += PAGE


@dataclass
class SentenceSync:
    """What `sync_sentence_vectors` wrote: papers whose sentences were (re)stored, and from where."""

    papers: int = 0  # papers whose sentence vectors were written (from the package or embedded)
    papers_embedded: int = 0  # of those, papers with at least one sentence embedded here
    sentences_shipped: int = 0  # sentences stored from the package's file
    sentences_embedded: int = 0  # sentences embedded here


def sync_sentence_vectors(
    papers: list[Paper],
    settings: Settings,
    keep: Iterable[str] = (),
    progress: Callable[[int, int], None] | None = None,
) -> SentenceSync:
    """Bring the sentence collection in line with `papers`.

    `keep`: paper ids not to delete though absent from `papers` (their seed file failed to parse).
    `progress(done, total)` counts the papers with a sentence to embed (none for the seeds).
    """
    from rag.embeddings import get_embedder
    from rag.index import content_hash

    embedder = get_embedder(settings)
    collection = open_sentence_collection(settings, create=True)
    held = _held(collection)
    wanted = {p.id for p in papers}
    kept = set(keep)
    stale = [sid for pid, (_, ids) in held.items() if pid not in wanted and pid not in kept for sid in ids]
    if stale:
        collection.delete(ids=stale)
    todo: list[tuple[Paper, str, list[tuple[int, int, str]]]] = []
    for paper in papers:
        digest = content_hash(paper, settings, embedder.name)
        mine = held.get(paper.id)
        sentences = paper_sentences(paper)
        if mine is None or mine[0] != digest or len(mine[1]) != len(sentences):
            todo.append((paper, digest, sentences))
    sync = SentenceSync(papers=len(todo))
    shipped = _shipped_for(embedder) if todo else None
    found = [[shipped(text) if shipped else None for _, _, text in sentences] for _, _, sentences in todo]
    complete = [i for i, vectors in enumerate(found) if all(v is not None for v in vectors)]
    partial = [i for i, vectors in enumerate(found) if any(v is None for v in vectors)]
    sync.papers_embedded = len(partial)
    if complete:
        log.info("sentence vectors: %d papers from the package, %d to embed", len(complete), len(partial))
    for start in range(0, len(complete), 500):  # from the package: no model run, no progress bar
        _store(collection, held, [(todo[i], found[i]) for i in complete[start : start + 500]], embedder, sync)
    done = 0
    batch_papers = papers_per_batch(settings)
    for start in range(0, len(partial), batch_papers):
        batch = [(todo[i], found[i]) for i in partial[start : start + batch_papers]]
        _store(collection, held, batch, embedder, sync)
        done += len(batch)
        if progress:
            progress(done, len(partial))
    return sync


def _shipped_for(embedder: Any) -> Callable[[str], np.ndarray | None]:
    """sentence text -> the package's vector under this very embedder's digest, else None."""
    from rag import paper_vectors

    kind, digest = getattr(embedder, "prefix", None), getattr(embedder, "digest", None)
    shipped = paper_vectors.shipped_sentences(kind) if kind and digest else None
    if shipped is None or digest is None:
        return lambda text: None
    return lambda text: shipped.get(text, digest)


def _store(
    collection: Collection,
    held: dict[str, tuple[str, list[str]]],
    batch: list[tuple[tuple[Paper, str, list[tuple[int, int, str]]], list[np.ndarray | None]]],
    embedder: Any,
    sync: SentenceSync,
) -> None:
    """Replace the stored sentences of a batch of papers; embed only those without a shipped vector."""
    ids: list[str] = []
    metas: list[dict[str, Any]] = []
    vectors: list[np.ndarray | None] = []
    old_ids: list[str] = []
    for (paper, digest, sentences), shipped in batch:
        old_ids += held.get(paper.id, ("", []))[1]
        for n, ((s_start, s_end, _text), vector) in enumerate(zip(sentences, shipped, strict=True)):
            ids.append(f"{paper.id}:s{n}")
            metas.append({"paper_id": paper.id, "n": n, "start": s_start, "end": s_end, "content_hash": digest})
            vectors.append(vector)
    missing = [i for i, v in enumerate(vectors) if v is None]
    texts = [sentence[2] for (_paper, _digest, sentences), _ in batch for sentence in sentences]
    if missing:
        fresh = embed_sentences(embedder, [texts[i] for i in missing])
        for i, vector in zip(missing, fresh, strict=True):
            vectors[i] = vector
    sync.sentences_embedded += len(missing)
    sync.sentences_shipped += len(vectors) - len(missing)
    if old_ids:
        collection.delete(ids=old_ids)
    if ids:
        matrix = np.asarray(vectors, dtype=np.float32)
        collection.add(ids=ids, embeddings=matrix.astype(float).tolist(), metadatas=metas)  # type: ignore[arg-type]


def papers_per_batch(settings: Settings) -> int:
    """Papers whose sentences are embedded in one call. scripts/ship_paper_vectors.py batches the
    seeds alike, so the shipped vectors are the very floats a cold ingest would compute."""
    return max(1, settings.embed_batch * 4)


def embed_sentences(embedder: Any, texts: list[str]) -> np.ndarray:
    """Embed short texts in wide batches (the embedder's own batch size suits chunks)."""
    size = getattr(embedder, "batch_size", None)
    if size is None:
        return embedder.embed(texts)
    embedder.batch_size = max(size, SENTENCE_BATCH)
    try:
        return embedder.embed(texts)
    finally:
        embedder.batch_size = size


@dataclass
class SentenceIndex:
    """Every stored sentence vector in one matrix, rows grouped by paper."""

    vectors: np.ndarray  # (n, dim) float32, unit length
    starts: np.ndarray  # (n,) int: offsets into the abstract
    ends: np.ndarray
    rows: dict[str, tuple[int, int]]  # paper id -> [first row, last row + 1)

    def of(self, paper_id: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(vectors, starts, ends) of one paper's sentences, in abstract order (empty if none stored)."""
        lo, hi = self.rows.get(paper_id, (0, 0))
        return self.vectors[lo:hi], self.starts[lo:hi], self.ends[lo:hi]

    def similarities(self, query: np.ndarray, paper_id: str) -> dict[int, float]:
        """sentence start offset -> cosine to the query vector, for one paper."""
        vectors, starts, _ = self.of(paper_id)
        if not len(vectors):
            return {}
        sims = vectors @ query.astype(np.float32)
        return {int(s): float(v) for s, v in zip(starts, sims, strict=True)}

    def paper_ranks(self, query: np.ndarray) -> dict[str, int]:
        """paper id -> its rank (0 = best) by its best sentence's cosine to the query, over every paper.

        One product with the whole matrix (4k x 384 on the seeds: well under a millisecond); the
        rerank reads it as a candidate's standing in a retriever the fusion lacks.
        """
        if not self.rows:
            return {}
        pids = list(self.rows)
        sims = self.vectors @ query.astype(np.float32)
        best = np.maximum.reduceat(sims, [self.rows[p][0] for p in pids])
        return {pids[i]: rank for rank, i in enumerate(np.argsort(-best, kind="stable").tolist())}

    @classmethod
    def read(cls, settings: Settings) -> SentenceIndex:
        """Read the whole collection (paged); empty when it was never ingested."""
        try:
            collection = open_sentence_collection(settings)
        except Exception as exc:
            log.warning("no sentence vectors (%s): run `rag ingest`; sentences are chosen by shared words", exc)
            return cls.empty()
        items: list[tuple[str, int, int, int, Any]] = []
        offset = 0
        while True:
            got = collection.get(include=["metadatas", "embeddings"], limit=PAGE, offset=offset)
            embeddings = got["embeddings"] if got["embeddings"] is not None else []
            for meta, vector in zip(got["metadatas"] or [], embeddings, strict=False):
                meta = meta or {}
                items.append(
                    (str(meta["paper_id"]), int(str(meta["n"])), int(str(meta["start"])), int(str(meta["end"])), vector)
                )
            if len(got["ids"]) < PAGE:
                break
            offset += PAGE
        if not items:
            return cls.empty()
        items.sort(key=lambda t: (t[0], t[1]))
        vectors = np.asarray([t[4] for t in items], dtype=np.float32)
        rows: dict[str, tuple[int, int]] = {}
        for i, (pid, *_rest) in enumerate(items):
            lo, _ = rows.get(pid, (i, i))
            rows[pid] = (lo, i + 1)
        return cls(vectors, np.array([t[2] for t in items]), np.array([t[3] for t in items]), rows)

    @classmethod
    def empty(cls) -> SentenceIndex:
        return cls(np.zeros((0, 1), np.float32), np.zeros(0, int), np.zeros(0, int), {})

    @classmethod
    def load(cls, settings: Settings, version: str) -> SentenceIndex:
        """From this corpus version's saved copy, else read from the store and saved."""
        path = settings.data_dir / "cache" / f"sentences-{settings.collection}-{version}.npz" if version else None
        if path is not None and path.is_file():
            try:
                with np.load(path, allow_pickle=False) as data:
                    pids = [str(p) for p in data["pids"]]
                    bounds = data["bounds"]
                    rows = {pid: (int(lo), int(hi)) for pid, (lo, hi) in zip(pids, bounds, strict=True)}
                    return cls(data["vectors"], data["starts"], data["ends"], rows)
            except Exception as exc:  # truncated or old: read the store again
                log.warning("ignoring unreadable sentence snapshot %s (%s)", path.name, exc)
        index = cls.read(settings)
        if path is not None and index.rows:
            index.save(path)
        return index

    def save(self, path: Path) -> None:
        """Atomic write; older copies of the same collection are removed."""
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f"{path.stem}.{os.getpid()}.tmp.npz")
            pids = list(self.rows)
            np.savez(
                tmp,
                vectors=self.vectors,
                starts=self.starts,
                ends=self.ends,
                pids=np.array(pids),
                bounds=np.array([self.rows[p] for p in pids]).reshape(-1, 2),
            )
            tmp.replace(path)
            prefix = path.name.rsplit("-", 1)[0]
            for old in path.parent.glob(f"{prefix}-*.npz"):
                if old != path:
                    old.unlink(missing_ok=True)
        except OSError as exc:
            log.warning("could not save the sentence snapshot (%s)", exc)
