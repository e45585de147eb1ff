"""Paper-level vectors of the seed papers, shipped in the package so a first ingest embeds nothing extra.

Embedding the 505 seed abstracts with all-mpnet-base-v2 takes minutes on 2 cores; the
results only depend on the text embedded and the model. `scripts/ship_paper_vectors.py`
writes them to `rag/paper-vectors-<kind>.npz`, keyed by the sha256 of each paper's
embedded text (`rag.index.paper_text`) and stamped with the model digest
(`OnnxEmbedder.digest`: weights digest, graph version, fp32/int8). At ingest,
`rag.index.sync_paper_vectors` takes a paper's vector from the file when both keys
match, and embeds only new or changed papers (or everything, under another model).
Like `rag/landmarks-*.npz`, stale vectors are never used.

The seeds' abstract sentences are shipped the same way (`rag/sentence-vectors-<kind>.npz`,
one vector per distinct sentence text as `rag.text.split_sentences` cuts it, under the chunk
embedder's digest; `scripts/ship_paper_vectors.py --sentences`): a cold ingest of the seeds
then embeds only its chunks, and `rag.sentences.sync_sentence_vectors` embeds only sentences
the file does not hold.
"""

from __future__ import annotations

import hashlib
import logging
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger(__name__)


def text_key(text: str) -> str:
    """The content key of one embedded text (sha256, 32 hex digits: no collisions among papers)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def package_file(kind: str) -> str:
    """The shipped file's name for an embedder kind ("mpnet")."""
    return f"paper-vectors-{kind}.npz"


def sentence_package_file(kind: str) -> str:
    """The shipped abstract-sentence vectors' file name for an embedder kind ("minilm")."""
    return f"sentence-vectors-{kind}.npz"


class ShippedVectors:
    """Content key -> unit vector, for one model digest."""

    def __init__(self, digest: str, keys: list[str], vectors: np.ndarray) -> None:
        self.digest = digest
        self.rows = {k: i for i, k in enumerate(keys)}
        self.vectors = vectors

    def __len__(self) -> int:
        return len(self.rows)

    def get(self, text: str, digest: str) -> np.ndarray | None:
        """The shipped vector of `text` under model `digest`, or None (another model, new or changed text)."""
        if digest != self.digest:
            return None
        row = self.rows.get(text_key(text))
        return None if row is None else self.vectors[row]


def read(place: Any) -> ShippedVectors | None:
    """A vectors file (a path or an importlib resource); None if absent or unreadable."""
    try:
        with place.open("rb") as fh, np.load(fh) as data:
            keys = [str(k) for k in data["keys"]]
            vectors = data["vectors"].astype(np.float32)
            digest = str(data["digest"])
    except (OSError, KeyError, ValueError) as exc:
        log.debug("no shipped vectors in %s (%s)", place, exc)
        return None
    if vectors.ndim != 2 or vectors.shape[0] != len(keys):
        log.warning("ignoring %s: %d keys for %s vectors", place, len(keys), vectors.shape)
        return None
    return ShippedVectors(digest, keys, vectors)


@cache
def shipped(kind: str) -> ShippedVectors | None:
    """The package's vectors for an embedder kind, read once per process."""
    return read(resources.files("rag").joinpath(package_file(kind)))


@cache
def shipped_sentences(kind: str) -> ShippedVectors | None:
    """The package's abstract-sentence vectors for an embedder kind, read once per process."""
    return read(resources.files("rag").joinpath(sentence_package_file(kind)))


def write(path: Path, digest: str, texts: list[str], vectors: np.ndarray) -> None:
    """Atomically write vectors of `texts` (float32: reused vectors equal freshly embedded ones)."""
    if len(texts) != len(vectors):
        raise ValueError(f"{len(texts)} texts for {len(vectors)} vectors")
    keys = [text_key(t) for t in texts]
    if len(set(keys)) != len(keys):
        raise ValueError("duplicate texts: one vector per distinct text")
    tmp = path.with_name(path.stem + ".tmp.npz")
    np.savez_compressed(tmp, keys=np.array(keys), vectors=vectors.astype(np.float32), digest=np.array(digest))
    tmp.replace(path)
