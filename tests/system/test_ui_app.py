"""The web chat: rendering rules (fast), then the real app in a real browser and through gradio_client.

One app server per session (the Blocks launched in a thread over the session's seeds index),
one headless Debian chromium (`make setup-browser`), driven by Playwright; the page may only
reach the app on 127.0.0.1 (every other request is aborted).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from rag.models import Citation, Paper, Source
from rag.ui import escape_text, highlight, link_citations, paper_matches, parse_auth, source_card
from tests.system.conftest import ARTIFACTS


# -- rendering (no server) ------------------------------------------------------------------
def test_highlight_escapes_and_marks_merged_spans() -> None:
    text = "a <script>x</script> b & c"
    out = highlight(text, [(2, 10), (5, 12), (-1, 0)])
    assert "<script>" not in out
    assert out.count("<mark>") == 1
    assert out.startswith("a <mark>&lt;script&gt;x")


def test_link_citations_links_known_numbers_only() -> None:
    out = link_citations("Claim <b>*x*</b> [1][2] and [9], $y$.", turn=3, known=[1, 2])
    assert '<a class="cite" href="#src-3-1"><sup>[1]</sup></a>' in out
    assert 'href="#src-3-2"' in out
    assert "src-3-9" not in out
    assert "\\[9\\]" in out
    assert "<b>" not in out
    assert "\\*x\\*" in out
    assert "\\$y\\$" in out


def test_source_card_escapes_untrusted_paper_text() -> None:
    abstract = "We show <img src=x onerror=alert(1)> that \\textbf{memory} helps a lot."
    paper = Paper(id="p1", title="T <i>1</i>", abstract=abstract, seed_files=["000.txt", "002.txt"])
    start = abstract.index("\\textbf")
    cite = Citation(n=2, paper_id="p1", title=paper.title, quote="", start=start, end=start + len("\\textbf{memory}"))
    card = source_card(Source(n=2, paper=paper, chunks=[], score=0.5), [cite], turn=1)
    assert 'id="src-1-2"' in card
    assert "000.txt, 002.txt" in card
    assert "<img" not in card
    assert "<i>" not in card
    assert "<mark>\\textbf{memory}</mark>" in card


def test_small_helpers() -> None:
    assert parse_auth("ann:pa:ss") == ("ann", "pa:ss")
    assert parse_auth(None) is None
    with pytest.raises(ValueError):
        parse_auth("nocolon")
    paper = Paper(id="p", title="Pointer Networks", abstract="We introduce a new neural architecture.")
    assert paper_matches(paper, "pointer ARCHITECTURE")
    assert not paper_matches(paper, "pointer graph")
    assert escape_text("a_b") == "a\\_b"


def test_app_starts_without_an_index(tmp_path: Path, model_cache: Path) -> None:
    from rag.ui import Backend, build_app
    from tests.conftest import make_settings

    settings = make_settings(tmp_path / "empty", model_cache)
    backend = Backend(settings)
    assert backend.try_get() is None
    assert "rag ingest" in backend.error
    app = build_app(settings=settings)  # builds (and would serve) with a message instead of crashing
    texts = [str(c.get("props", {}).get("value", "")) for c in app.config["components"]]
    assert any("rag ingest" in t for t in texts)


# -- the live app ----------------------------------------------------------------------------
@pytest.fixture(scope="session")
def good_question(pipeline, dev_questions) -> dict:
    """A dev question whose top source is its gold paper (the UI is under test here, not ranking)."""
    for q in dev_questions:
        if q["type"] in ("single", "detail"):
            answer = pipeline.ask(q["question"])
            if not answer.refused and answer.sources[0].paper.title in q["gold_titles"] and answer.citations:
                return q
    pytest.fail("no dev question is answered from its gold paper")


def ask_in_browser(page, question: str) -> None:
    page.fill("#question textarea", question)
    page.click("#ask-button")


@pytest.mark.browser
def test_answer_streams_and_citation_scrolls_to_its_card(page, good_question) -> None:
    question = good_question
    ask_in_browser(page, question["question"])
    link = page.locator('#chatbot a.cite[href="#src-1-1"]').first
    link.wait_for(state="visible")
    page.wait_for_function("() => document.querySelector('#chatbot').innerText.includes('sources cited')")
    ARTIFACTS.mkdir(exist_ok=True)
    link.click()
    card = page.locator("#src-1-1")
    card.wait_for(state="visible")
    assert question["gold_titles"][0] in card.inner_text()
    mark = card.locator("mark").first
    assert mark.is_visible()
    assert mark.inner_text().strip()
    page.wait_for_function(
        "() => { const r = document.querySelector('#src-1-1').getBoundingClientRect();"
        " return r.top >= 0 && r.top < window.innerHeight; }"
    )
    assert page.evaluate("location.hash") == "#src-1-1"
    page.screenshot(path=str(ARTIFACTS / "chat_answer.png"))


@pytest.mark.browser
def test_empty_question_shows_message_and_adds_nothing(page) -> None:
    ask_in_browser(page, "   ")
    page.wait_for_function("() => document.querySelector('#status').innerText.includes('Please type a question')")
    assert page.locator("#chatbot .message").count() == 0
    page.screenshot(path=str(ARTIFACTS / "empty_question.png"))


@pytest.mark.browser
def test_papers_tab_finds_a_paper_by_a_title_word(page) -> None:
    page.get_by_role("tab", name="Papers").click()
    page.fill("#paper-search textarea, #paper-search input", "Successor")
    page.wait_for_function("() => document.querySelectorAll('#paper-list .paper-row').length < 505")
    assert "Successor Heads: Recurring" in page.inner_text("#paper-list")
    rows = page.locator("#paper-list .paper-row")
    assert 1 <= rows.count() < 505
    page.screenshot(path=str(ARTIFACTS / "papers_tab.png"))


@pytest.mark.browser
def test_api_answers_with_citations_through_gradio_client(app_url: str, good_question) -> None:
    from gradio_client import Client

    question = good_question
    client = Client(app_url, verbose=False)
    result = client.predict(question["question"], 5, "auto", api_name="/ask")
    assert result["refused"] is False
    assert result["citations"]
    assert result["sources"][0]["title"] in question["gold_titles"]
    cited = {c["n"] for c in result["citations"]}
    assert cited <= {s["n"] for s in result["sources"]}
    assert all(f"[{n}]" in result["text"] for n in cited)
    with pytest.raises(Exception, match="Please type a question"):
        client.predict("  ", 5, "auto", api_name="/ask")


MEMTREE = "From Isolated Conversations to Hierarchical Schemas: Dynamic Tree Memory Representation for LLMs"


def _answers_done(page, count: int) -> None:
    """Wait until `count` answers carry their footer (the stream has finished)."""
    page.wait_for_function(
        "n => (document.querySelector('#chatbot').innerText.match(/sources cited/g) || []).length >= n", arg=count
    )


@pytest.mark.browser
def test_follow_up_cites_the_first_answers_paper_and_new_conversation_resets(page) -> None:
    ask_in_browser(page, "Which paper organises an LLM's long-term memory as a tree?")
    _answers_done(page, 1)
    assert MEMTREE in page.inner_text("#sources-panel")
    ask_in_browser(page, "What benchmarks was it evaluated on?")
    _answers_done(page, 2)
    chat = page.inner_text("#chatbot")
    assert "searched for: What benchmarks was it evaluated on? (" + MEMTREE in chat, chat[-600:]
    card = page.locator("#src-2-1")
    card.wait_for(state="attached")
    assert MEMTREE in card.inner_text()
    assert page.locator('#chatbot a.cite[href="#src-2-1"]').count() >= 1  # the second answer cites it
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "follow_up.png"))

    page.click("#new-conversation")
    page.wait_for_function("() => document.querySelectorAll('#chatbot .message').length === 0")
    ask_in_browser(page, "What benchmarks was it evaluated on?")  # no history now: nothing to refer to
    _answers_done(page, 1)
    assert "searched for:" not in page.inner_text("#chatbot")


@pytest.mark.browser
def test_api_ask_takes_the_conversation_history(app_url: str) -> None:
    from gradio_client import Client

    client = Client(app_url, verbose=False)
    first = client.predict(
        "Which paper organises an LLM's long-term memory as a tree?", 5, "auto", None, api_name="/ask"
    )
    assert MEMTREE in {c["title"] for c in first["citations"]}
    follow = client.predict("What benchmarks was it evaluated on?", 5, "auto", [first], api_name="/ask")
    assert MEMTREE in {c["title"] for c in follow["citations"]}, follow["text"]
    assert MEMTREE in follow["standalone_question"]
    light = [
        {
            "question": first["question"],
            "cited_paper_ids": [first["citations"][0]["paper_id"]],
            "cited_titles": [first["citations"][0]["title"]],
        }
    ]
    again = client.predict("and what does it improve on?", 5, "auto", light, api_name="/ask")
    assert MEMTREE in {c["title"] for c in again["citations"]}, again["text"]


def test_a_refusal_lists_the_closest_titles_escaped() -> None:
    from rag.ui.rendering import sources_block

    block = sources_block([], [], 1, refused=True, closest=["<b>Pointer</b> Networks", "Other"])
    assert "No paper covers this question" in block
    assert "&lt;b&gt;Pointer&lt;/b&gt; Networks" in block
    assert "<li>Other</li>" in block
    assert "Closest papers" not in sources_block([], [], 1, refused=False, closest=["x"])  # still retrieving


@pytest.mark.browser
def test_a_refusal_shows_the_closest_titles_in_the_sources_panel(page) -> None:
    ask_in_browser(page, "Which paper introduced the Chinchilla compute-optimal scaling rule?")
    page.wait_for_function("() => document.querySelector('#chatbot').innerText.includes('could not find')")
    page.wait_for_selector(".src-closest li")
    assert page.locator(".src-closest li").count() == 3
    assert "No paper covers this question" in page.inner_text(".src-closest >> xpath=..")
    page.screenshot(path=str(ARTIFACTS / "refusal_closest.png"))


@pytest.mark.browser
def test_a_middling_answer_is_marked_low_confidence(browser, seeds_index, tmp_path) -> None:
    """Evidence between the refusal and answer thresholds: the best papers, marked as a weak match.

    The shipped thresholds move with each fit on tune (the band may be empty), so this app gets a
    copy of the shipped model with a wide band: the question's probability falls inside it."""
    from rag.answer import LOW_CONFIDENCE
    from rag.pipeline import Pipeline
    from rag.refusal_model import AnswerabilityModel, default_model_file
    from tests.conftest import launch_app

    shipped = AnswerabilityModel.load(default_model_file(seeds_index.paper_embedder))
    banded = shipped.model_copy(update={"answer_threshold": 1.0, "low_threshold": 0.05})
    banded.save(tmp_path / "banded.json")
    settings = seeds_index.model_copy(update={"answerability_model": tmp_path / "banded.json"})
    question = "Which paper proposes pointer networks that output positions of the input sequence?"
    pipeline = Pipeline(settings)
    assert pipeline.ask(question).low_confidence
    app, url = launch_app(pipeline, settings)
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    try:
        page = context.new_page()
        page.set_default_timeout(60_000)
        page.goto(url)
        page.wait_for_selector("#question textarea")
        ask_in_browser(page, question)
        page.wait_for_function("() => document.querySelector('#chatbot').innerText.includes('sources cited')")
        assert LOW_CONFIDENCE[:40] in page.inner_text("#chatbot")
        assert page.locator("#chatbot a.cite").count() >= 1
        page.screenshot(path=str(ARTIFACTS / "low_confidence.png"))
    finally:
        context.close()
        app.close()
