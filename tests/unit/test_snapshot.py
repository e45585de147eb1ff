"""Derived retrieval state saved per corpus version (rag/snapshot.py): a second start reads one file."""

from __future__ import annotations

import pytest

from rag.corpus import load_papers
from rag.index import corpus_version, ingest
from rag.search import Retriever
from tests.conftest import SEEDS, make_settings


def test_a_second_start_reads_the_snapshot_not_the_store(seeds_index, monkeypatch):
    first = Retriever(seeds_index)
    import rag.retrieve

    def no_store_reads(*args, **kwargs):
        raise AssertionError("the chunks were read from Chroma again")

    monkeypatch.setattr(rag.retrieve, "load_index", no_store_reads)
    second = Retriever(seeds_index)
    assert second.version == first.version
    question = "Which paper introduced pointer networks?"
    ranked = [s.paper.id for s in second.retrieve(question).sources]
    assert ranked == [s.paper.id for s in first.retrieve(question).sources]
    assert second.bm25.idf("pointer") == pytest.approx(first.bm25.idf("pointer"))


def test_a_new_corpus_version_gets_a_new_snapshot_and_the_old_one_goes(tmp_path, model_cache):
    settings = make_settings(tmp_path / "data", model_cache)
    papers = load_papers(SEEDS)[:6]
    ingest(settings=settings, papers=papers[:5])
    before = Retriever(settings)
    snapshots = sorted((settings.data_dir / "cache").glob("retrieval-*.pkl"))
    assert len(snapshots) == 1
    assert before.version in snapshots[0].name

    ingest(settings=settings, papers=papers)  # one paper more: a new version
    assert corpus_version(settings) != before.version
    after = Retriever(settings)
    assert after.paper_count == 6
    remaining = sorted((settings.data_dir / "cache").glob("retrieval-*.pkl"))
    assert [p.name for p in remaining] != [p.name for p in snapshots], "the stale snapshot was reused"
    assert len(remaining) == 1


def test_an_unreadable_snapshot_is_rebuilt_from_the_store(tmp_path, model_cache):
    settings = make_settings(tmp_path / "data", model_cache)
    ingest(settings=settings, papers=load_papers(SEEDS)[:3])
    Retriever(settings)
    (path,) = (settings.data_dir / "cache").glob("retrieval-*.pkl")
    path.write_bytes(b"not a pickle")
    assert Retriever(settings).paper_count == 3
    assert path.read_bytes() != b"not a pickle", "the broken snapshot was not replaced"


@pytest.mark.slow  # re-ingests or rebuilds: make test runs it, test-quick does not
def test_rag_ingest_leaves_the_snapshot_the_app_starts_from(tmp_path, model_cache, monkeypatch):
    from tests.helpers import run_cli

    settings = make_settings(tmp_path / "data", model_cache)
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    (seeds / "one.txt").write_text(next(SEEDS.glob("000_*.txt")).read_text(encoding="utf-8"), encoding="utf-8")
    out = run_cli(["ingest", "--seeds", str(seeds)], settings.data_dir)
    assert out.returncode == 0, out.stderr
    assert "retrieval snapshot ready" in out.stdout
    import rag.retrieve

    def no_store_reads(*args, **kwargs):
        raise AssertionError("the first start after ingest read the chunks from Chroma")

    monkeypatch.setattr(rag.retrieve, "load_index", no_store_reads)
    assert Retriever(settings).paper_count > 0
