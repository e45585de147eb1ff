"""Text from seeds, questions and LLM replies is shown as text in the real browser, never as markup.

A seed folder of hostile titles and abstracts (Markdown images and links, raw HTML, bare URLs,
e-mail addresses) is ingested; the chat asks and follows up so the hostile title appears in
the answer and in its "searched for: ..." line, the Papers tab lists it, and an LLM endpoint's
HTML error page reaches the warning toast. Every request the page makes is recorded: none may
leave the app on loopback, and no <img>, <a> or <iframe> may come from corpus text (issue 21).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from rag.ui import escape_text, link_citations, warning_text
from tests.conftest import SEEDS, launch_app, make_settings
from tests.system.conftest import ARTIFACTS

EVIL = "evil.example"
HOSTILE_TITLE = (
    "Lattice Memory Trees ![x](http://evil.example/title.png) for [Agents](http://evil.example/title-link) "
    "<img src=http://evil.example/title-img.png> <http://evil.example/auto>"
)
HOSTILE_SEEDS = f"""Subscribe
Mar 11
{HOSTILE_TITLE}
We organise the long-term memory of a conversational agent as a lattice tree, see \
![diagram](http://evil.example/abstract.png) and <img src="http://evil.example/abstract-img.png" onerror="alert(1)">. \
The code is at http://evil.example/bare.png and www.evil-example.com, mail us at lattice@evil.example, or \
[click here](javascript:alert(1)) and <a href="http://evil.example/a">here</a>. Lattice memory trees merge related \
memories into shared parent nodes, so retrieval climbs the lattice from a leaf to the summaries above it. On \
long-conversation benchmarks the lattice tree improves answer accuracy over flat memory stores while reading fewer \
tokens. <iframe src="http://evil.example/frame"></iframe> **bold** _under_ `code` $x^2$ | a | b |
Hyperbolic Wavelet Compression of Gradient Checkpoints [see](http://evil.example/t2) ![](http://evil.example/t2.png)
We compress the activation checkpoints of deep networks with hyperbolic wavelets, storing only the coefficients \
that matter for the backward pass. ![chart](http://evil.example/chart.png) The method cuts checkpoint memory by a \
factor of six on transformer training runs with no measurable change in final loss. Details: \
<img src=http://evil.example/x.png> and https://evil.example/details and [more](http://evil.example/more)."""
FIRST = "Which paper organises an agent's long-term memory as a lattice tree?"
FOLLOW_UP = "What benchmarks was it evaluated on?"


# -- rendering rules (no browser) -------------------------------------------------------------------
@pytest.mark.parametrize(
    "text",
    [
        "![x](http://evil.example/p.png)",
        "[link](http://evil.example/)",
        "<http://evil.example/auto>",
        "see http://evil.example/bare.png or www.evil-example.com or me@evil.example",
        '<img src="http://evil.example/i.png">',
    ],
)
def test_escape_text_leaves_no_markdown_link_image_autolink_or_html(text):
    bare = re.sub(r"\\.", "", escape_text(text))  # what is left once backslash escapes are read as literals
    assert not [s for s in ("](", "<", "://", "www.", "@") if s in bare], bare


def test_answer_keeps_its_own_list_markers_and_citation_links():
    out = link_citations("Two papers:\n- first ![x](http://evil.example/p.png) [1]\n2. second [2]", 1, [1, 2])
    assert "\n- first" in out and "\n2. second" in out
    assert out.count('<a class="cite"') == 2
    assert "](http" not in out


def test_warning_text_shows_an_html_error_body_as_text():
    assert warning_text('answered HTTP 502: <img src="http://evil.example/t.png">') == (
        "answered HTTP 502: &lt;img src=&quot;http://evil.example/t.png&quot;&gt;"
    )


# -- the real app in the real browser ---------------------------------------------------------------
@pytest.fixture(scope="module")
def hostile_settings(tmp_path_factory: pytest.TempPathFactory, model_cache: Path):
    """An index of twenty real papers and the two hostile ones."""
    from rag.index import forget_client, ingest

    root = tmp_path_factory.mktemp("hostile")
    seeds = root / "seeds"
    seeds.mkdir()
    real = sorted(SEEDS.glob("000_*.txt"))[0].read_text(encoding="utf-8").splitlines()
    papers = [line for line in real if line.strip()][:45]  # the five header lines, then 20 papers
    (seeds / "000_real.txt").write_text("\n".join(papers), encoding="utf-8")
    (seeds / "zz_hostile.txt").write_text(HOSTILE_SEEDS, encoding="utf-8")
    settings = make_settings(root / "data", model_cache).model_copy(update={"seeds_dir": seeds})
    report = ingest(settings=settings)
    assert report.papers == 22, report
    forget_client(settings)
    return settings


def recording_page(browser, url: str) -> tuple[object, object, list[str]]:
    """A page that records every request it makes; any that is not for the app is recorded and aborted."""
    seen: list[str] = []
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    context.on("request", lambda request: seen.append(request.url))

    def only_the_app(route) -> None:
        seen.append(route.request.url)
        if route.request.url.startswith(url):
            route.continue_()
        else:
            route.abort()

    context.route("**/*", only_the_app)
    page = context.new_page()
    page.set_default_timeout(60_000)
    page.goto(url)
    page.wait_for_selector("#question textarea")
    return context, page, seen


def no_markup_from_corpus(page, *panels: str) -> None:
    for panel in panels:
        assert page.locator(f"{panel} img, {panel} iframe").count() == 0, panel
        hrefs = page.eval_on_selector_all(f"{panel} a", "els => els.map(e => e.getAttribute('href'))")
        assert all((h or "").startswith("#src-") for h in hrefs), hrefs


def answers_done(page, count: int) -> None:
    page.wait_for_function(
        "n => (document.querySelector('#chatbot').innerText.match(/sources cited/g) || []).length >= n", arg=count
    )


@pytest.fixture(scope="module")
def hostile_app(hostile_settings) -> Iterator[str]:
    from rag.pipeline import Pipeline

    app, url = launch_app(Pipeline(hostile_settings), hostile_settings)
    try:
        yield url
    finally:
        app.close()


@pytest.mark.browser
def test_hostile_titles_and_abstracts_render_as_text_and_nothing_leaves_loopback(browser, hostile_app) -> None:
    context, page, seen = recording_page(browser, hostile_app)
    try:
        page.fill("#question textarea", FIRST)
        page.click("#ask-button")
        answers_done(page, 1)
        page.fill("#question textarea", FOLLOW_UP)
        page.click("#ask-button")
        answers_done(page, 2)
        chat = page.inner_text("#chatbot")
        assert f"searched for: {FOLLOW_UP} ({HOSTILE_TITLE})" in chat, chat[-800:]  # shown as typed, as text
        page.locator("#src-2-1").wait_for(state="attached")
        assert HOSTILE_TITLE in page.inner_text("#sources-panel")
        page.get_by_role("tab", name="Papers").click()
        page.fill("#paper-search textarea, #paper-search input", "hyperbolic")
        page.wait_for_function("() => document.querySelectorAll('#paper-list .paper-row').length === 1")
        assert "[see](http://evil.example/t2)" in page.inner_text("#paper-list")
        page.fill("#paper-search textarea, #paper-search input", "")
        page.wait_for_function("() => document.querySelectorAll('#paper-list .paper-row').length === 22")
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "hostile_papers.png"))
        no_markup_from_corpus(page, "#chatbot", "#sources-panel", "#paper-list")
        assert page.locator("#chatbot a.cite").count() >= 2
    finally:
        context.close()
    assert seen
    assert [u for u in seen if not u.startswith(hostile_app)] == []


@pytest.mark.browser
def test_an_llm_error_page_shows_as_text_in_the_warning(browser, hostile_settings) -> None:
    from rag.config import SecretUrl
    from rag.pipeline import Pipeline
    from tests.fake_openai import scripted_server

    with scripted_server(fault="502-html") as (base_url, handler):
        settings = hostile_settings.model_copy(
            update={"llm_base_url": SecretUrl(base_url), "llm_max_retries": 0, "llm_timeout": 10.0}
        )
        app, url = launch_app(Pipeline(settings), settings)
        context, page, seen = recording_page(browser, url)
        try:
            page.fill("#question textarea", FIRST)
            page.click("#ask-button")
            toast = page.locator('[data-testid="toast-body"]').first
            toast.wait_for(state="visible")
            text = toast.inner_text()
            assert '<img src="http://evil.example/toast.png">' in text, text
            assert toast.locator("img, b").count() == 0
            answers_done(page, 1)  # and the answer falls back to extractive
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "llm_error_toast.png"))
        finally:
            context.close()
            app.close()
        assert handler.requests  # the LLM was asked
    assert [u for u in seen if not u.startswith(url)] == []
