"""The LLM path against a scripted endpoint (tests/fake_openai.py): every reply check, deterministically.

The real-model tests (tests/system/test_llm.py, marked `llm`) show the plumbing works with llama.cpp;
these pin what happens to each kind of reply a model can give, on both APIs, in the quick tier.
"""

from __future__ import annotations

import logging
import time

import pytest

from rag.answer import NOT_IN_CORPUS
from rag.pipeline import Pipeline
from tests.conftest import ROOT, make_settings
from tests.fake_openai import scripted_server

QUESTION = "What is the computational model behind a Transformer?"
GOOD = "Transformers rely on attention alone, without recurrence [1]."
SYSTEM_LINE = (ROOT / "prompts" / "system.txt").read_text(encoding="utf-8").splitlines()[0]
APIS = ["chat", "completions"]


KEY = "sk-test-SECRET123"


def scripted(base: Pipeline, url: str, api: str, **overrides: object) -> Pipeline:
    fields = {"llm_base_url": url, "llm_model": "fake", "llm_api": api, "llm_timeout": 5, "llm_max_retries": 0}
    settings = make_settings(base.settings.data_dir, **{**fields, **overrides})
    return Pipeline(settings, base.retriever)


def assert_only_retrieved_sources_cited(answer) -> None:
    numbers = {s.n for s in answer.sources}
    for citation in answer.citations:
        assert citation.n in numbers, f"[{citation.n}] cites no retrieved source ({sorted(numbers)})"
        source = next(s for s in answer.sources if s.n == citation.n)
        assert source.paper.abstract[citation.start : citation.end] == citation.quote, "quote is not the abstract's"


@pytest.mark.parametrize("api", APIS)
def test_a_good_cited_reply_is_the_answer(pipeline, api):
    with scripted_server(GOOD) as (url, handler):
        answer = scripted(pipeline, url, api).ask(QUESTION, k=3, mode="llm")
    assert answer.mode == "llm", answer.notice
    assert answer.notice == "", answer.notice
    assert answer.text.startswith("Transformers rely on attention alone"), answer.text
    assert [c.n for c in answer.citations] == [1]
    assert_only_retrieved_sources_cited(answer)
    assert handler.requests[0]["path"].endswith("/chat/completions" if api == "chat" else "/completions")
    assert handler.requests[0]["body"]["stream"] is True


@pytest.mark.parametrize("api", APIS)
def test_a_citation_of_a_source_that_was_not_given_is_removed(pipeline, api):
    with scripted_server("Transformers rely on attention [1, 7].") as (url, _):
        answer = scripted(pipeline, url, api).ask(QUESTION, k=3, mode="llm")
    assert answer.mode == "llm", answer.notice
    assert "7" not in answer.text, answer.text
    assert [c.n for c in answer.citations] == [1]
    assert_only_retrieved_sources_cited(answer)


@pytest.mark.parametrize(
    ("reply", "notice"),
    [
        ("[1, 7]", "gave citations with no answer text"),
        ("[1][2]", "gave citations with no answer text"),
        (SYSTEM_LINE, "repeated its instructions"),
        ("Transformers are great.", "cited none of the retrieved papers"),
        (NOT_IN_CORPUS, "found no direct answer"),
    ],
)
@pytest.mark.parametrize("api", APIS)
def test_an_unusable_reply_falls_back_to_quotes_and_says_why(pipeline, api, reply, notice):
    with scripted_server(reply) as (url, _):
        answer = scripted(pipeline, url, api).ask(QUESTION, k=3, mode="llm")
    assert answer.mode == "extractive", f"{reply!r} was used as the answer"
    assert notice in answer.notice, answer.notice
    assert not answer.refused, "retrieval was confident: the quotes beat a bare refusal"
    assert answer.citations, "the fallback quotes cite nothing"
    assert_only_retrieved_sources_cited(answer)


@pytest.mark.parametrize(
    ("fault", "expect"),
    [
        ("429", "rate-limiting"),
        ("500", "HTTP 500"),
        ("401", "rejected the API key"),
        ("garbage-sse", "unreadable reply"),
        ("garbage-html", "empty answer"),
        ("hang", "within 1.5 s"),
    ],
)
def test_faults_fall_back_with_a_notice_and_never_leak_the_key(pipeline, fault, expect, caplog):
    caplog.set_level(logging.DEBUG)
    with scripted_server(fault=fault) as (url, handler):
        llm = scripted(pipeline, url, "chat", llm_timeout=1.5, llm_max_retries=1, openai_api_key=KEY)
        started = time.perf_counter()
        events = list(llm.stream(QUESTION, k=3, mode="llm"))
        elapsed = time.perf_counter() - started
    kinds = [e.kind for e in events]
    assert kinds[0] == "sources", kinds
    assert kinds[-1] == "answer", kinds
    assert "notice" in kinds, f"no notice event for {fault}: {kinds}"
    answer = events[-1].answer
    assert answer is not None
    assert answer.mode == "extractive"
    assert answer.citations
    assert not answer.refused
    assert expect in answer.notice, answer.notice
    assert_only_retrieved_sources_cited(answer)
    assert handler.requests[0]["auth"] == f"Bearer {KEY}"  # the key was really sent
    if fault in ("429", "500", "hang"):
        assert len(handler.requests) == 2  # llm_max_retries=1: one retry, no more
    for text in (answer.model_dump_json(), answer.notice, caplog.text):
        assert "SECRET123" not in text
    assert elapsed < 2 * 1.5 + 5, elapsed  # two timed-out attempts at most, plus backoff


MEMTREE = "From Isolated Conversations to Hierarchical Schemas: Dynamic Tree Memory Representation for LLMs"


def test_failed_condense_falls_back_to_the_offline_resolution_with_a_notice(pipeline):
    first = pipeline.ask("Which paper organises an LLM's long-term memory as a tree?")
    with scripted_server(fault="500") as (url, _):
        llm = scripted(pipeline, url, "chat", llm_timeout=2)
        answer = llm.ask("What benchmarks was it evaluated on?", mode="llm", history=[(first.question, first)])
    assert "could not restate the follow-up" in answer.notice, answer.notice
    assert MEMTREE in answer.standalone_question, answer.standalone_question
    assert MEMTREE in {c.title for c in answer.citations}, answer.text  # extractive fallback, right paper
    assert_only_retrieved_sources_cited(answer)


def test_the_judge_reads_the_models_score(pipeline, tmp_path):
    from rag import evaluate as ev
    from tests.conftest import DEV_QUESTIONS

    questions = tmp_path / "q.jsonl"
    questions.write_text("\n".join(DEV_QUESTIONS.read_text().splitlines()[:2]))
    with scripted_server("0.8") as (url, handler):
        report = ev.run(questions, tmp_path / "o", pipeline=scripted(pipeline, url, "completions"), judge=True,
                        progress=False)  # fmt: skip
    scores = [r.get("faithfulness") for r in report["questions"]]
    assert scores == [0.8, 0.8], scores
    assert any(r["body"].get("stream") is not True for r in handler.requests), "the judge call was never made"


def test_a_made_up_citation_is_counted_by_eval(pipeline, tmp_path):
    from rag import evaluate as ev
    from tests.conftest import DEV_QUESTIONS

    questions = tmp_path / "q.jsonl"
    questions.write_text(DEV_QUESTIONS.read_text().splitlines()[0])
    with scripted_server("This is what the paper finds [1] and more [9].") as (url, _):
        llm = scripted(pipeline, url, "chat")
        answer = llm.ask(QUESTION, k=3, mode="llm")
        report = ev.run(questions, tmp_path / "o", pipeline=llm, progress=False)
    assert answer.made_up_citations == [9], answer.made_up_citations
    assert "[9]" not in answer.text
    assert report["summary"]["made_up_citation_rate"] == 1.0, report["summary"]


def test_a_set_question_gives_the_llm_only_the_chosen_papers_and_asks_one_item_each(pipeline):
    """The LLM path takes the same decisions as the extractive one: the plan's papers, the set form."""
    question = "Which papers in the collection are about sparse autoencoders?"
    offline = pipeline.ask(question, mode="extractive")
    chosen = [s for s in offline.sources if s.n in offline.used_sources]
    unchosen = [s for s in offline.sources if s.n not in offline.used_sources]
    reply = "\n".join(f"- {s.paper.title[:30]} [{s.n}]: It studies sparse autoencoders [{s.n}]." for s in chosen)
    with scripted_server(reply) as (url, handler):
        answer = scripted(pipeline, url, "chat").ask(question, mode="llm")
    assert answer.mode == "llm", answer.notice
    prompt = handler.requests[0]["body"]["messages"][-1]["content"]
    assert f"Give one item for each of the {len(chosen)} papers above" in prompt
    for source in chosen:
        assert f'<source n="{source.n}">' in prompt
    for source in unchosen:  # judged not about the topic: not in the prompt
        assert f'<source n="{source.n}">' not in prompt
    assert answer.used_sources == [s.n for s in chosen]
    assert_only_retrieved_sources_cited(answer)


def test_a_summary_question_asks_the_llm_for_problem_method_result(pipeline):
    with scripted_server("- Problem: polysemanticity [1].") as (url, handler):
        scripted(pipeline, url, "chat").ask("Summarize the Monet paper.", mode="llm")
    prompt = handler.requests[0]["body"]["messages"][-1]["content"]
    assert '"- Problem: ... [n]", "- Method: ... [n]", "- Result: ... [n]"' in prompt
    assert prompt.count("<source n=") == 1


def test_a_follow_up_choosing_several_of_a_set_asks_the_llm_for_one_item_each(pipeline):
    """ "which of them are ..." cites several papers of the last answer: the prompt holds those alone and asks
    for one item per paper, as the extractive answer lists them (not the one-paper instruction)."""
    first = pipeline.ask("Which papers in the collection are about sparse autoencoders?", mode="extractive")
    follow = "Which of them are about attention layers or circuits?"
    offline = pipeline.ask(follow, history=[(first.question, first)], mode="extractive")
    chosen = [s for s in offline.sources if s.n in offline.used_sources]
    assert len(chosen) >= 2, offline.text
    reply = "\n".join(f"- {s.paper.title[:30]} [{s.n}]: It studies circuits [{s.n}]." for s in chosen)
    with scripted_server(reply) as (url, handler):
        answer = scripted(pipeline, url, "chat").ask(follow, history=[(first.question, first)], mode="llm")
    assert answer.mode == "llm", answer.notice
    prompt = handler.requests[-1]["body"]["messages"][-1]["content"]
    assert f"Give one item for each of the {len(chosen)} papers above" in prompt
    assert prompt.count("<source n=") == len(chosen)


def test_a_question_across_papers_gives_the_llm_each_chosen_paper_and_its_own_form(pipeline):
    """ "What limitations ... according to the papers here?" is chosen as a set over its topic: the prompt holds
    the chosen papers alone and asks one item per paper, and the question itself still asks for limitations."""
    question = "What are the limitations of sparse autoencoders according to the papers here?"
    offline = pipeline.ask(question, mode="extractive")
    chosen = [s for s in offline.sources if s.n in offline.used_sources]
    assert len(chosen) >= 3, offline.text
    reply = "\n".join(f"- {s.paper.title[:30]} [{s.n}]: It names a limitation [{s.n}]." for s in chosen)
    with scripted_server(reply) as (url, handler):
        answer = scripted(pipeline, url, "chat").ask(question, mode="llm")
    assert answer.mode == "llm", answer.notice
    prompt = handler.requests[0]["body"]["messages"][-1]["content"]
    given = prompt.count("<source n=")  # the plan's papers: the extractive answer skips one with no weakness stated
    assert given >= len(chosen) and f"Give one item for each of the {given} papers above" in prompt
    assert all(f'<source n="{s.n}">' in prompt for s in chosen) and "limitations of sparse autoencoders" in prompt
    assert_only_retrieved_sources_cited(answer)
