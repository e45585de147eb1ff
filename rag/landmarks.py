"""Well-known papers that are *not* in the collection: a yardstick for near-miss questions.

"Explain layer normalization" or "which paper trained an agent on 49 Atari games with
experience replay" retrieve papers that *mention* those methods, and retrieval scores
alone cannot tell "is about" from "mentions". A reference list of landmark papers
(`rag/landmarks.jsonl`: title, year, the names people use, an abstract-style summary,
written independently of any question set) can: when the question matches a landmark
the collection does not hold better than anything it does hold, the corpus probably
does not answer it. The refusal evidence (rag.refusal) weighs that closeness
(`landmark_top`, `landmark_margin`), and a refusal can say which famous paper the
question sounds like. The landmarks' names ("LayerNorm", "DQN") are never taken for
misspelt paper names (`known_names`).

Landmarks that the collection holds (same title) are dropped at load, so a corpus that
contains "Attention Is All You Need" still answers questions about it. The summaries'
vectors for the default embedder ship with the package (`landmarks-<embedder>.npz`,
checked against the text's digest); another embedder computes and caches them once.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Iterable
from functools import cached_property
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, Field

from rag.corpus import normalize_title
from rag.question.text import WORD

log = logging.getLogger(__name__)
PACKAGE_FILE = "landmarks.jsonl"


class Landmark(BaseModel, frozen=True):
    """One well-known paper, as the question sets' near misses name or describe it."""

    title: str
    year: int = Field(ge=1900, le=2100)
    aka: list[str] = Field(default_factory=list, description="Short names and phrasings people use for it.")
    description: str = Field(description="An abstract-style summary in the paper's own vocabulary.")

    @property
    def text(self) -> str:
        """What is embedded: title, names and summary, like a chunk's title + abstract."""
        return f"{self.title}. {self.description}"

    def cite(self) -> str:
        return f"“{self.title}” ({self.year})"


def load_landmarks(path: Path | None = None) -> list[Landmark]:
    """The packaged list (or `path`), in file order."""
    text = path.read_text("utf-8") if path else resources.files("rag").joinpath(PACKAGE_FILE).read_text("utf-8")
    return [Landmark.model_validate_json(line) for line in text.splitlines() if line.strip()]


def digest(landmarks: Iterable[Landmark]) -> str:
    """Identifies the embedded texts, so stale vectors are never used."""
    return hashlib.sha256("\n".join(lm.text for lm in landmarks).encode("utf-8")).hexdigest()[:16]


class LandmarkIndex:
    """Landmarks outside the collection, their vectors, and their names."""

    def __init__(
        self,
        landmarks: list[Landmark],
        corpus_titles: Iterable[str],
        embedder: Any,
        cache_dir: Path | None = None,
    ) -> None:
        held = {normalize_title(t) for t in corpus_titles}
        self.all = landmarks
        self.keep = [i for i, lm in enumerate(landmarks) if normalize_title(lm.title) not in held]
        self.landmarks = [landmarks[i] for i in self.keep]
        self.embedder = embedder
        self.cache_dir = cache_dir

    @cached_property
    def vectors(self) -> np.ndarray:
        """Unit vectors of the kept landmarks (rows in `self.landmarks` order)."""
        return self._all_vectors()[self.keep] if self.keep else np.zeros((0, 1), dtype=np.float32)

    def _all_vectors(self) -> np.ndarray:
        key = digest(self.all)
        name = file_key(self.embedder)
        packaged = resources.files("rag").joinpath(f"landmarks-{name}.npz")
        places: list[Any] = [packaged]
        if self.cache_dir is not None:
            places.append(self.cache_dir / f"landmarks-{name}-{key}.npz")
        for place in places:
            try:
                with place.open("rb") as fh, np.load(fh) as data:
                    if str(data["digest"]) == key and data["vectors"].shape[0] == len(self.all):
                        return data["vectors"].astype(np.float32)
            except (OSError, KeyError, ValueError):
                continue
        log.info("embedding %d landmark summaries for %s (once)", len(self.all), name)
        vectors = self.embedder.embed([lm.text for lm in self.all]).astype(np.float32)
        if self.cache_dir is not None:
            self.cache_dir.mkdir(parents=True, exist_ok=True)
            save_vectors(self.cache_dir / f"landmarks-{name}-{key}.npz", vectors, key)
        return vectors

    def nearest(self, vector: np.ndarray) -> tuple[Landmark | None, float]:
        """The landmark whose summary is closest to a (unit) question vector, and its cosine."""
        if not self.landmarks:
            return None, 0.0
        scores = self.vectors @ vector.astype(np.float32)
        best = int(np.argmax(scores))
        return self.landmarks[best], float(scores[best])

    def known_names(self) -> frozenset[str]:
        """The landmarks' names and titles, lower-cased, and their words: question reading never takes
        them for misspellings ("Perceiver" and "splatting" are not misspelt "perceive" and "splitting")."""
        names = {name.lower() for landmark in self.landmarks for name in [*landmark.aka, landmark.title]}
        return frozenset(names | {w for name in names for w in WORD.findall(name)})


def file_key(embedder: Any) -> str:
    """The embedder's name, safe in a file name ("all-MiniLM-L6-v2+int8")."""
    return re.sub(r"[^\w.+-]", "_", getattr(embedder, "name", "embedder"))


def save_vectors(path: Path, vectors: np.ndarray, key: str) -> None:
    """float16 keeps the packaged file small; cosines move by < 1e-3."""
    tmp = path.with_suffix(".tmp.npz")
    np.savez_compressed(tmp, vectors=vectors.astype(np.float16), digest=np.array(key))
    tmp.replace(path)


def main(argv: list[str] | None = None) -> int:
    """Write the packaged vectors for the default embedder: `python -m rag.landmarks`."""
    from rag.config import get_settings
    from rag.embeddings import get_embedder

    landmarks = load_landmarks()
    embedder = get_embedder(get_settings())
    target = Path(str(resources.files("rag"))) / f"landmarks-{file_key(embedder)}.npz"
    save_vectors(target, embedder.embed([lm.text for lm in landmarks]), digest(landmarks))
    print(f"wrote {target} ({len(landmarks)} landmarks)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
