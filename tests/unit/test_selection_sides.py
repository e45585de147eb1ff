"""A comparison cites one paper per named side: the sides are matched together, names as whole words,
and a side no paper names still gets a likely paper. Hand-made candidates, no index."""

from __future__ import annotations

from rag.models import Paper, Source
from rag.question.form import QuestionForm
from rag.selection import Candidate, SelectionModel, _mentions, assign_sides, choice

MODEL = SelectionModel(features=[], mean=[], scale=[], coef=[], intercept=0.0, set_threshold=0.5, second_threshold=0.05)


def _candidate(n: int, title: str, abstract: str, probability: float) -> Candidate:
    paper = Paper(id=f"p{n}", title=title, abstract=abstract)
    return Candidate(Source(n=n, paper=paper, chunks=[], score=1.0 / n), {}, probability=probability)


def _titles(chosen: list[Candidate]) -> list[str]:
    return [c.source.paper.title for c in chosen]


def test_a_paper_that_cites_the_other_side_as_its_baseline_does_not_take_that_side():
    # B's paper names A in its abstract (its baseline) and is the most probable; A's own paper
    # names A only in its abstract too. Side by side, A took B's paper and B went to a neighbour.
    b_paper = _candidate(1, "Foo: fast retrieval", "Foo improves on Bar by pooling tokens.", 0.9)
    a_paper = _candidate(2, "Cheap late interaction", "We introduce Bar, a compressed index.", 0.6)
    neighbour = _candidate(3, "A survey of indexes", "Surveys Foo-like systems and more.", 0.3)
    form = QuestionForm("comparison", "test", "", ("Bar", "Foo"))
    chosen = choice(form, [b_paper, a_paper, neighbour], MODEL, k=5).chosen
    assert _titles(chosen) == ["Foo: fast retrieval", "Cheap late interaction"]
    assert assign_sides(("Bar", "Foo"), [b_paper, a_paper, neighbour]) == [a_paper, b_paper]


def test_a_name_is_a_whole_word_not_the_start_of_another():
    derive = _candidate(1, "Derivations of things", "We derive a bound on clipping.", 0.9)
    assert not _mentions(derive.source, "DER")
    assert not _mentions(derive.source, "CLIP")
    der = _candidate(2, "DER: Dynamically Expandable Representation", "DERs grow.", 0.5)
    assert _mentions(der.source, "DER") == 3  # its own name
    sequel = _candidate(5, "DER v2: Dynamically Expandable Again", "It grows.", 0.5)
    assert _mentions(sequel.source, "DER") == 2  # a title that carries the name
    assert _mentions(der.source, "DER: Dynamically Expandable Representation") == 3  # its whole title


def test_a_papers_own_name_is_its_short_name():
    """The own name `_mentions` reads is `Paper.short_name` (the head before ":" of five words at most), the one the
    answer names a paper by; a longer head is read by its words, as a title that carries it."""
    short = _candidate(1, "SPLADE: Sparse Lexical and Expansion Model", "We propose SPLADE.", 0.5)
    assert short.source.paper.short_name == "SPLADE" and _mentions(short.source, "splade") == 3
    long = _candidate(2, "CBOW Is Not All You Need: Combining CBOW with the Matrix Space Model", "We combine.", 0.5)
    assert long.source.paper.short_name == long.source.paper.title  # six words before ":": no short name
    assert _mentions(long.source, "CBOW Is Not All You Need") == 2
    assert _mentions(long.source, long.source.paper.title) == 3
    plural = _candidate(3, "Plain title", "We compare several CLIPs and CLIP-like models.", 0.5)
    assert _mentions(plural.source, "CLIP") == 1
    # a description's words may still run on: "decoding" counts for "decod..." prefixes
    lattice = _candidate(4, "Massive-scale decoding with lattices", "Lattice decoding keeps hypotheses.", 0.5)
    assert _mentions(lattice.source, "lattice decoding") == 2


def test_a_side_no_paper_names_gets_the_most_probable_shown_paper_if_likely_enough():
    named = _candidate(1, "fastText: subword vectors", "Each word is a bag of character n-grams.", 0.9)
    likely = _candidate(2, "Efficient Estimation of Word Representations", "Two architectures ...", 0.3)
    unlikely = _candidate(3, "Something else", "Unrelated.", 0.01)
    form = QuestionForm("comparison", "test", "", ("word2vec", "fastText"))
    assert _titles(choice(form, [named, likely, unlikely], MODEL, k=5).chosen) == [
        "fastText: subword vectors",
        "Efficient Estimation of Word Representations",
    ]
    # below the second paper's threshold the comparison keeps its one named paper
    faint = _candidate(2, "Efficient Estimation of Word Representations", "Two architectures ...", 0.01)
    assert _titles(choice(form, [named, faint, unlikely], MODEL, k=5).chosen) == ["fastText: subword vectors"]
    # past the top k a fallback paper is not taken (nothing names it)
    far = _candidate(3, "Efficient Estimation of Word Representations", "Two architectures ...", 0.3)
    near_faint = _candidate(2, "Something else", "Unrelated.", 0.01)
    assert _titles(choice(form, [named, near_faint, far], MODEL, k=2).chosen) == ["fastText: subword vectors"]


def test_a_side_named_by_a_shortened_title_finds_its_paper():
    # forms test fs-071: the second side is a title typed short ("LLMs" for "Large Language Models"); as
    # a name all its words had to appear, none matched, and the side went to the most probable neighbour
    origins = _candidate(1, "On the Origins of Linear Representations in Large Language Models", "...", 0.9)
    neighbour = _candidate(2, "Structural Similarities Between Language Models and Neural Responses", "LLMs ...", 0.5)
    lrh = _candidate(3, "The Linear Representation Hypothesis and the Geometry of Large Language Models", "...", 0.4)
    sides = (
        "On the Origins of Linear Representations",
        "The Linear Representation Hypothesis and the Geometry of LLMs",
    )
    assert _mentions(lrh.source, sides[1]) == 2
    assert not _mentions(lrh.source, sides[0])  # one word of four is not its title
    form = QuestionForm("comparison", "test", "", sides)
    assert _titles(choice(form, [origins, neighbour, lrh], MODEL, k=5).chosen) == [
        origins.source.paper.title,
        lrh.source.paper.title,
    ]
    # the question's sentence casing lowers a quoted title but a coined word: "LLMs" alone is no name for it
    lowered = ("'on the origins of linear representations", "linear representation hypothesis and the geometry of LLMs")
    assert _mentions(lrh.source, lowered[1]) == 2 and not _mentions(neighbour.source, lowered[1])
    form = QuestionForm("comparison", "test", "", lowered)
    assert _titles(choice(form, [origins, neighbour, lrh], MODEL, k=5).chosen) == [
        origins.source.paper.title,
        lrh.source.paper.title,
    ]
    # a short name still has to appear whole
    assert not _mentions(lrh.source, "Linear Geometry LLMs")


def test_a_clearly_more_probable_shown_paper_leads_a_single_answer_but_a_named_one_still_wins():
    top = _candidate(1, "Top-ranked neighbour", "...", 0.2)
    likely = _candidate(2, "The paper that answers", "...", 0.9)
    form = QuestionForm("single", "test", "")
    never = MODEL.model_copy(update={"second_threshold": 0.95})
    assert _titles(choice(form, [top, likely], never, k=5).chosen) == ["Top-ranked neighbour"]  # lead_margin 1: never
    margin = never.model_copy(update={"lead_margin": 0.1})
    assert _titles(choice(form, [top, likely], margin, k=5).chosen) == ["The paper that answers"]
    # within the margin the top-ranked paper keeps the lead
    close = _candidate(2, "Almost as likely", "...", 0.25)
    assert _titles(choice(form, [top, close], margin, k=5).chosen) == ["Top-ranked neighbour"]
    # a paper the question names by its title name leads whatever the probabilities
    assert _titles(choice(form, [top, likely], margin, k=5, named={"p1"}).chosen) == ["Top-ranked neighbour"]


def test_the_lead_is_chosen_with_the_papers_not_read_back_from_their_order():
    """`choice` names the paper a single-paper answer quotes: the one it led with, even when a second cited
    paper comes first in retrieval order; a named paper; and for a set, the first cited it names, else the first."""
    top = _candidate(1, "Top-ranked neighbour", "...", 0.6)
    likely = _candidate(2, "The paper that answers", "...", 0.9)
    form = QuestionForm("limitation", "test", "limitation")
    margin = MODEL.model_copy(update={"lead_margin": 0.1, "second_ratio": 0.5})
    chosen, lead = choice(form, [top, likely], margin, k=5)
    assert _titles(chosen) == ["Top-ranked neighbour", "The paper that answers"] and lead is likely
    chosen, lead = choice(form, [top, likely], MODEL.model_copy(update={"second_ratio": 0.5}), k=5)
    assert len(chosen) == 2 and lead is top  # lead_margin 1 (the shipped models'): the top-ranked paper
    assert choice(form, [top, likely], margin, k=5, named={"p2"}).lead is likely
    assert choice(form, [top, likely], margin, k=5, named={"p1"}).lead is top
    # a set (or an across question's set rule) cites in retrieval order: a paper it names leads, else the first
    third = _candidate(3, "Third", "...", 0.7)
    assert choice(QuestionForm("set"), [top, likely, third], MODEL, k=5).lead is top
    assert choice(form, [top, likely, third], MODEL, k=5, many=True, named={"p3"}).lead is third
    assert choice(form, [], MODEL, k=5) == ([], None)
