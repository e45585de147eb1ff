"""The opt-in query rewrite (rag.rewrite, RAG_QUERY_REWRITE) against the scripted endpoint (tests/fake_openai.py).

The passage the model writes is searched beside the question; what the question names and the
refusal decision stay the question's; every failure searches the question alone, logs one line,
and says why in the record.
"""

from __future__ import annotations

import copy
import logging
import time

import pytest

from rag.pipeline import Pipeline
from rag.rewrite import QueryRewriter
from rag.search import Retriever
from tests.conftest import ROOT, make_settings
from tests.fake_openai import scripted_server
from tests.helpers import free_port

MEMTREE = "From Isolated Conversations to Hierarchical Schemas: Dynamic Tree Memory Representation for LLMs"
VAGUE = "that gadget for chatbots that files old chats away like folders in a cabinet"
PASSAGE = (
    "We propose a dynamic tree-structured memory representation for large language models that organises "
    "long-term conversation memory into hierarchical schemas, inserting new dialogue turns into the tree."
)
TEMPLATE_LINE = (ROOT / "prompts" / "rewrite.txt").read_text(encoding="utf-8").splitlines()[0]


def rewriting(retriever: Retriever, url: str, **overrides: object) -> Retriever:
    """The session's retriever (its index shared) with the rewrite on against `url`."""
    fields = {"llm_base_url": url, "llm_model": "fake", "query_rewrite": True, "llm_max_retries": 0}
    settings = make_settings(retriever.settings.data_dir, **{**fields, **overrides})
    clone = copy.copy(retriever)
    clone.settings = settings
    clone.rewriter = QueryRewriter(settings)
    return clone


def titles(retrieval) -> list[str]:
    return [s.paper.title for s in retrieval.sources]


@pytest.mark.parametrize("api", ["chat", "completions"])
def test_the_passage_is_asked_for_with_the_prompt_and_finds_what_the_question_alone_does_not(pipeline, api):
    alone = pipeline.retriever.retrieve(VAGUE)
    assert titles(alone)[0] != MEMTREE, "the question alone already finds it: the test shows nothing"
    with scripted_server(PASSAGE) as (url, handler):
        both = rewriting(pipeline.retriever, url, llm_api=api).retrieve(VAGUE)
    assert titles(both)[0] == MEMTREE, titles(both)
    assert both.rewrite is not None and both.rewrite.passage == PASSAGE, both.rewrite
    assert both.rewrite.skipped == "" and both.timings["rewrite_ms"] > 0
    [request] = handler.requests
    body = request["body"]
    prompt = body["messages"][0]["content"] if api == "chat" else body["prompt"]
    assert request["path"].endswith("/chat/completions" if api == "chat" else "/completions")
    assert TEMPLATE_LINE in prompt and f"Question: {VAGUE}\nAbstract:" in prompt
    assert body["temperature"] == 0.0 and body.get("stream") is not True
    assert any(name.endswith("_rewrite") for name in both.hits[0].scores), "the passage's rankings were not fused"


def test_the_refusal_decision_and_what_is_named_stay_the_questions(pipeline):
    question = "What is the boiling point of mercury at sea level?"
    alone = pipeline.retriever.retrieve(question)
    assert alone.verdict == "refuse"
    with scripted_server(PASSAGE) as (url, _):  # a passage that strongly matches one paper
        both = rewriting(pipeline.retriever, url).retrieve(question)
    assert both.rewrite is not None and both.rewrite.used
    assert titles(both)[0] == MEMTREE, "the passage was not searched"
    assert (both.verdict, both.probability, both.evidence) == (alone.verdict, alone.probability, alone.evidence)
    assert (both.query.named, both.query.only_name) == (alone.query.named, alone.query.only_name)


def test_a_question_that_names_its_paper_is_not_rewritten(pipeline):
    question = "How does MemTree organise conversation memory?"
    with scripted_server(PASSAGE) as (url, handler):
        retriever = rewriting(pipeline.retriever, url)
        named = retriever.retrieve(question)
        answer = Pipeline(retriever.settings, retriever).ask(question, mode="extractive")
    assert handler.requests == []
    assert named.rewrite is not None and named.rewrite.skipped == "the question names its paper"
    assert titles(named)[0] == MEMTREE
    assert not answer.refused and answer.query_rewrite == named.rewrite  # an answer's record says it too


def test_rewrites_are_cached_per_question_text(pipeline):
    with scripted_server(PASSAGE) as (url, handler):
        retriever = rewriting(pipeline.retriever, url)
        first, again = retriever.retrieve(VAGUE), retriever.retrieve(VAGUE)
        other = retriever.retrieve(VAGUE + "?")
    assert len(handler.requests) == 2, "the same question was rewritten twice"
    assert not first.rewrite.cached and again.rewrite.cached and not other.rewrite.cached
    assert again.rewrite.passage == PASSAGE and titles(again) == titles(first)


@pytest.mark.parametrize(
    ("reply", "fault", "reason"),
    [
        ("", "500", "answered HTTP 500"),
        ("", "garbage-html", "unreadable reply"),
        ("", "", "empty reply"),
        ("Sure.", "", "is no passage"),
        (f"{TEMPLATE_LINE} {PASSAGE}", "", "repeated its instructions"),
        (VAGUE, "", "repeated the question"),
    ],
)
def test_a_failed_or_unusable_rewrite_searches_the_question_alone_and_says_why(pipeline, caplog, reply, fault, reason):
    alone = pipeline.retriever.retrieve(VAGUE)
    caplog.set_level(logging.WARNING, logger="rag.rewrite")
    with scripted_server(reply, fault=fault) as (url, handler):
        retriever = rewriting(pipeline.retriever, url)
        fell_back = retriever.retrieve(VAGUE)
        answer = Pipeline(retriever.settings, retriever).ask(VAGUE, mode="extractive")
    assert handler.requests, "the rewrite was never asked for"
    assert titles(fell_back) == titles(alone)
    assert fell_back.rewrite is not None and not fell_back.rewrite.used
    assert reason in fell_back.rewrite.skipped, fell_back.rewrite
    logged = [r for r in caplog.records if "query rewrite skipped" in r.getMessage()]
    assert len(logged) == 2 and reason in logged[0].getMessage()  # one line per question
    assert answer.query_rewrite is not None and reason in answer.query_rewrite.skipped  # the answer still comes
    assert answer.text


def test_an_endpoint_that_is_down_or_hangs_costs_at_most_the_rewrite_timeout(pipeline):
    alone = pipeline.retriever.retrieve(VAGUE)
    down = rewriting(pipeline.retriever, f"http://127.0.0.1:{free_port()}/v1").retrieve(VAGUE)
    assert "cannot connect" in down.rewrite.skipped and titles(down) == titles(alone)
    with scripted_server(fault="hang") as (url, handler):
        started = time.perf_counter()
        hung = rewriting(pipeline.retriever, url, query_rewrite_timeout=1.0, llm_max_retries=3).retrieve(VAGUE)
        elapsed = time.perf_counter() - started
    assert "within 1 s" in hung.rewrite.skipped, hung.rewrite
    assert len(handler.requests) == 1, "the rewrite was retried (the user is waiting)"
    assert titles(hung) == titles(alone)
    assert elapsed < 1.0 + 4, elapsed


def test_off_by_default_sends_no_request(pipeline):
    with scripted_server(PASSAGE) as (url, handler):
        settings = make_settings(pipeline.settings.data_dir, llm_base_url=url, llm_model="fake")
        assert settings.query_rewrite is False
        retriever = Retriever(settings, embedder=pipeline.retriever.embedder)
        retrieval = retriever.retrieve(VAGUE)
        answer = Pipeline(settings, retriever).ask(VAGUE, mode="extractive")
    assert retriever.rewriter is None and retrieval.rewrite is None and answer.query_rewrite is None
    assert "rewrite_ms" not in retrieval.timings
    assert handler.requests == []


def test_a_reloaded_index_keeps_the_cached_passages(pipeline):
    with scripted_server(PASSAGE) as (url, handler):
        retriever = rewriting(pipeline.retriever, url)
        answering = Pipeline(retriever.settings, retriever)
        first = answering.retriever.retrieve(VAGUE)
        answering._reload_index()  # what a newer corpus version triggers
        assert answering.retriever is not retriever, "the index was not reloaded"
        again = answering.retriever.retrieve(VAGUE)
    assert len(handler.requests) == 1, "the reload forgot the passages"
    assert not first.rewrite.cached and again.rewrite.cached and titles(again)[0] == MEMTREE


def test_a_probe_search_sends_no_request(pipeline):
    """`rewrite=False` (a follow-up's message searched alone to see if it has a topic of its own) asks nothing."""
    with scripted_server(PASSAGE) as (url, handler):
        retriever = rewriting(pipeline.retriever, url)
        probe = retriever.retrieve(VAGUE, rewrite=False)
        assert handler.requests == [] and probe.rewrite is None
        assert retriever.retrieve(VAGUE).rewrite is not None and len(handler.requests) == 1  # the same question asks
