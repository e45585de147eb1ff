"""A missing or corrupt data dir gives a message saying what to run, and `rag ingest --rebuild` recovers."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from rag.corpus import load_papers
from rag.index import IndexCorrupt, IndexMissing, ingest, load_index, open_collection
from tests.conftest import ROOT, SEEDS, make_settings

GARBAGE = b"this is not an sqlite database\x00\xff" * 1000


def rag(args: list[str], data_dir: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI", "RAG_"))}
    env.update(RAG_DATA_DIR=str(data_dir), PYTHONPATH=str(ROOT))
    return subprocess.run(
        [sys.executable, "-m", "rag.cli", *args], env=env, cwd=ROOT, capture_output=True, text=True, timeout=300
    )


def test_missing_data_dir_says_run_ingest_and_creates_nothing(tmp_path):
    data_dir = tmp_path / "never-ingested"
    out = rag(["ask", "Which paper introduced pointer networks?"], data_dir)
    assert out.returncode == 3
    assert "Traceback" not in out.stderr
    assert out.stderr.startswith("error: no paper index")
    assert "run `rag ingest`" in out.stderr
    assert not (data_dir / "chroma").exists()  # asking did not create an empty store
    with pytest.raises(IndexMissing, match="rag ingest"):
        open_collection(make_settings(data_dir))


def test_corrupt_store_in_process_is_reported_and_rebuild_recovers(tmp_path, model_cache):
    """chromadb caches a half-started client per path; --rebuild must not trip over it."""
    settings = make_settings(tmp_path / "data", model_cache)
    settings.chroma_path.mkdir(parents=True)
    (settings.chroma_path / "chroma.sqlite3").write_bytes(GARBAGE)
    with pytest.raises(IndexCorrupt, match=r"rag ingest --rebuild"):
        load_index(settings)
    with pytest.raises(IndexCorrupt, match=r"rag ingest --rebuild"):
        ingest(settings=settings, papers=load_papers(SEEDS)[:3])  # plain ingest does not overwrite it
    report = ingest(settings=settings, papers=load_papers(SEEDS)[:3], rebuild=True)
    assert report.added == 3
    assert {c.paper.id for c in load_index(settings)} == {p.id for p in load_papers(SEEDS)[:3]}


@pytest.mark.slow  # re-ingests or rebuilds: make test runs it, test-quick does not
def test_corrupt_store_via_cli_says_rebuild_and_rebuild_recovers(tmp_path, model_cache):
    settings = make_settings(tmp_path / "data", model_cache)
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    source = sorted(SEEDS.glob("000_*.txt"))[0]
    (seeds / source.name).write_text(source.read_text(encoding="utf-8"), encoding="utf-8")
    first = rag(["ingest", "-q", "--seeds", str(seeds)], settings.data_dir)
    assert first.returncode == 0, first.stderr

    (settings.chroma_path / "chroma.sqlite3").write_bytes(GARBAGE)
    for args in (["ask", "pointer networks"], ["ingest", "-q", "--seeds", str(seeds)]):
        out = rag(args, settings.data_dir)
        assert out.returncode == 3
        assert "Traceback" not in out.stderr
        assert "cannot be read" in out.stderr
        assert "run `rag ingest --rebuild`" in out.stderr

    rebuilt = rag(["ingest", "-q", "--rebuild", "--seeds", str(seeds)], settings.data_dir)
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert "0 unchanged" in rebuilt.stdout
    answer = rag(["ask", "Which paper introduced pointer networks?"], settings.data_dir)
    assert answer.returncode == 0, answer.stderr
    assert "Pointer Networks" in answer.stdout, answer.stderr
