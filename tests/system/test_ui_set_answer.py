"""A set answer in the real app, in Debian's chromium (issue 20): a list in the chat, used sources marked.

Same setup as test_ui_app.py: the session's app over the seeds index, the page may reach only the app.
"""

from __future__ import annotations

import pytest

from tests.system.conftest import ARTIFACTS

SET_QUESTION = "Which papers in the collection are about sparse autoencoders?"
SINGLE_QUESTION = "Which paper organises an LLM's long-term memory as a tree?"

# Per card of the newest answer: its number, classes, title and badges, read from the page.
CARDS_JS = """turn => [...document.querySelectorAll(`#sources-panel [id^="src-${turn}-"]`)].map(c => ({
    n: Number(c.dataset.n), cls: [...c.classList], title: c.querySelector('.src-head').innerText,
    badges: [...c.querySelectorAll('.src-badge')].map(b => b.innerText)}))"""


def _ask(page, question: str) -> None:
    page.set_viewport_size({"width": 1400, "height": 1100})
    page.fill("#question textarea", question)
    page.click("#ask-button")
    page.wait_for_function("() => document.querySelector('#chatbot').innerText.includes('sources cited')")


def _cited_in_chat(page, turn: int) -> set[int]:
    hrefs = page.eval_on_selector_all(
        f'#chatbot a.cite[href^="#src-{turn}-"]', "links => links.map(a => a.getAttribute('href'))"
    )
    return {int(h.rsplit("-", 1)[1]) for h in hrefs}


@pytest.mark.browser
def test_set_answer_renders_as_a_list_and_marks_the_sources_it_used(page, pipeline) -> None:
    expected = pipeline.ask(SET_QUESTION)  # what the pipeline yields; the UI must show exactly this
    assert expected.form == "set" and not expected.refused
    _ask(page, SET_QUESTION)

    items = page.locator("#chatbot .message li")
    assert items.count() >= 4, page.inner_text("#chatbot")[-800:]
    assert items.count() == len(expected.used_sources)  # one item per cited paper
    lead = page.locator("#chatbot .message p").filter(has_text="papers in the collection are about").first
    assert lead.is_visible()
    cards = {c["n"]: c for c in page.evaluate(CARDS_JS, 1)}
    for i in range(items.count()):
        item = items.nth(i)
        links = item.locator("a.cite")
        assert links.count() >= 1, item.inner_text()
        href = links.first.get_attribute("href")
        n = int(href.rsplit("-", 1)[1])
        assert n in cards, f"{href} names no card"
        name = item.locator("strong").first.inner_text()  # the paper's short name, bold, heads the item
        assert name and name in cards[n]["title"], (name, cards[n]["title"])
        assert "<" not in item.inner_text()  # nothing left unrendered or half-escaped

    # the sources panel: cited cards marked used (badge), the rest not; cited papers past the top k shown
    cited = _cited_in_chat(page, 1)
    assert cited == set(expected.used_sources)
    assert {n for n, c in cards.items() if "used" in c["cls"]} == cited
    assert {n for n, c in cards.items() if "unused" in c["cls"]} == set(cards) - cited
    assert all(("cited" in c["badges"]) == (n in cited) for n, c in cards.items())
    beyond = {n for n in cards if n > 5}
    assert beyond, "the set answer cites no paper past the top 5"
    assert {n for n, c in cards.items() if "past the top 5" in c["badges"]} == beyond
    assert beyond <= cited

    ARTIFACTS.mkdir(exist_ok=True)
    lead.evaluate("p => p.scrollIntoView({block: 'start'})")  # the chat box scrolls: show the answer from its lead
    page.evaluate("() => window.scrollTo(0, 0)")
    page.screenshot(path=str(ARTIFACTS / "set_answer.png"))

    # a [n] of the last item jumps to its card
    last = items.nth(items.count() - 1).locator("a.cite").first
    target = last.get_attribute("href")
    last.click()
    page.wait_for_function(
        "id => { const r = document.querySelector(id).getBoundingClientRect();"
        " return r.top >= 0 && r.top < window.innerHeight; }",
        arg=target,
    )
    assert page.evaluate("location.hash") == target
    page.screenshot(path=str(ARTIFACTS / "set_answer_last_card.png"))


@pytest.mark.browser
def test_a_single_paper_answer_leaves_its_unused_sources_unmarked_and_dimmed(page, pipeline) -> None:
    expected = pipeline.ask(SINGLE_QUESTION)
    assert not expected.refused and len(expected.used_sources) < len(expected.sources)
    _ask(page, SINGLE_QUESTION)
    cited = _cited_in_chat(page, 1)
    assert cited == set(expected.used_sources)
    assert page.locator("#chatbot .message li").count() == 0  # no list where the answer has none
    cards = page.evaluate(CARDS_JS, 1)
    assert [c["n"] for c in cards] == sorted(cited) + sorted({c["n"] for c in cards} - cited)  # used first
    for card in cards:
        used = card["n"] in cited
        assert ("used" in card["cls"], "unused" in card["cls"], "cited" in card["badges"]) == (used, not used, used)
    dimmed = page.eval_on_selector(".src-card.unused", "c => Number(getComputedStyle(c).opacity)")
    assert dimmed < 1
    assert "Retrieved, not cited" in page.inner_text("#sources-panel")
    ARTIFACTS.mkdir(exist_ok=True)
    page.locator(".src-group").scroll_into_view_if_needed()
    page.screenshot(path=str(ARTIFACTS / "single_answer_unused.png"))


@pytest.mark.browser
def test_which_of_them_in_the_chat_reaches_a_source_the_set_answer_did_not_quote(page, pipeline) -> None:
    """The issue's web chat: "which of them ..." chooses among every source the set answer showed. The chat
    kept only the quoted papers of a turn, so a source shown but not quoted could not be chosen."""
    question = "Which papers here study mixture-of-experts models?"
    expected = pipeline.ask(question)
    quoted = {c.paper_id for c in expected.citations}
    unquoted = next(s for s in sorted(expected.sources, key=lambda s: s.n) if s.paper.id not in quoted)
    _ask(page, question)
    assert unquoted.n not in _cited_in_chat(page, 1)
    page.fill("#question textarea", "Which of them is about sentence embeddings for retrieval?")
    page.click("#ask-button")
    page.wait_for_function(
        "() => document.querySelectorAll('#chatbot .message').length >= 4"
        " && document.querySelector('#chatbot').innerText.split('sources cited').length > 2"
    )
    cards = {c["n"]: c for c in page.evaluate(CARDS_JS, 2)}
    cited = _cited_in_chat(page, 2)
    assert len(cited) == 1, page.inner_text("#chatbot")[-800:]
    assert unquoted.paper.title in cards[cited.pop()]["title"]  # the card's head: "[n]", the title, its badges
