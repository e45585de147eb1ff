"""Shipped abstract-sentence vectors: a cold ingest of the seeds embeds no sentence, a changed abstract only its own.

Real Chroma and the real MiniLM model; the hook counted is `rag.sentences.embed_sentences`,
the one call through which ingest embeds sentences.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from rag import paper_vectors, sentences
from rag.corpus import load_papers
from rag.index import ingest, make_client
from rag.sentences import open_sentence_collection, paper_sentences, sentence_collection_name
from tests.conftest import ROOT, SEEDS, make_settings

PACKAGE_FILE = ROOT / "rag" / paper_vectors.sentence_package_file("minilm")


@pytest.fixture
def embedded(monkeypatch) -> list[str]:
    """Every sentence text ingest embeds, in order."""
    calls: list[str] = []
    real = sentences.embed_sentences

    def spy(embedder, texts):
        calls.extend(texts)
        return real(embedder, texts)

    monkeypatch.setattr(sentences, "embed_sentences", spy)
    return calls


def stored(settings) -> dict[str, np.ndarray]:
    got = open_sentence_collection(settings).get(include=["embeddings"])
    return {i: np.asarray(v, dtype=np.float32) for i, v in zip(got["ids"], got["embeddings"], strict=True)}


def test_the_shipped_file_covers_every_seed_sentence_under_todays_model_and_is_package_data(tmp_path, model_cache):
    from rag.embeddings import get_embedder

    shipped = paper_vectors.read(PACKAGE_FILE)
    assert shipped is not None, f"{PACKAGE_FILE} missing: run scripts/ship_paper_vectors.py --sentences"
    digest = get_embedder(make_settings(tmp_path / "data", model_cache)).digest
    assert shipped.digest == digest, "the model changed: run scripts/ship_paper_vectors.py --sentences"
    texts = [text for p in load_papers(SEEDS) for _, _, text in paper_sentences(p)]
    missing = [t for t in texts if shipped.get(t, digest) is None]
    assert not missing, f"{len(missing)} of {len(texts)} seed sentences have no shipped vector: {missing[:2]}"
    assert len(shipped) == len(set(texts)), "the file holds sentences the seeds no longer have"
    assert shipped.vectors.dtype == np.float32 and np.allclose(np.linalg.norm(shipped.vectors, axis=1), 1, atol=1e-4)
    assert PACKAGE_FILE.stat().st_size < 8e6
    import tomllib

    package_data = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["rag"]
    assert any(Path(PACKAGE_FILE.name).match(pattern) for pattern in package_data), package_data


@pytest.mark.slow
def test_a_cold_ingest_of_the_seeds_embeds_no_sentence_and_a_changed_abstract_only_its_own(
    tmp_path, seeds_index, model_cache, seeds_copy, embedded
):
    from rag.embeddings import get_embedder

    settings = make_settings(tmp_path / "data", model_cache)
    shutil.copytree(seeds_index.chroma_path, settings.chroma_path)  # the chunks
    make_client(settings).delete_collection(sentence_collection_name(settings))  # no sentence vectors yet
    progress: list[tuple[int, int]] = []

    report = ingest(seeds_dir=seeds_copy, settings=settings, sentence_progress=lambda d, t: progress.append((d, t)))
    papers = load_papers(seeds_copy)
    assert embedded == [] and progress == [] and report.sentences_embedded == 0
    assert report.sentences_written == len(papers) == 505
    vectors = stored(settings)
    assert len(vectors) == sum(len(paper_sentences(p)) for p in papers)
    # The shipped vectors are this model's, in fp32: a sentence embedded now is the stored vector.
    probe = papers[len(papers) // 2]
    fresh = sentences.embed_sentences(get_embedder(settings), [t for _, _, t in paper_sentences(probe)])
    np.testing.assert_allclose(np.array([vectors[f"{probe.id}:s{n}"] for n in range(len(fresh))]), fresh, atol=1e-5)
    embedded.clear()

    # One sentence of one abstract reworded: only that sentence is embedded, its neighbours come from the file.
    paper = next(p for p in papers if len(p.seed_files) == 1 and len(paper_sentences(p)) >= 3)
    _, _, old = paper_sentences(paper)[1]
    new = old.replace(" ", " really ", 1)
    path = seeds_copy / paper.seed_files[0]
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1
    path.write_text(text.replace(old, new), encoding="utf-8")
    report = ingest(seeds_dir=seeds_copy, settings=settings, sentence_progress=lambda d, t: progress.append((d, t)))
    assert report.updated == 1 and report.sentences_embedded == 1 and report.sentences_written == 1
    assert embedded == [new]
    assert progress == [(1, 1)]  # the progress bar shows the one paper with a sentence to embed
    after = stored(settings)
    assert float(after[f"{paper.id}:s1"] @ vectors[f"{paper.id}:s1"]) < 0.9999  # embedded, not the old vector
    np.testing.assert_array_equal(after[f"{paper.id}:s0"], vectors[f"{paper.id}:s0"])

    embedded.clear()
    assert ingest(seeds_dir=seeds_copy, settings=settings).sentences_written == 0 and embedded == []  # idempotent


def test_a_file_stamped_with_another_model_is_never_used(tmp_path, model_cache, embedded, monkeypatch):
    """The seeds' own texts and vectors under a wrong digest stamp: every sentence is embedded afresh."""
    shipped = paper_vectors.read(PACKAGE_FILE)
    assert shipped is not None
    papers = load_papers(SEEDS)[:6]
    texts = list(dict.fromkeys(t for p in papers for _, _, t in paper_sentences(p)))
    wrong = tmp_path / "wrong.npz"
    other = shipped.digest.replace("-fp32", "-int8")
    paper_vectors.write(wrong, other, texts, np.array([shipped.get(t, shipped.digest) for t in texts]))
    monkeypatch.setattr(paper_vectors, "shipped_sentences", lambda kind: paper_vectors.read(wrong))

    settings = make_settings(tmp_path / "data", model_cache)
    report = ingest(papers=papers, settings=settings)
    assert sorted(embedded) == sorted(t for p in papers for _, _, t in paper_sentences(p))
    assert report.sentences_embedded == report.sentences_written == 6

    # A paper gone from the seeds loses its sentences; nothing else is embedded again.
    embedded.clear()
    report = ingest(papers=papers[1:], settings=settings)
    assert embedded == [] and report.sentences_written == 0
    assert not [i for i in stored(settings) if i.startswith(f"{papers[0].id}:")]
