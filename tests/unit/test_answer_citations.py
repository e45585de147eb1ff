"""Citation checking, the sentence splitter (rag.text) and the extractive answerer."""

from __future__ import annotations

import pytest

from rag.answer import check_citations, parse_citation_numbers
from rag.models import Paper, Source
from rag.text import split_sentences


def _source(n: int, abstract: str) -> Source:
    paper = Paper(id=f"p{n}", title=f"Paper {n}", abstract=abstract, seed_files=["x.txt"])
    return Source(n=n, paper=paper, chunks=[], score=1.0)


SOURCES = [
    _source(1, "Cats purr when content. Cats also sleep a lot."),
    _source(2, "Dogs bark at strangers. Dogs wag their tails."),
]


@pytest.mark.parametrize(
    ("body", "numbers"),
    [("1", [1]), ("1, 2", [1, 2]), ("2-4", [2, 3, 4]), ("1 and 3", [1, 3]), ("3–1", []), ("1-999", [])],
)
def test_citation_forms(body, numbers):
    assert parse_citation_numbers(body) == numbers


def test_unknown_numbers_are_removed_and_known_ones_resolve_to_title_and_quote():
    checked = check_citations("Cats purr when content [1, 7]. Dogs bark at strangers [2-3].", SOURCES)
    assert "[7]" not in checked.text
    assert "[3]" not in checked.text
    assert checked.text == "Cats purr when content [1]. Dogs bark at strangers [2]."
    assert checked.removed == [7, 3]
    assert [(c.n, c.title, c.quote) for c in checked.citations] == [
        (1, "Paper 1", "Cats purr when content."),
        (2, "Paper 2", "Dogs bark at strangers."),
    ]


def test_uncited_sentences_are_flagged():
    checked = check_citations("Cats purr when content [1]. The moon is made of green cheese.", SOURCES)
    assert checked.uncited_sentences == ["The moon is made of green cheese."]


def test_marker_after_the_full_stop_counts_for_that_sentence():
    checked = check_citations("Dogs wag their tails. [2] Cats sleep a lot. [1]", SOURCES)
    assert checked.text == "Dogs wag their tails [2]. Cats sleep a lot [1]."
    assert checked.uncited_sentences == []


def test_split_sentences_keeps_offsets():
    text = "One sentence here. Another one (with 2 parts). Last"
    assert [text[s.start : s.end] for s in split_sentences(text)] == [s.text for s in split_sentences(text)]
    assert len(split_sentences(text)) == 3


@pytest.mark.parametrize(
    ("llm_text", "shown", "cited", "removed"),
    [
        ("Cats purr when content [1,2].", "Cats purr when content [1][2].", [1, 2], []),
        ("Cats purr [ 2 ]. Dogs bark at strangers [1-2].", "Cats purr [2]. Dogs bark at strangers [1][2].", [1, 2], []),
        ("Cats purr [1, 2, and 3].", "Cats purr [1][2].", [1, 2], [3]),
        (
            "Cats purr [1; 2]. Dogs bark at strangers. [Source 2]",
            "Cats purr [1][2]. Dogs bark at strangers [2].",
            [1, 2],
            [],
        ),
        ("Cats purr [source 7]. Dogs bark [1 and 2].", "Cats purr. Dogs bark [1][2].", [1, 2], [7]),
        ("Cats purr [9]. Dogs bark [0].", "Cats purr. Dogs bark.", [], [9, 0]),
    ],
)
def test_llm_citation_forms_are_normalised_and_invalid_numbers_never_shown(llm_text, shown, cited, removed):
    checked = check_citations(llm_text, SOURCES)
    assert checked.text == shown
    assert sorted({c.n for c in checked.citations}) == cited
    assert checked.removed == removed


SPLITS = [
    ("As shown by Welleck et al. (2020). We then test it.", ["As shown by Welleck et al. (2020).", "We then test it."]),
    ("We use languages (e.g. Python) and others. Second.", ["We use languages (e.g. Python) and others.", "Second."]),
    (
        "An open ( paren never closed here and a long tail of words follows it. Next one.",
        ["An open ( paren never closed here and a long tail of words follows it.", "Next one."],
    ),
]


@pytest.mark.parametrize(("text", "sentences"), SPLITS)
def test_sentences_do_not_break_inside_citations_or_abbreviations(text, sentences):
    got = split_sentences(text)
    assert [s.text for s in got] == sentences
    assert all(text[s.start : s.end] == s.text for s in got)


def test_the_answer_package_quotes_with_the_splitter_below_it():
    """One splitter: the index embeds exactly the sentences the answers quote, without importing rag.answer."""
    import ast

    import rag.answer
    import rag.text
    from tests.conftest import ROOT

    assert rag.answer.split_sentences is rag.text.split_sentences
    assert rag.answer.Sentence is rag.text.Sentence
    for module in ("corpus", "index", "sentences", "text"):
        tree = ast.parse((ROOT / "rag" / f"{module}.py").read_text(encoding="utf-8"))
        imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
        imported |= {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
        assert not {m for m in imported if m == "rag.answer" or m.startswith("rag.answer.")}, module


def test_each_list_item_is_its_own_claim_and_a_heading_quotes_nothing():
    # three items quoting one paper: without the cut at line breaks they read as one sentence, one quote
    text = "“Paper 1” [1] in brief:\n- Problem: Cats purr when content. [1]\n- Result: Cats also sleep a lot. [1]"
    checked = check_citations(text, SOURCES)
    assert [c.quote for c in checked.citations] == ["Cats purr when content.", "Cats also sleep a lot."]
    assert (
        checked.text
        == "“Paper 1” [1] in brief:\n- Problem: Cats purr when content [1].\n- Result: Cats also sleep a lot [1]."
    )
    assert checked.uncited_sentences == []
    # a paper that only a heading cites still resolves, as before the cut at line breaks
    only_heading = check_citations("Dogs are covered by [2]:\n- they bark at strangers", SOURCES)
    assert [(c.n, c.quote) for c in only_heading.citations] == [(2, "Dogs bark at strangers.")]
