"""Ingest against a real Chroma store: idempotent, incremental, deletions, clear errors."""

from __future__ import annotations

import pytest

from rag.corpus import load_papers
from rag.index import IndexMissing, ingest, load_index, open_collection
from tests.conftest import SEEDS, make_settings


@pytest.fixture
def small(tmp_path, model_cache):
    """A data dir and 12 real papers: enough to see every ingest path, quick to embed."""
    return make_settings(tmp_path / "data", model_cache), load_papers(SEEDS)[:12]


@pytest.mark.slow  # re-ingests or rebuilds: make test runs it, test-quick does not
def test_reingest_is_a_no_op_and_creates_no_duplicates(small):
    settings, papers = small
    first = ingest(settings=settings, papers=papers)
    count = open_collection(settings).count()
    second = ingest(settings=settings, papers=papers)
    assert first.added == 12
    assert first.chunks_written == count
    assert second.added == second.updated == second.deleted == 0
    assert second.unchanged == 12
    assert open_collection(settings).count() == count
    ids = [c.chunk.id for c in load_index(settings)]
    assert len(ids) == len(set(ids))


@pytest.mark.slow  # re-ingests or rebuilds: make test runs it, test-quick does not
def test_a_changed_paper_is_re_embedded_and_only_it(small):
    settings, papers = small
    ingest(settings=settings, papers=papers)
    changed = papers[3].model_copy(update={"abstract": papers[3].abstract + " We also release a zebra dataset."})
    report = ingest(settings=settings, papers=[*papers[:3], changed, *papers[4:]])
    assert report.updated == 1
    assert report.unchanged == 11
    assert report.added == 0
    stored = [c for c in load_index(settings) if c.paper.id == changed.id]
    assert stored
    assert stored[0].paper.abstract.endswith("zebra dataset.")
    assert any("zebra" in c.text for c in stored)


@pytest.mark.slow  # re-ingests or rebuilds: make test runs it, test-quick does not
def test_removed_papers_are_deleted(small):
    settings, papers = small
    ingest(settings=settings, papers=papers)
    report = ingest(settings=settings, papers=papers[:10])
    assert report.deleted == 2
    assert {c.paper.id for c in load_index(settings)} == {p.id for p in papers[:10]}


@pytest.mark.slow  # re-ingests or rebuilds: make test runs it, test-quick does not
def test_chunks_keep_offsets_into_the_abstract_and_carry_the_title(small):
    settings, papers = small
    ingest(settings=settings, papers=papers)
    for stored in load_index(settings):
        abstract = stored.paper.abstract
        assert abstract[stored.chunk.start : stored.chunk.end] == stored.chunk.text
        assert stored.text.startswith(stored.paper.title)


def test_collection_uses_cosine_space(small):
    settings, papers = small
    ingest(settings=settings, papers=papers[:2])
    assert open_collection(settings).configuration_json["hnsw"]["space"] == "cosine"


def test_missing_index_says_to_run_ingest(tmp_path):
    with pytest.raises(IndexMissing, match="rag ingest"):
        load_index(make_settings(tmp_path / "empty"))


@pytest.mark.slow  # re-ingests or rebuilds: make test runs it, test-quick does not
def test_rebuild_starts_over(small):
    settings, papers = small
    ingest(settings=settings, papers=papers)
    report = ingest(settings=settings, papers=papers[:5], rebuild=True)
    assert report.added == 5
    assert open_collection(settings).count() == report.chunks_written


@pytest.mark.slow  # re-ingests or rebuilds: make test runs it, test-quick does not
def test_a_paper_listed_in_another_file_is_relabelled_without_re_embedding(small):
    settings, papers = small
    ingest(settings=settings, papers=papers)
    moved = papers[0].model_copy(update={"seed_files": [*papers[0].seed_files, "005_new_listing.txt"]})
    report = ingest(settings=settings, papers=[moved, *papers[1:]])
    assert report.relabelled == 1
    assert report.unchanged == 12
    assert report.chunks_written == 0
    stored = next(c for c in load_index(settings) if c.paper.id == moved.id)
    assert stored.paper.seed_files == moved.seed_files


def test_clients_build_chromas_settings_once_and_keep_their_own_paths(tmp_path, monkeypatch):
    """Every question opens a client to read the corpus version: chromadb's settings (~3 ms of
    pydantic-settings) are built once, and each client still gets its own copy (the client writes
    its path into the object it is given, so a shared one would point one store at another's files)."""
    import chromadb.config

    from rag import index

    built = []
    real = chromadb.config.Settings

    class Counting(real):  # type: ignore[misc,valid-type]
        def __init__(self, **kwargs):
            built.append(kwargs)
            super().__init__(**kwargs)

    monkeypatch.setattr(chromadb.config, "Settings", Counting)
    index._chroma_settings.cache_clear()
    first, second = make_settings(tmp_path / "a"), make_settings(tmp_path / "b")
    clients = [index.make_client(s) for s in (first, second, first, second)]
    assert len(built) == 1
    for client, settings in zip(clients, (first, second, first, second), strict=True):
        assert client.get_settings().persist_directory == str(settings.chroma_path)
        assert client.get_settings().anonymized_telemetry is False
    clients[1].get_or_create_collection("only_in_b")
    assert [c.name for c in clients[0].list_collections()] == []
    assert [c.name for c in clients[3].list_collections()] == ["only_in_b"]
    index._chroma_settings.cache_clear()
