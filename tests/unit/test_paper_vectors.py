"""Shipped paper-level vectors: a first mpnet ingest of the seeds embeds no seed paper, a changed one only it."""

from __future__ import annotations

import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest

from rag import paper_vectors
from rag.corpus import load_papers
from rag.index import ingest, open_paper_collection, paper_text
from tests.conftest import ROOT, SEEDS, make_settings

PACKAGE_FILE = ROOT / "rag" / paper_vectors.package_file("mpnet")


class Spy:
    """Wraps an embedder; records every text it embeds (the hook the tests count with)."""

    def __init__(self, inner) -> None:
        self.inner = inner
        self.name, self.dim, self.digest = inner.name, inner.dim, inner.digest
        self.embedded: list[str] = []

    def embed(self, texts: list[str]) -> np.ndarray:
        self.embedded += texts
        return self.inner.embed(texts)

    def embed_query(self, text: str) -> np.ndarray:
        return self.inner.embed_query(text)


class FakeEmbedder:
    """A deterministic 8-d stand-in with a model digest, for the bookkeeping tests."""

    name, dim = "fake", 8

    def __init__(self, digest: str = "fake-0001-v1-fp32") -> None:
        self.digest = digest

    def embed(self, texts: list[str]) -> np.ndarray:
        rows = [np.random.default_rng(len(t)).standard_normal(self.dim) for t in texts]
        return np.array([r / np.linalg.norm(r) for r in rows], dtype=np.float32).reshape(len(texts), self.dim)


def change_abstract(seeds: Path) -> str:
    """Append a sentence to one abstract (of a paper listed in one file only); return its title."""
    paper = next(p for p in load_papers(seeds) if len(p.seed_files) == 1)
    path = seeds / paper.seed_files[0]
    text = path.read_text(encoding="utf-8")
    assert text.count(paper.abstract) == 1
    path.write_text(text.replace(paper.abstract, paper.abstract + " We also release the code."), encoding="utf-8")
    return paper.title


def stored(settings) -> dict[str, np.ndarray]:
    got = open_paper_collection(settings).get(include=["embeddings"])
    return {i: np.asarray(v, dtype=np.float32) for i, v in zip(got["ids"], got["embeddings"], strict=True)}


# ---------------------------------------------------------------- the file format


def test_vectors_are_found_by_text_and_model_digest_only(tmp_path):
    path = tmp_path / "v.npz"
    vectors = np.eye(3, dtype=np.float32)
    paper_vectors.write(path, "mpnet-abc-v1-fp32", ["a", "b", "c"], vectors)
    read = paper_vectors.read(path)
    assert read is not None and len(read) == 3
    np.testing.assert_array_equal(read.get("b", "mpnet-abc-v1-fp32"), vectors[1])
    assert read.get("b", "mpnet-abc-v1-int8") is None  # another model: never reused
    assert read.get("b ", "mpnet-abc-v1-fp32") is None  # another text
    with pytest.raises(ValueError, match="duplicate"):
        paper_vectors.write(path, "d", ["a", "a"], vectors[:2])
    path.write_bytes(b"not a zip")
    assert paper_vectors.read(path) is None
    assert paper_vectors.read(tmp_path / "absent.npz") is None


def test_the_shipped_file_covers_every_seed_paper_and_is_package_data():
    shipped = paper_vectors.read(PACKAGE_FILE)
    assert shipped is not None, f"{PACKAGE_FILE} missing: run scripts/ship_paper_vectors.py"
    papers = load_papers(SEEDS)
    missing = [p.title for p in papers if shipped.get(paper_text(p), shipped.digest) is None]
    assert not missing, f"{len(missing)} seed papers have no shipped vector (first: {missing[:3]})"
    assert shipped.digest.startswith("mpnet-") and shipped.digest.endswith("-fp32")
    assert np.allclose(np.linalg.norm(shipped.vectors, axis=1), 1.0, atol=1e-4)
    import tomllib

    package_data = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["rag"]
    assert any(Path(PACKAGE_FILE.name).match(pattern) for pattern in package_data), package_data


# ---------------------------------------------------------------- ingest bookkeeping (a fake embedder)


@pytest.fixture
def fake_ingest(tmp_path, seeds_index, model_cache, monkeypatch):
    """A fresh data dir holding the seeds' chunk index, the mpnet profile, and a fake paper embedder."""
    from rag import embeddings
    from rag.index import make_client, paper_collection_name

    settings = make_settings(tmp_path / "data", model_cache, profile="mpnet")
    shutil.copytree(seeds_index.chroma_path, settings.chroma_path)
    make_client(settings).delete_collection(paper_collection_name(settings))  # the default's real vectors: 768-d
    fake = Spy(FakeEmbedder())
    monkeypatch.setattr(embeddings, "get_paper_embedder", lambda settings=None: fake)
    return settings, fake


def test_shipped_vectors_under_the_model_digest_are_stored_without_embedding(fake_ingest, monkeypatch, tmp_path):
    settings, spy = fake_ingest
    papers = load_papers(SEEDS)
    texts = [paper_text(p) for p in papers[1:]]  # every paper but the first ships
    path = tmp_path / "shipped.npz"
    paper_vectors.write(path, spy.digest, texts, FakeEmbedder().embed(texts) * -1)  # distinguishable from embeds
    monkeypatch.setattr(paper_vectors, "shipped", lambda kind: paper_vectors.read(path))

    report = ingest(settings=settings)
    assert report.unchanged == len(papers) and report.papers_embedded == 1
    assert spy.embedded == [paper_text(papers[0])]
    vectors = stored(settings)
    assert len(vectors) == len(papers)
    np.testing.assert_allclose(vectors[papers[1].id], -FakeEmbedder().embed([texts[0]])[0], atol=1e-6)

    assert ingest(settings=settings).papers_embedded == 0  # idempotent
    assert spy.embedded == [paper_text(papers[0])]


def test_vectors_of_another_model_digest_are_not_used(fake_ingest, monkeypatch, tmp_path):
    settings, spy = fake_ingest
    papers = load_papers(SEEDS)
    texts = [paper_text(p) for p in papers]
    path = tmp_path / "shipped.npz"
    paper_vectors.write(path, "fake-0001-v1-int8", texts, FakeEmbedder().embed(texts))
    monkeypatch.setattr(paper_vectors, "shipped", lambda kind: paper_vectors.read(path))
    report = ingest(settings=settings)
    assert report.papers_embedded == len(papers) == len(spy.embedded)


# ---------------------------------------------------------------- the real model and the shipped file


@pytest.fixture(scope="module")
def mpnet():
    from rag.embeddings import MPNetEmbedder

    return MPNetEmbedder(cache_dir=ROOT / ".cache" / "models")


@pytest.mark.slow
def test_a_first_mpnet_ingest_embeds_no_seed_paper_and_a_changed_one_alone(
    tmp_path, seeds_index, model_cache, seeds_copy, mpnet, monkeypatch
):
    from rag import embeddings

    settings = make_settings(tmp_path / "data", model_cache, profile="mpnet")
    shutil.copytree(seeds_index.chroma_path, settings.chroma_path)  # the chunks: no paper-level vectors yet
    spy = Spy(mpnet)
    monkeypatch.setattr(embeddings, "get_paper_embedder", lambda settings=None: spy)
    progress: list[tuple[int, int]] = []

    report = ingest(seeds_dir=seeds_copy, settings=settings, paper_progress=lambda d, t: progress.append((d, t)))
    papers = load_papers(seeds_copy)
    assert report.papers_embedded == 0 and spy.embedded == [] and progress == []
    vectors = stored(settings)
    assert len(vectors) == len(papers) == 505
    # The shipped vectors are this model's: one paper embedded now agrees with its stored vector.
    probe = papers[len(papers) // 2]
    assert float(vectors[probe.id] @ mpnet.embed([paper_text(probe)])[0]) > 0.9999
    spy.embedded.clear()

    title = change_abstract(seeds_copy)
    changed = next(p for p in load_papers(seeds_copy) if p.title == title)
    report = ingest(seeds_dir=seeds_copy, settings=settings, paper_progress=lambda d, t: progress.append((d, t)))
    assert report.papers_embedded == 1 and report.updated == 1
    assert spy.embedded == [paper_text(changed)]
    assert progress == [(1, 1)]  # the progress bar shows the one paper embedded
    after = stored(settings)
    assert float(after[changed.id] @ vectors[changed.id]) < 0.9999  # re-embedded, not the shipped vector


@pytest.mark.slow
def test_the_wheel_lists_the_vectors_file(tmp_path):
    """setuptools' package-data puts the file into the wheel (built without isolation: seconds)."""
    import subprocess
    import sys

    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path),
            str(ROOT),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert out.returncode == 0, out.stderr
    (wheel,) = tmp_path.glob("paperchat-*.whl")
    with zipfile.ZipFile(wheel) as zf:
        assert zf.read(f"rag/{PACKAGE_FILE.name}") == PACKAGE_FILE.read_bytes()
