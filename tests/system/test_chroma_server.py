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


class AppProcess:
    """`rag serve` in its own process on a free port, against the given store; always stopped by its owner."""

    def __init__(self, data_dir: Path, host: str, port: int, log_path: Path) -> None:
        from tests.helpers import ROOT as project

        self.url = f"http://127.0.0.1:{free_port()}/"
        env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI", "RAG_"))}
        env.update(
            RAG_DATA_DIR=str(data_dir), RAG_CHROMA_HOST=host, RAG_CHROMA_PORT=str(port),
            RAG_PORT=self.url.rsplit(":", 1)[1].strip("/"), PYTHONPATH=str(project),
        )  # fmt: skip
        self.log = log_path.open("w")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "rag.cli", "serve"], env=env, cwd=project, stdout=self.log, stderr=subprocess.STDOUT
        )

    def wait_ready(self, deadline: float) -> None:
        """Until the app answers HTTP (it logs nothing we could wait on more precisely)."""
        import urllib.request

        while True:
            assert self.proc.poll() is None, f"rag serve exited: {Path(self.log.name).read_text()}"
            try:
                with urllib.request.urlopen(self.url, timeout=5) as response:
                    if response.status == 200:
                        return
            except OSError:
                pass
            assert time.monotonic() < deadline, f"rag serve not up: {Path(self.log.name).read_text()}"
            time.sleep(0.2)

    def ask(self, question: str) -> dict:
        from gradio_client import Client

        return Client(self.url, verbose=False).predict(question, 5, "auto", api_name="/ask")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=30)
        self.log.close()


def cited_ids(answer: dict) -> set[str]:
    return {c["paper_id"] for c in answer["citations"]}


def test_two_app_processes_pick_up_an_ingest_on_one_chroma_server(chroma_server, tmp_path, model_cache):
    """Two `rag serve` processes on one `chroma run`; `rag ingest` adds one paper and removes another.

    Neither process is restarted: a removed paper is never cited once the ingest has removed it,
    and the added one is answered from as soon as a process has reloaded (in the background).
    """
    from rag.index import ingest

    host, port = chroma_server
    settings = make_settings(tmp_path / "data", model_cache, chroma_host=host, chroma_port=port)
    papers = load_papers(SEEDS)[:31]
    gone, new, kept = papers[0], papers[30], papers[1:30]
    ingest(settings=settings, papers=[gone, *kept])

    apps = [AppProcess(settings.data_dir, host, port, tmp_path / f"app{i}.log") for i in range(2)]
    try:
        deadline = time.monotonic() + 180
        for app in apps:
            app.wait_ready(deadline)
        for app in apps:
            assert gone.id in cited_ids(app.ask(gone.title)), "the app does not answer from the first ingest"
            assert new.id not in cited_ids(app.ask(new.title)), "a paper not ingested yet was cited"

        report = ingest(settings=settings, papers=[*kept, new])  # what `rag ingest` does, here in-process
        assert report.added == 1
        assert report.deleted == 1

        for app in apps:
            for _ in range(3):  # every answer after the ingest: the removed paper is never cited
                assert gone.id not in cited_ids(app.ask(gone.title)), f"{app.url} cited a removed paper"
        for app in apps:  # the added paper shows up once the background reload is in
            while new.id not in cited_ids(app.ask(new.title)):
                assert time.monotonic() < deadline, f"{app.url} never picked up the new paper"
                time.sleep(0.5)
            log = Path(app.log.name).read_text()
            assert "Traceback" not in log, log
    finally:
        for app in apps:
            app.stop()
