"""Shared fixtures: one real Chroma index of the seeds per test session."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import free_port

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"
DEV_QUESTIONS = ROOT / "eval" / "dev_questions.jsonl"

os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ["HF_HUB_OFFLINE"] = "1"
for key in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "RAG_LLM_BASE_URL", "RAG_CHROMA_HOST"):
    os.environ.pop(key, None)


TEST_CACHE = ROOT / ".cache" / "tests"  # survives sessions: models and the seeds index (keyed by content)


@pytest.fixture(scope="session")
def model_cache() -> Path:
    """The ONNX models, built once per machine (file names carry the weights' digest) for every data dir."""
    path = TEST_CACHE / "models"
    path.mkdir(parents=True, exist_ok=True)
    return path


def seeds_index_key(settings) -> str:
    """Everything an ingest of the seeds depends on: seed files, embedder, chunking, and the code doing it."""
    from rag import corpus, embeddings, index, sentences, text

    digest = hashlib.sha256()
    for path in sorted(SEEDS.iterdir()):
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    for module in (corpus, embeddings, index, sentences, text):
        digest.update(Path(module.__file__).read_bytes())
    fields = ("chunk_size", "chunk_overlap", "embed_int8", "paper_embedder", "collection")
    digest.update(repr([getattr(settings, f) for f in fields]).encode())
    return digest.hexdigest()[:16]


def make_settings(data_dir: Path, model_cache: Path | None = None, **overrides):
    from rag.config import Settings

    settings = Settings(data_dir=data_dir, seeds_dir=SEEDS, **overrides)
    if model_cache is not None:
        target = settings.model_cache_dir
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            target.symlink_to(model_cache, target_is_directory=True)
    return settings


@pytest.fixture(scope="session")
def seeds_index(tmp_path_factory: pytest.TempPathFactory, model_cache: Path):
    """Settings of a data dir holding a full ingest of the seeds (read-only for tests)."""
    from rag.index import ingest

    data_dir = tmp_path_factory.mktemp("data")
    settings = make_settings(data_dir, model_cache)
    cached = TEST_CACHE / f"seeds-index-{seeds_index_key(settings)}"
    # the same ingest without the paper-level embedder: the default's extra collection is added to a copy of it
    # from the shipped paper vectors in seconds, instead of a whole ingest of the seeds (minutes)
    chunks_only = TEST_CACHE / f"seeds-index-{seeds_index_key(settings.model_copy(update={'paper_embedder': 'none'}))}"
    if (cached / "chroma").is_dir():  # an ingest of these very seeds, by this very code: copy it
        shutil.copytree(cached / "chroma", settings.chroma_path)
    else:
        if settings.paper_embedder != "none" and (chunks_only / "chroma").is_dir():
            shutil.copytree(chunks_only / "chroma", settings.chroma_path)
        report = ingest(settings=settings)
        assert report.papers == 505, f"ingest found {report.papers} papers in the seeds, not 505"
        from rag.index import forget_client

        forget_client(settings)  # flush and close the store before copying it
        staging = cached.with_name(f"{cached.name}.{os.getpid()}.tmp")
        shutil.copytree(settings.chroma_path, staging / "chroma")
        for stale in TEST_CACHE.glob("seeds-index-*"):
            if stale.is_dir() and not stale.name.endswith(".tmp") and stale != chunks_only:
                shutil.rmtree(stale, ignore_errors=True)
        staging.rename(cached)
    os.environ["RAG_DATA_DIR"] = str(data_dir)  # for rag.ask() and subprocesses
    from rag.config import get_settings

    get_settings.cache_clear()
    return settings


@pytest.fixture(scope="session")
def pipeline(seeds_index):
    from rag.pipeline import Pipeline

    return Pipeline(seeds_index)


@pytest.fixture(scope="session")
def dev_questions() -> list[dict]:
    return [json.loads(line) for line in DEV_QUESTIONS.read_text().splitlines() if line.strip()]


@pytest.fixture
def seeds_copy(tmp_path: Path) -> Path:
    target = tmp_path / "seeds"
    shutil.copytree(SEEDS, target)
    return target


def launch_app(pipeline, settings=None) -> tuple[object, str]:
    """The real Gradio app over `pipeline`, served on a free loopback port in this process."""
    from rag.ui import build_app, launch

    app = build_app(pipeline)
    port = free_port()
    launch(app, settings or pipeline.settings, host="127.0.0.1", port=port, block=False, quiet=True)
    return app, f"http://127.0.0.1:{port}/"


@pytest.fixture(scope="session")
def app_url(pipeline) -> Iterator[str]:
    app, url = launch_app(pipeline)
    try:
        yield url
    finally:
        app.close()
