"""Every text that enters the web app is bounded before any work, against a real running server.

Issue 21: a 1 MB `cited_titles` entry in `/ask`'s history took 11 s of CPU and was echoed back;
an 800 kB Papers-tab search sent through /gradio_api/queue/join took 23 s; uploads had no size
limit. Each is now refused at once with a message that says what the limit is.
"""

from __future__ import annotations

import httpx
import pytest

from rag.models import MAX_HISTORY_TURNS, MAX_TITLE_CHARS
from rag.ui.rendering import MAX_SEARCH_CHARS
from tests.helpers import queue_join

MEMTREE_Q = "Which paper organises an LLM's long-term memory as a tree?"
MB = 1_000_000


@pytest.fixture(scope="module")
def client(app_url: str):
    from gradio_client import Client

    return Client(app_url, verbose=False)


def turn(title: str = "Pointer Networks") -> dict:
    return {"question": "Which paper introduced pointer networks?", "cited_paper_ids": ["p"], "cited_titles": [title]}


@pytest.mark.browser
@pytest.mark.parametrize(
    ("question", "history", "says"),
    [
        ("what did it improve on?", [turn("x" * MB)],
         f"a cited title is 1,000,000 characters long; the limit is {MAX_TITLE_CHARS}"),
        ("what did it improve on?", [turn()] * (MAX_HISTORY_TURNS + 1),
         f"history has {MAX_HISTORY_TURNS + 1} entries; the limit is {MAX_HISTORY_TURNS}"),
        ("what did it improve on?", [{**turn(), "question": "q" * MB}], "an earlier question is 1,000,000 characters"),
        ("what did it improve on?", [{"question": "q", "text": "a" * MB, "citations": []}],
         "an earlier answer is 1,000,000 characters long"),
        ("q" * MB, None, "That question is 1,000,000 characters long; please keep it under 2,000 characters."),
    ],
    ids=["1mb-title", "too-many-turns", "1mb-earlier-question", "1mb-earlier-answer", "1mb-question"],
)  # fmt: skip
def test_api_ask_refuses_oversized_input_with_a_clear_message(client, question, history, says):
    with pytest.raises(Exception) as info:
        client.predict(question, 5, "auto", history, api_name="/ask")
    assert says in str(info.value)


@pytest.mark.browser
def test_api_ask_still_answers_a_follow_up_within_the_bounds(client):
    first = client.predict(MEMTREE_Q, 5, "auto", None, api_name="/ask")
    follow = client.predict(
        "What benchmarks was it evaluated on?", 5, "auto", [first] * MAX_HISTORY_TURNS, api_name="/ask"
    )
    assert follow["citations"], follow["text"]


@pytest.mark.browser
def test_papers_search_through_the_queue_refuses_an_800kb_query(app_url):
    refused = queue_join(app_url, "search_papers", "pointer " * 100_000)
    assert refused["success"], refused
    html = refused["output"]["data"][0]
    assert f"That search is 800,000 characters long; please keep it under {MAX_SEARCH_CHARS} characters." in html
    found = queue_join(app_url, "search_papers", "pointer networks")
    assert "Pointer Networks" in found["output"]["data"][0]


@pytest.mark.browser
def test_uploads_over_the_limit_are_refused(app_url):
    base = app_url.rstrip("/")
    big = httpx.post(f"{base}/gradio_api/upload", files={"files": ("big.bin", b"\0" * (2 * MB))}, timeout=60)
    assert big.status_code == 413, big.text
    assert "maximum allowed size" in big.text
    small = httpx.post(f"{base}/gradio_api/upload", files={"files": ("small.txt", b"hello")}, timeout=60)
    assert small.status_code == 200, small.text
