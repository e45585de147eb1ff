"""The web app under concurrent clients, and its optional login, through gradio_client on loopback."""

from __future__ import annotations

import statistics
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.conftest import launch_app, make_settings

CLIENTS = 20
QUESTIONS_PER_CLIENT = 3


@pytest.mark.slow
def test_twenty_concurrent_clients_are_all_answered(app_url, pipeline, dev_questions):
    from gradio_client import Client

    questions = [q["question"] for q in dev_questions]
    expected = {q: pipeline.ask(q) for q in questions[: CLIENTS * QUESTIONS_PER_CLIENT]}

    def one_client(i: int) -> list[tuple[str, dict, float]]:
        client = Client(app_url, verbose=False)
        out = []
        for j in range(QUESTIONS_PER_CLIENT):
            question = questions[(i * QUESTIONS_PER_CLIENT + j) % len(questions)]
            started = time.perf_counter()
            result = client.predict(question, 5, "extractive", api_name="/ask")
            out.append((question, result, (time.perf_counter() - started) * 1e3))
        return out

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=CLIENTS) as pool:
        results = [r for batch in pool.map(one_client, range(CLIENTS), timeout=300) for r in batch]
    wall = time.perf_counter() - started
    assert len(results) == CLIENTS * QUESTIONS_PER_CLIENT
    for question, result, _ in results:
        answer = expected.get(question) or pipeline.ask(question)
        assert result["text"] == answer.text
        assert [c["n"] for c in result["citations"]] == [c.n for c in answer.citations]
    latencies = sorted(ms for _, _, ms in results)
    p50, p95 = statistics.median(latencies), latencies[int(0.95 * (len(latencies) - 1))]
    print(f"\n{CLIENTS} clients x {QUESTIONS_PER_CLIENT} questions: {wall:.1f}s, p50 {p50:.0f} ms, p95 {p95:.0f} ms")


def test_login_is_required_when_rag_auth_is_set(pipeline, seeds_index):
    import httpx
    from gradio_client import Client

    settings = make_settings(seeds_index.data_dir, auth="ann:s3cret:pw")
    app, url = launch_app(pipeline, settings)
    try:
        assert httpx.get(url + "config", timeout=10).status_code == 401
        with pytest.raises(Exception):  # noqa: B017 - gradio_client raises a bare ValueError/HTTP error
            Client(url, auth=("ann", "wrong"), verbose=False)
        client = Client(url, auth=("ann", "s3cret:pw"), verbose=False)
        result = client.predict("pointer networks attention over input positions", 5, "auto", api_name="/ask")
        assert result["citations"]
        assert not result["refused"]
    finally:
        app.close()


def test_app_binds_loopback_by_default(seeds_index):
    from rag.config import Settings

    assert Settings().host == "127.0.0.1"
    assert Settings().port == 7860
    assert make_settings(seeds_index.data_dir).auth is None
