"""Chunking, embedding and the Chroma store; incremental, idempotent ingest.

Every chunk carries a content hash of its paper (title, abstract, chunking and
embedding settings). Ingest compares those hashes with the seeds: unchanged
papers are skipped, new or changed ones are (re-)embedded, papers gone from the
seeds are deleted. A paper's chunks are written in one Chroma call after its old
chunks are deleted, so an ingest killed at any point leaves every other paper
answerable and the next ingest repairs the rest.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import logging
import shutil
import struct
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from rag.config import Settings, display_url, get_settings
from rag.corpus import SeedParseError, load_corpus
from rag.models import Chunk, Paper

if TYPE_CHECKING:
    from chromadb.api import ClientAPI
    from chromadb.api.collection_configuration import CreateHNSWConfiguration
    from chromadb.api.models.Collection import Collection

log = logging.getLogger(__name__)

SEED_FILES_SEPARATOR = "|"
INDEX_FORMAT = "1"  # bump when chunk metadata changes shape: forces a re-embed
# Collection metadata key ingest changes whenever the papers change: serving processes compare it
# before answering and reload (see rag.pipeline), so several processes on one Chroma server stay current.
VERSION_KEY = "corpus_version"
HNSW_FILES = ("header.bin", "data_level0.bin", "length.bin", "link_lists.bin")


class PaperIndexError(RuntimeError):
    """Base for index problems a user can act on; the message says what to run."""


class IndexMissing(PaperIndexError):
    """No index yet (or an empty one)."""


class IndexCorrupt(PaperIndexError):
    """The store exists but cannot be read."""


class NoPapers(PaperIndexError):
    """The seeds gave no papers at all: ingest refuses to empty the index."""


@dataclass
class IngestReport:
    """What one ingest did, for the CLI and the benchmarks."""

    papers: int = 0
    records: int = 0
    added: int = 0
    updated: int = 0
    deleted: int = 0
    unchanged: int = 0
    relabelled: int = 0  # unchanged papers whose list of seed files changed (no re-embedding)
    chunks_written: int = 0
    papers_embedded: int = 0  # papers (re-)embedded by the paper-level embedder
    sentences_embedded: int = 0  # papers with abstract sentences embedded here (rag.sentences)
    sentences_written: int = 0  # papers whose sentence vectors were (re)stored, from the package or embedded
    seconds: float = 0.0
    errors: list[str] = field(default_factory=list)


@functools.cache
def _chroma_settings() -> Any:
    """chromadb's client settings, built once: each build reads the environment and .env files
    (pydantic-settings, ~3 ms CPU), and every question opens a client to read the corpus version."""
    from chromadb.config import Settings as ChromaSettings

    return ChromaSettings(anonymized_telemetry=False)


def make_client(settings: Settings) -> ClientAPI:
    """Embedded PersistentClient under the data dir, or HttpClient for a Chroma server."""
    import chromadb

    chroma_settings = copy.copy(_chroma_settings())  # the client sets its path on the object it is given
    if settings.chroma_host:
        return chromadb.HttpClient(host=settings.chroma_host, port=settings.chroma_port, settings=chroma_settings)
    settings.chroma_path.mkdir(parents=True, exist_ok=True)
    try:
        return chromadb.PersistentClient(path=str(settings.chroma_path), settings=chroma_settings)
    except Exception:
        forget_client(settings)
        raise


def forget_client(settings: Settings) -> None:
    """Drop chromadb's per-path client cache for our store.

    chromadb caches one System per path *before* starting it; if opening the store fails
    (a corrupt file), the broken System stays cached and every later client in this
    process fails too, even after `drop_index` removed the files. Forgetting it lets
    `rag ingest --rebuild` (and a long-running app after a rebuild) open a fresh store.
    """
    if settings.chroma_host:
        return
    from chromadb.api.client import SharedSystemClient

    systems = getattr(SharedSystemClient, "_identifier_to_system", {})  # private API, chromadb 1.5.x
    refcounts = getattr(SharedSystemClient, "_identifier_to_refcount", {})
    for key in (str(settings.chroma_path), str(settings.chroma_path.resolve())):
        system = systems.pop(key, None)
        refcounts.pop(key, None)
        if system is not None:
            try:
                system.stop()
            except Exception as exc:  # a half-started system may not stop cleanly
                log.debug("stopping the cached chroma system failed: %s", exc)


def describe_store(settings: Settings) -> str:
    if settings.chroma_host:
        return f"Chroma server {display_url(settings.chroma_host)}:{settings.chroma_port}"
    return f"{settings.chroma_path}"


def open_collection(settings: Settings, create: bool = False) -> Collection:
    """The papers collection (cosine space, our own embeddings); clear errors if absent or broken."""
    if not create and not settings.chroma_host and not (settings.chroma_path / "chroma.sqlite3").exists():
        # Reading must not create an empty store as a side effect.
        raise IndexMissing(f"no paper index in {describe_store(settings)}: run `rag ingest` (or `make run`)")
    try:
        client = make_client(settings)
        if create:
            return client.get_or_create_collection(
                name=settings.collection,
                # ef values well above the defaults (10 / 100): near-exact search at this size,
                # so rankings do not depend on how the graph happened to be built.
                configuration={"hnsw": {"space": "cosine", "ef_search": 200, "ef_construction": 200}},
                metadata={"index_format": INDEX_FORMAT},
                embedding_function=None,
            )
        return client.get_collection(name=settings.collection, embedding_function=None)
    except Exception as exc:  # chromadb raises many types; sort them into what a user can do
        text = str(exc)
        if "does not exist" in text or "NotFound" in type(exc).__name__:
            raise IndexMissing(
                f"no paper index in {describe_store(settings)}: run `rag ingest` (or `make run`)"
            ) from exc
        if settings.chroma_host and ("connect" in text.lower() or "Connection" in type(exc).__name__):
            raise IndexMissing(f"cannot reach {describe_store(settings)}: is `chroma run` up? ({text})") from exc
        raise IndexCorrupt(
            f"the paper index in {describe_store(settings)} cannot be read ({type(exc).__name__}: {text}); "
            "run `rag ingest --rebuild`"
        ) from exc


# hnswlib's files in each vector segment folder of the embedded store (chromadb 1.5.x): header.bin holds a
# format version (int32) and then size_t fields, of which the element count and the bytes per element.
HNSW_HEADER = struct.Struct("<i6Q")  # version, offsetLevel0, max_elements, cur_element_count, size_data_per_element,
HNSW_HEADER_SIZE = 100  # label_offset, offsetData (then levels, entry point, M's, mult, ef_construction)
SPOT_CHECKS = 16  # stored vectors queried at load, each of which must find itself
REEMBEDDED = 2  # of those, the shortest chunks embedded again, each of which must match its stored vector
SPOT_CHECK_DISTANCE = 0.1  # cosine distance to itself allowed (fp32 vs int8 models differ by ~0.01)


def vector_segment_problem(folder: Path) -> str:
    """What is wrong with one HNSW segment folder ("" if nothing): a file missing or of the wrong size.

    Every size follows from the element count in header.bin, so a truncated (or grown) file shows
    without reading the vectors; chromadb itself answers silently from such an index, or crashes
    the process (a short header.bin segfaults it).
    """
    sizes = {name: (folder / name).stat().st_size if (folder / name).is_file() else -1 for name in HNSW_FILES}
    missing = [name for name, size in sizes.items() if size < 0]
    if missing:
        return f"{', '.join(missing)} missing"
    if sizes["header.bin"] != HNSW_HEADER_SIZE:
        return f"header.bin is {sizes['header.bin']} bytes, not {HNSW_HEADER_SIZE}"
    _, _, capacity, count, per_element, _, _ = HNSW_HEADER.unpack(
        (folder / "header.bin").read_bytes()[: HNSW_HEADER.size]
    )
    # one record per vector, written for the vectors held or (a fresh index) for its whole capacity
    for name, record in (("data_level0.bin", per_element), ("length.bin", 4)):
        if not count * record <= sizes[name] <= max(count, capacity) * record or sizes[name] % max(record, 1):
            return f"{name} is {sizes[name]} bytes, {count * record} expected for {count} vectors"
    links = (folder / "link_lists.bin").read_bytes()  # per vector: a uint32 length, then that many bytes
    offset = 0
    for _ in range(count):
        if offset + 4 > len(links):
            return f"link_lists.bin ends after {offset} bytes, short of {count} vectors"
        offset += 4 + int.from_bytes(links[offset : offset + 4], "little")
    if offset != len(links):
        return f"link_lists.bin is {len(links)} bytes, {offset} expected"
    return ""


def check_vector_files(settings: Settings) -> None:
    """Raise IndexCorrupt (saying `rag ingest --rebuild`) if a vector-index file of the embedded store is damaged.

    Called before chromadb first reads the vectors (at load and before an ingest), never per question.
    """
    if settings.chroma_host or not settings.chroma_path.is_dir():
        return
    for header in sorted(settings.chroma_path.glob("*/header.bin")):
        try:
            problem = vector_segment_problem(header.parent)
        except OSError as exc:
            problem = str(exc)
        if problem:
            raise IndexCorrupt(
                f"the paper index in {describe_store(settings)} is damaged (vector index {header.parent.name}: "
                f"{problem}); run `rag ingest --rebuild`"
            )


def spot_check_vectors(
    settings: Settings, collection: Collection, chunks: list[tuple[str, str]], embed: Callable[[list[str]], Any]
) -> None:
    """Check a few stored vectors, spread over the index, against the stored chunks.

    Each sampled vector must come back as its own nearest neighbour (the graph and labels are
    sound), and the few shortest sampled chunks, embedded again, must match their stored vectors
    (the vectors are the chunks'). `chunks`: (chunk id, embedded text) of the whole index. A damaged
    vector index whose files have the right sizes, or a broken index_metadata.pickle, shows here,
    at load, instead of as answers from the wrong papers.
    """
    if not chunks:
        return
    step = max(1, len(chunks) // SPOT_CHECKS)
    text_of = dict([*chunks[::step][:SPOT_CHECKS], chunks[-1]])
    try:
        got = collection.get(ids=list(text_of), include=["embeddings"])
        ids, stored = list(got["ids"]), np.asarray(got["embeddings"], dtype=np.float32)
        if not ids:
            return  # an ingest is replacing them right now: nothing to compare
        found = collection.query(query_embeddings=stored.tolist(), n_results=1, include=["distances"])
        fresh_ids = sorted(ids, key=lambda cid: len(text_of[cid]))[:REEMBEDDED]
        fresh = np.asarray(embed([text_of[cid] for cid in fresh_ids]), dtype=np.float32)
    except Exception as exc:
        raise IndexCorrupt(
            f"the paper index in {describe_store(settings)} cannot be read ({type(exc).__name__}: {exc}); "
            "run `rag ingest --rebuild`"
        ) from exc
    lost = [
        cid
        for cid, hits, distances in zip(ids, found["ids"], found["distances"] or [], strict=False)
        if not hits or hits[0] != cid or distances[0] > SPOT_CHECK_DISTANCE
    ]
    row = {cid: i for i, cid in enumerate(ids)}
    for cid, vector in zip(fresh_ids, fresh, strict=True):
        mine = stored[row[cid]]
        cosine = float(vector @ mine) / (float(np.linalg.norm(vector) * np.linalg.norm(mine)) or 1.0)
        if 1.0 - cosine > SPOT_CHECK_DISTANCE and cid not in lost:
            lost.append(cid)
    # a chunk an ingest rewrote since this process read the chunks may differ: one is not damage
    if len(lost) > 1:
        raise IndexCorrupt(
            f"the paper index in {describe_store(settings)} is damaged: {len(lost)} of {len(ids)} stored vectors "
            f"checked do not match their chunks (e.g. {lost[0]}); run `rag ingest --rebuild`"
        )


def corpus_version(settings: Settings) -> str:
    """The index's current corpus version: one cheap metadata read ("" before the first change)."""
    collection = open_collection(settings)
    return str((collection.metadata or {}).get(VERSION_KEY, ""))


def _bump_version(collection: Collection) -> None:
    """Tell every serving process the papers changed (a new random version, not a counter: no race)."""
    metadata = {k: v for k, v in (collection.metadata or {}).items() if not k.startswith("hnsw:")}
    collection.modify(metadata={**metadata, "index_format": INDEX_FORMAT, VERSION_KEY: uuid.uuid4().hex})


def content_hash(paper: Paper, settings: Settings, model_name: str) -> str:
    """Changes whenever what would be stored for this paper changes."""
    key = "\x1f".join(
        [INDEX_FORMAT, paper.title, paper.abstract, str(settings.chunk_size), str(settings.chunk_overlap), model_name]
    )
    return hashlib.sha1(key.encode("utf-8")).hexdigest()[:16]


def make_splitter(settings: Settings) -> Any:
    from llama_index.core.node_parser import SentenceSplitter

    return SentenceSplitter(chunk_size=settings.chunk_size, chunk_overlap=settings.chunk_overlap)


def chunk_paper(paper: Paper, splitter: Any) -> list[Chunk]:
    """Split an abstract with llama-index's SentenceSplitter, keeping character offsets."""
    from llama_index.core import Document

    nodes = splitter.get_nodes_from_documents([Document(text=paper.abstract, id_=paper.id)])
    chunks = []
    for n, node in enumerate(nodes):
        start = node.start_char_idx if node.start_char_idx is not None else paper.abstract.find(node.text)
        end = node.end_char_idx if node.end_char_idx is not None else start + len(node.text)
        chunks.append(Chunk(id=f"{paper.id}:{n}", paper_id=paper.id, text=node.text, start=start, end=end))
    return chunks


def embedding_text(paper: Paper, chunk: Chunk) -> str:
    """The title goes into every chunk's embedded (and BM25) text."""
    return f"{paper.title}\n{chunk.text}"


def _records_for(paper: Paper, chunks: list[Chunk], digest: str) -> tuple[list[str], list[str], list[dict[str, Any]]]:
    """Ids, documents and metadata of a paper's chunks, as they are written to the collection.

    Written with chromadb directly (not llama-index's ChromaVectorStore, whose node JSON kept a
    second copy of the abstract and the seed names as they were at first ingest).
    """
    metadatas: list[dict[str, Any]] = [
        {
            "paper_id": paper.id,
            "title": paper.title,
            "abstract": paper.abstract,
            "seed_files": SEED_FILES_SEPARATOR.join(paper.seed_files),
            "chunk_n": int(chunk.id.rsplit(":", 1)[1]),
            "n_chunks": len(chunks),
            "start": chunk.start,
            "end": chunk.end,
            "content_hash": digest,
        }
        for chunk in chunks
    ]
    return [c.id for c in chunks], [embedding_text(paper, c) for c in chunks], metadatas


@dataclass
class StoredPaper:
    hash: str
    chunk_ids: list[str]
    n_chunks: int
    seed_files: frozenset[str] = frozenset()

    @property
    def complete(self) -> bool:
        return len(self.chunk_ids) == self.n_chunks


def stored_state(collection: Collection, page: int = 5000) -> dict[str, StoredPaper]:
    """paper_id -> what the store holds for it (hash, chunk ids), read in pages."""
    state: dict[str, StoredPaper] = {}
    offset = 0
    while True:
        got = collection.get(include=["metadatas"], limit=page, offset=offset)
        for cid, meta in zip(got["ids"], got["metadatas"] or [], strict=False):
            pid = str(meta.get("paper_id", cid.rsplit(":", 1)[0]))
            entry = state.setdefault(
                pid,
                StoredPaper(
                    str(meta.get("content_hash", "")),
                    [],
                    int(str(meta.get("n_chunks", 0))),
                    frozenset(s for s in str(meta.get("seed_files", "")).split(SEED_FILES_SEPARATOR) if s),
                ),
            )
            if entry.hash != meta.get("content_hash"):
                entry.hash = "mixed"  # half-old, half-new chunks: re-embed
            entry.chunk_ids.append(cid)
        if len(got["ids"]) < page:
            return state
        offset += page


def _batches(items: list[Any], size: int) -> Iterator[list[Any]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def ingest(
    seeds_dir: Path | str | None = None,
    rebuild: bool = False,
    settings: Settings | None = None,
    progress: Callable[[int, int], None] | None = None,
    papers: list[Paper] | None = None,
    paper_progress: Callable[[int, int], None] | None = None,
    sentence_progress: Callable[[int, int], None] | None = None,
) -> IngestReport:
    """Bring the store in line with the seeds: embed only what is new or changed.

    `progress`, `paper_progress`, `sentence_progress`: (done, total) papers of each embedding
    pass (chunks, paper-level vectors, abstract sentences), called only when a pass embeds.
    """
    from rag.embeddings import get_embedder

    settings = settings or get_settings()
    started = time.perf_counter()
    report = IngestReport()
    unreadable: set[str] = set()  # seed files that failed to parse: keep their papers as stored
    if papers is None:
        source = Path(seeds_dir or settings.seeds_dir)
        loaded = load_corpus(source)
        papers, report.records = loaded.papers, loaded.records
        report.errors = [str(e) for e in loaded.errors]
        unreadable = {e.path.name for e in loaded.errors}
        if not papers:
            problems = "".join(f"\n  {e}" for e in report.errors)
            raise NoPapers(f"no papers found in {source}; the index was left as it is{problems}")
    report.papers = len(papers)
    if rebuild:
        drop_index(settings)
    else:
        check_vector_files(settings)  # a damaged store is not written to: --rebuild is the way out
    collection = open_collection(settings, create=True)
    embedder = get_embedder(settings)
    try:
        state = stored_state(collection)
    except Exception as exc:  # chromadb cannot read its own files: the same advice as for load_index
        raise IndexCorrupt(
            f"the paper index in {describe_store(settings)} cannot be read ({type(exc).__name__}: {exc}); "
            "run `rag ingest --rebuild`"
        ) from exc

    wanted = {p.id for p in papers}
    stale = [pid for pid in state if pid not in wanted and not state[pid].seed_files & unreadable]
    for pid in stale:
        collection.delete(ids=state[pid].chunk_ids)
    report.deleted = len(stale)
    if stale:  # gone papers must stop being cited now, not after the embedding below
        _bump_version(collection)

    splitter = make_splitter(settings)
    todo: list[tuple[Paper, str, bool]] = []
    for paper in papers:
        digest = content_hash(paper, settings, embedder.name)
        held = state.get(paper.id)
        if held and held.hash == digest and held.complete:
            report.unchanged += 1
            # Listed in other files now: relabel only (not while one of its old files fails to parse,
            # so a broken listing never drops the names that keep the paper from being deleted).
            if held.seed_files != frozenset(paper.seed_files) and not held.seed_files & unreadable:
                joined = SEED_FILES_SEPARATOR.join(paper.seed_files)
                collection.update(ids=held.chunk_ids, metadatas=[{"seed_files": joined}] * len(held.chunk_ids))
                report.relabelled += 1
        else:
            todo.append((paper, digest, held is not None))

    done = 0
    for batch in _batches(todo, max(1, settings.embed_batch)):
        chunked = [(paper, digest, existed, chunk_paper(paper, splitter)) for paper, digest, existed in batch]
        texts = [embedding_text(p, c) for p, _, _, chunks in chunked for c in chunks]
        vectors = embedder.embed(texts)
        ids: list[str] = []
        documents: list[str] = []
        metadatas: list[dict[str, Any]] = []
        for paper, digest, existed, chunks in chunked:
            if existed:
                collection.delete(ids=state[paper.id].chunk_ids)
            chunk_ids, docs, metas = _records_for(paper, chunks, digest)
            ids += chunk_ids
            documents += docs
            metadatas += metas
            report.updated += existed
            report.added += not existed
        if ids:
            collection.add(ids=ids, embeddings=vectors, documents=documents, metadatas=metadatas)  # type: ignore[arg-type]
        report.chunks_written += len(ids)
        done += len(batch)
        if progress:
            progress(done, len(todo))
    kept = {pid for pid, held in state.items() if held.seed_files & unreadable}
    report.papers_embedded = sync_paper_vectors(papers, settings, kept, paper_progress)
    from rag.sentences import sync_sentence_vectors

    sentences = sync_sentence_vectors(papers, settings, kept, sentence_progress)
    report.sentences_embedded, report.sentences_written = sentences.papers_embedded, sentences.papers
    changed = report.added or report.updated or report.relabelled or report.sentences_written
    if changed or not (collection.metadata or {}).get(VERSION_KEY):
        _bump_version(collection)
    report.seconds = time.perf_counter() - started
    return report


def paper_text(paper: Paper) -> str:
    """What a paper-level embedder sees: the whole title and abstract."""
    return f"{paper.title}. {paper.abstract}"


def paper_collection_name(settings: Settings) -> str:
    return f"{settings.collection}_papers_{settings.paper_embedder}"


def open_side_collection(
    settings: Settings, name: str, hnsw: CreateHNSWConfiguration, create: bool = False
) -> Collection:
    """A collection of our own vectors beside the chunk collection (paper-level, sentences); cosine space."""
    client = make_client(settings)
    if create:
        return client.get_or_create_collection(
            name=name,
            configuration={"hnsw": {**hnsw, "space": "cosine"}},
            metadata={"index_format": INDEX_FORMAT},
            embedding_function=None,
        )
    return client.get_collection(name=name, embedding_function=None)


def open_paper_collection(settings: Settings, create: bool = False) -> Collection:
    """One vector per paper from the second embedder, beside the chunk collection."""
    hnsw: CreateHNSWConfiguration = {"ef_search": 200, "ef_construction": 200}
    return open_side_collection(settings, paper_collection_name(settings), hnsw, create)


def sync_paper_vectors(
    papers: list[Paper],
    settings: Settings,
    keep: set[str] = frozenset(),  # type: ignore[assignment]
    progress: Callable[[int, int], None] | None = None,
) -> int:
    """Bring the paper-level collection in line with `papers`; returns how many were embedded.

    Ids are paper ids and each vector carries its paper's content hash, so like the chunk
    index this is incremental, idempotent and safe to interrupt. `keep`: ids not to delete
    though absent from `papers` (their seed file failed to parse).
    """
    from rag.embeddings import get_paper_embedder

    embedder = get_paper_embedder(settings)
    if embedder is None:
        return 0
    collection = open_paper_collection(settings, create=True)
    held: dict[str, str] = {}
    offset, page = 0, 5000
    while True:
        got = collection.get(include=["metadatas"], limit=page, offset=offset)
        held.update(
            {
                i: str((m or {}).get("content_hash", ""))
                for i, m in zip(got["ids"], got["metadatas"] or [], strict=False)
            }
        )
        if len(got["ids"]) < page:
            break
        offset += page
    wanted = {p.id for p in papers}
    stale = [pid for pid in held if pid not in wanted and pid not in keep]
    if stale:
        collection.delete(ids=stale)
    todo = []
    for paper in papers:
        digest = content_hash(paper, settings, embedder.name)
        if held.get(paper.id) != digest:
            todo.append((paper, digest))
    todo = _write_shipped_vectors(todo, collection, settings, embedder)
    done = 0
    for batch in _batches(todo, max(1, settings.embed_batch)):
        vectors = embedder.embed([paper_text(p) for p, _ in batch])
        collection.upsert(
            ids=[p.id for p, _ in batch],
            embeddings=[v.astype(float).tolist() for v in vectors],
            metadatas=[{"content_hash": digest} for _, digest in batch],
        )
        done += len(batch)
        if progress:
            progress(done, len(todo))
    return len(todo)


def _write_shipped_vectors(
    todo: list[tuple[Paper, str]], collection: Collection, settings: Settings, embedder: Any
) -> list[tuple[Paper, str]]:
    """Store the package's vectors (rag/paper-vectors-*.npz) of papers in `todo`; return those left to embed.

    A vector is reused only for the very text it was computed from and the very model
    (`embedder.digest`), so a changed abstract or another model embeds as before.
    """
    from rag import paper_vectors

    shipped = paper_vectors.shipped(settings.paper_embedder) if todo else None
    digest = getattr(embedder, "digest", None)
    if shipped is None or digest is None:
        return todo
    found = [(paper, h, shipped.get(paper_text(paper), digest)) for paper, h in todo]
    reused = [(paper, h, v) for paper, h, v in found if v is not None]
    for batch in _batches(reused, 500):
        collection.upsert(
            ids=[p.id for p, _, _ in batch],
            embeddings=[v.astype(float).tolist() for _, _, v in batch],
            metadatas=[{"content_hash": h} for _, h, _ in batch],
        )
    if reused:
        log.info("paper vectors: %d from the package, %d to embed", len(reused), len(todo) - len(reused))
    return [(paper, h) for paper, h, v in found if v is None]


def drop_index(settings: Settings) -> None:
    """Forget the index: the collection, or the whole embedded store if it is unreadable."""
    try:
        check_vector_files(settings)  # chromadb may crash on a damaged vector file even while deleting it
        client = make_client(settings)
        for name in client.list_collections():  # the paper-level collections go with it
            name = getattr(name, "name", name)
            if (
                str(name).startswith(f"{settings.collection}_papers_")
                or str(name) == f"{settings.collection}_sentences"
            ):
                client.delete_collection(str(name))
        client.delete_collection(settings.collection)
    except Exception as exc:  # absent, or too broken to open: remove the files if they are ours
        if settings.chroma_host:
            if "does not exist" not in str(exc):
                raise
        elif settings.chroma_path.exists():
            log.warning("removing unreadable store %s (%s)", settings.chroma_path, exc)
            forget_client(settings)
            shutil.rmtree(settings.chroma_path)


@dataclass
class StoredChunk:
    """A chunk as the store holds it, with its paper: what retrieval works over."""

    chunk: Chunk
    paper: Paper
    text: str


def load_index(settings: Settings | None = None, page: int = 5000) -> list[StoredChunk]:
    """Every chunk of the store with its paper (for BM25 and for building Sources)."""
    settings = settings or get_settings()
    check_vector_files(settings)
    collection = open_collection(settings)
    chunks: list[StoredChunk] = []
    papers: dict[str, Paper] = {}
    offset = 0
    try:
        while True:
            got = collection.get(include=["metadatas", "documents"], limit=page, offset=offset)
            for cid, meta, doc in zip(got["ids"], got["metadatas"] or [], got["documents"] or [], strict=True):
                pid = str(meta["paper_id"])
                paper = papers.get(pid)
                if paper is None:
                    paper = papers[pid] = Paper(
                        id=pid,
                        title=str(meta["title"]),
                        abstract=str(meta["abstract"]),
                        seed_files=[s for s in str(meta.get("seed_files", "")).split(SEED_FILES_SEPARATOR) if s],
                    )
                start, end = int(str(meta["start"])), int(str(meta["end"]))
                chunk = Chunk(id=cid, paper_id=pid, text=paper.abstract[start:end], start=start, end=end)
                chunks.append(StoredChunk(chunk=chunk, paper=paper, text=doc or ""))
            if len(got["ids"]) < page:
                break
            offset += page
    except PaperIndexError:
        raise
    except Exception as exc:
        raise IndexCorrupt(
            f"the paper index in {describe_store(settings)} cannot be read ({type(exc).__name__}: {exc}); "
            "run `rag ingest --rebuild`"
        ) from exc
    if not chunks:
        raise IndexMissing(f"the paper index in {describe_store(settings)} is empty: run `rag ingest`")
    chunks.sort(key=lambda s: s.chunk.id)
    return chunks


__all__ = [
    "IndexCorrupt",
    "IndexMissing",
    "IngestReport",
    "NoPapers",
    "PaperIndexError",
    "SeedParseError",
    "StoredChunk",
    "check_vector_files",
    "chunk_paper",
    "drop_index",
    "ingest",
    "load_index",
    "open_collection",
    "spot_check_vectors",
]
