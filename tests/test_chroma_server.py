"""The same code path against a real `chroma run` server (RAG_CHROMA_HOST/PORT -> chromadb.HttpClient)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from rag.corpus import load_papers
from tests.conftest import SEEDS, make_settings
from tests.helpers import free_port

pytestmark = pytest.mark.server


def chroma_cli() -> str:
    found = Path(sys.executable).with_name("chroma")
    return str(found) if found.exists() else (shutil.which("chroma") or "chroma")


@pytest.fixture
def chroma_server(tmp_path: Path) -> Iterator[tuple[str, int]]:
    """A real Chroma server on 127.0.0.1, up until heartbeat answers; always stopped."""
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    port = free_port()
    log = (tmp_path / "chroma.log").open("w")
    env = {**os.environ, "ANONYMIZED_TELEMETRY": "False"}
    cmd = [chroma_cli(), "run", "--path", str(tmp_path / "server"), "--host", "127.0.0.1", "--port", str(port)]
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env)
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, (tmp_path / "chroma.log").read_text()
            try:
                chromadb.HttpClient(
                    host="127.0.0.1", port=port, settings=ChromaSettings(anonymized_telemetry=False)
                ).heartbeat()
                break
            except Exception:
                assert time.monotonic() < deadline, "chroma run did not answer heartbeat in 60 s"
                time.sleep(0.2)
        yield "127.0.0.1", port
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=15)
        log.close()


def test_ingest_ask_and_reingest_against_a_real_chroma_server(chroma_server, tmp_path, model_cache):
    from rag.index import ingest, load_index, make_client, open_collection
    from rag.pipeline import Pipeline

    host, port = chroma_server
    settings = make_settings(tmp_path / "data", model_cache, chroma_host=host, chroma_port=port)
    client = make_client(settings)
    assert type(client).__name__ == "Client"
    assert client.get_settings().chroma_api_impl.endswith("FastAPI")
    assert client.get_settings().anonymized_telemetry is False
    papers = load_papers(SEEDS)[:40]

    first = ingest(settings=settings, papers=papers)
    count = open_collection(settings).count()
    assert first.added == 40
    assert first.chunks_written == count > 40
    assert not settings.chroma_path.exists()  # nothing went to the embedded store

    answer = Pipeline(settings).ask(papers[7].title)
    assert answer.citations
    assert answer.sources[0].paper.id == papers[7].id

    second = ingest(settings=settings, papers=papers)
    assert second.unchanged == 40
    assert second.added == second.updated == second.chunks_written == 0
    assert open_collection(settings).count() == count
    ids = [c.chunk.id for c in load_index(settings)]
    assert len(ids) == len(set(ids)) == count


def test_unreachable_server_is_a_clear_error(tmp_path):
    from rag.index import IndexMissing, load_index

    settings = make_settings(tmp_path / "data", chroma_host="127.0.0.1", chroma_port=free_port())
    with pytest.raises(IndexMissing, match=r"cannot reach Chroma server 127\.0\.0\.1"):
        load_index(settings)
