"""Answers in the question's form over the real seeds index: which papers, which sentences, how it reads."""

from __future__ import annotations

import re

import pytest

from rag.answer import check_citations
from rag.answer.extractive import ExtractiveAnswerer
from rag.answer.plan import among_asks_many, asked_count
from rag.conversation import ORDINALS, Turn, resolve
from rag.pipeline import NONE_BEYOND
from rag.question.form import QuestionForm, asks_across, set_asked_across, weakness_of
from rag.selection import SelectionModel
from rag.text import split_sentences

SAE = "sparse autoencoder"


def _cited_titles(answer) -> list[str]:
    return list(dict.fromkeys(c.title for c in answer.citations))


def test_a_set_question_cites_every_paper_on_the_topic_one_item_each(pipeline):
    answer = pipeline.ask("Which papers in the collection are about sparse autoencoders?")
    assert answer.form == "set"
    titles = _cited_titles(answer)
    assert len(titles) >= 4, answer.text
    # every cited paper is about SAEs (its title or abstract says so)
    for source in answer.sources:
        if source.n in answer.used_sources:
            text = (source.paper.title + " " + source.paper.abstract).lower()
            assert SAE in text or "saes" in text, source.paper.title
    lead, *items = answer.text.split("\n")
    assert re.match(r"^[A-Z][a-z]+ papers in the collection are about sparse autoencoders:$", lead), lead
    assert len(items) == len(titles) and all(item.startswith("- ") for item in items)
    assert answer.used_sources == sorted({c.n for c in answer.citations})
    # the first quote is not the field's background ("Sparse autoencoders have recently produced ...")
    assert "have recently produced" not in answer.citations[0].quote


def test_a_set_answer_can_cite_papers_past_the_top_five_and_shows_them(pipeline):
    answer = pipeline.ask("Which papers here study mixture-of-experts models?")
    assert answer.form == "set"
    assert len(_cited_titles(answer)) >= 3, answer.text
    numbers = [s.n for s in answer.sources]
    assert numbers == list(range(1, len(numbers) + 1))  # shown sources numbered without gaps
    assert set(answer.used_sources) <= set(numbers)
    assert len(answer.sources) == max(5, max(answer.used_sources))  # top 5, plus any cited paper past them


def test_every_answer_still_passes_the_citation_check(pipeline):
    for question in (
        "Which papers in the collection are about sparse autoencoders?",
        "How does Monet differ from a standard mixture-of-experts layer?",
        "What are the limitations of sparse autoencoders according to the papers here?",
        "How do the papers here train sparse autoencoders?",
        "Summarize the Monet paper.",
    ):
        answer = pipeline.ask(question)
        rechecked = check_citations(answer.text, answer.sources)
        assert rechecked.removed == []
        assert [(c.n, c.quote) for c in rechecked.citations] == [(c.n, c.quote) for c in answer.citations]
        for citation in answer.citations:
            source = next(s for s in answer.sources if s.n == citation.n)
            assert citation.quote.rstrip(".!?") in answer.text, citation.quote  # verbatim (its [n] before the stop)
            assert source.paper.abstract[citation.start : citation.end] == citation.quote


def test_a_comparison_cites_each_side_and_never_quotes_a_link(pipeline):
    answer = pipeline.ask("How does Monet differ from a standard mixture-of-experts layer?")
    assert answer.form == "comparison"
    titles = _cited_titles(answer)
    assert any(t.startswith("Monet") for t in titles)
    assert len(titles) == 2, answer.text
    assert "http" not in answer.text and "available at" not in answer.text
    assert "\n- Monet [" in answer.text, answer.text  # a side that is its paper's short name is not named twice
    assert re.search(r"\n- [^\n,]+, in “[^”]+” \[\d+\]: ", answer.text), answer.text  # the other side names its paper


@pytest.mark.parametrize(
    ("question", "sides"),
    [
        ("Compare SPLADE and ColBERT", {"SPLADE": "SPLADE: Sparse Lexical and Expansion Model for First Stage"}),
        (
            "How do SPLADE v2 and SPLADE differ?",
            {
                "SPLADE v2": "SPLADE v2: Sparse Lexical and Expansion Model for Information Retrieval",
                "SPLADE": "SPLADE: Sparse Lexical and Expansion Model for First Stage",
            },
        ),
    ],
)
def test_a_comparison_side_is_quoted_from_the_paper_it_names_not_a_sequel(pipeline, question, sides):
    """ "SPLADE" was quoted from SPLADE v2, whose title also carries the name."""
    answer = pipeline.ask(question)
    by_n = {s.n: s.paper.title for s in answer.sources}
    for side, title in sides.items():
        item = re.search(rf"^- {re.escape(side)}(?:, in “[^”]+”)? \[(\d+)\]:", answer.text, re.M)
        assert item, answer.text
        assert by_n[int(item.group(1))].startswith(title), answer.text


def test_a_limitation_question_quotes_limitations(pipeline):
    answer = pipeline.ask("What are the limitations of sparse autoencoders according to the papers here?")
    cues = re.compile(r"however|unable|insufficient|compromis|fail|limit|struggl|cannot|lack", re.I)
    assert any(cues.search(c.quote) for c in answer.citations), answer.text
    lead = answer.text.split("\n")[0]
    assert re.match(r"^[A-Z][a-z]+ papers in the collection state limitations of sparse autoencoders:$", lead), lead


@pytest.mark.parametrize(
    "question",
    [
        "what challenges of continual learning with modules or per-task sub-networks do the papers in the collection "
        "raise?",
        "what Atari benchmarks and scores do papers in the collection report?",
    ],
)
def test_an_across_answer_never_leads_with_the_set_reading_of_its_verb(pipeline, question):
    """The set lead read these as "papers ... are about raise:" / "are about report:"."""
    lead = pipeline.ask(question).text.split("\n")[0]
    assert "are about" not in lead and re.match(r"^[A-Z][a-z]+ papers? in the collection \w+", lead), lead


def test_a_question_across_papers_cites_each_paper_on_its_topic_in_its_own_form(pipeline):
    answer = pipeline.ask("How do the papers here train sparse autoencoders?")
    assert answer.form == "how"  # written as a how question: the method sentences
    titles = _cited_titles(answer)
    assert len(titles) >= 3, answer.text  # the single-paper model cited one
    cited = [s for s in answer.sources if s.n in answer.used_sources]
    on_topic = [s for s in cited if re.search(r"sparse autoencoder|\bSAEs?\b", s.paper.title + s.paper.abstract, re.I)]
    assert len(on_topic) == len(cited), answer.text
    assert check_citations(answer.text, answer.sources).removed == []


def test_a_lead_says_papers_state_limitations_only_when_a_quote_names_one(pipeline):
    """Matryoshka Representation Learning's abstract names no weakness: the answer led "One paper in the collection
    states limitations:" over a list of its gains."""
    answer = pipeline.ask("What are the weaknesses of Matryoshka Representation Learning?")
    cues = re.compile(r"however|unable|insufficient|compromis|fail|limit|struggl|cannot|lack|drawback", re.I)
    if not any(cues.search(c.quote) for c in answer.citations):
        assert "limitations:" not in answer.text, answer.text
    assert answer.text.startswith("From “Matryoshka Representation Learning” ["), answer.text


def test_how_is_a_different_from_b_quotes_both_sides(pipeline):
    """Read as a how question, it quoted Monet alone."""
    answer = pipeline.ask("How is Monet different from MoTE?")
    assert answer.form == "comparison" and answer.text.startswith("Comparing Monet and MoTE:"), answer.text
    titles = _cited_titles(answer)
    assert any(t.startswith("Monet:") for t in titles) and any(t.startswith("Mixture of Tunable") for t in titles)


def test_which_is_better_a_or_b_is_a_comparison(pipeline):
    """It was read as one paper's question and quoted SPLADE v2 and SPLADE, not ColBERT's side."""
    answer = pipeline.ask("Which is better, SPLADE or ColBERT?")
    assert answer.text.startswith("Comparing SPLADE and ColBERT:"), answer.text


def test_asked_where_the_code_is_the_answer_quotes_the_link(pipeline):
    """The availability sentence was quoted only when nothing else was left: Monet's intro came instead."""
    answer = pipeline.ask("Where can I find the code for Monet?")
    assert any("github.com/dmis-lab/Monet" in c.quote for c in answer.citations), answer.text


@pytest.mark.parametrize(("question", "wanted"), [("List three papers about attention heads", 3), ("x", 0)])
def test_asked_count(question, wanted):
    assert asked_count(question) == wanted


def test_a_set_question_asking_for_n_papers_cites_n_and_says_how_many_were_found(pipeline):
    """It read as one paper's question and listed six."""
    answer = pipeline.ask("List three papers about attention heads")
    assert answer.form == "set" and len(_cited_titles(answer)) == 3, answer.text
    lead = answer.text.split("\n")[0]
    assert re.match(r"^Three papers in the collection .* \(of [a-z]+ found\):$", lead), answer.text


def test_a_set_lead_keeps_the_topics_capitals(pipeline):
    """ "Two papers in the collection are about othello:" lowered the name."""
    lead = pipeline.ask("Are there papers about Othello?").text.split("\n")[0]
    assert lead.endswith(" about Othello:"), lead


def test_a_question_for_other_papers_cites_none_the_last_answer_cited(pipeline):
    """ "Are there other papers on stock prediction?" after MIGA's summary answered with MIGA again."""
    first = pipeline.ask("Which papers study mixture-of-experts models?")
    cited = {c.title for c in first.citations}
    more = pipeline.ask("Are there any other papers on mixture of experts?", history=[("q", first)])
    assert not cited & {c.title for c in more.citations}, more.text
    if more.citations:
        assert re.match(r"^[A-Z][a-z]+ other papers? in the collection ", more.text), more.text
    summary = pipeline.ask("Tell me about MIGA")
    none = pipeline.ask("Are there other papers on stock prediction?", history=[("Tell me about MIGA", summary)])
    assert none.refused and none.notice == NONE_BEYOND and none.citations == [], none.text
    assert none.closest, "a refusal still shows where to look"


def test_asked_for_data_the_answer_quotes_the_data_not_the_papers_name(pipeline):
    """Every MIGA sentence read as naming data ("MIGA" is capitalised like a dataset): the answer quoted its intro."""
    answer = pipeline.ask("What datasets does MIGA evaluate on?")
    assert any("CSI300" in c.quote for c in answer.citations), answer.text


def test_a_follow_up_comparison_names_the_paper_it_points_back_to(pipeline):
    """ "Tell me about SPLADE" summarised SPLADE v2; then "How does it compare to ColBERT?" read "Comparing it and
    ColBERT: ... No paper in the collection is about it itself." """
    first = pipeline.ask("Tell me about SPLADE")
    assert first.text.startswith("“SPLADE: Sparse Lexical and Expansion Model for First Stage Ranking” ["), first.text
    answer = pipeline.ask("How does it compare to ColBERT?", history=[("Tell me about SPLADE", first)])
    assert answer.text.startswith("Comparing SPLADE and ColBERT:"), answer.text
    assert "about it itself" not in answer.text


def test_a_summary_gives_problem_method_result_in_that_order(pipeline):
    answer = pipeline.ask("Summarize the Monet paper.")
    assert answer.form == "summary"
    assert len(_cited_titles(answer)) == 1 and _cited_titles(answer)[0].startswith("Monet")
    # the scorer's likeliest sentences, each under its role; a role no chosen sentence holds is left out
    labels = re.findall(r"^- (Problem|Method|Result):", answer.text, flags=re.M)
    assert labels == [r for r in ("Problem", "Method", "Result") if r in labels] and len(labels) >= 2, answer.text
    assert 2 <= len(answer.citations) <= 3  # every quoted sentence is a citation of its own
    # what Monet is, not background: a quote (whole or part) of the sentence that introduces it
    abstract = answer.sources[0].paper.abstract
    at = abstract.index("we introduce Mixture of Monosemantic Experts")
    intro = next(s for s in split_sentences(abstract) if s.start <= at < s.end)
    assert any(intro.start <= c.start and c.end <= intro.end for c in answer.citations), answer.text


def test_a_comparison_names_its_sides_as_the_question_wrote_them(pipeline):
    answer = pipeline.ask("How does the Slot Mixture Module differ from Slot Attention?")
    assert answer.form == "comparison"
    assert answer.text.startswith("Comparing Slot Mixture Module and Slot Attention:"), answer.text
    quoted = pipeline.ask("How do 'RNNs are not Transformers (Yet)' and 'Just read twice' differ?")
    lines = quoted.text.splitlines()
    assert lines[0] == "Comparing “RNNs are not Transformers (Yet)” and “Just read twice”:", quoted.text
    assert lines[1].startswith("- “RNNs are not Transformers (Yet)” [1]: "), quoted.text  # the title is its name


def test_a_single_paper_question_cites_one_paper(pipeline):
    answer = pipeline.ask("Which paper introduced pointer networks?")
    assert _cited_titles(answer) == ["Pointer Networks"]


def test_a_follow_up_over_a_set_chooses_among_every_paper_shown(pipeline):
    """The issue's chat: MIGA was a source of the MoE answer; "which of them ..." must find it."""
    first = pipeline.ask("Which papers here study mixture-of-experts models?")
    shown = {s.paper.title for s in first.sources}
    miga = next(t for t in shown if t.startswith("MIGA"))
    follow = pipeline.ask(
        "Which of them is about stock prediction and how well does it do?", history=[(first.question, first)]
    )
    # MIGA alone: the other papers shown are the pool it was chosen from, not papers the question is about
    assert _cited_titles(follow) == [miga], follow.text
    assert "(" not in follow.standalone_question  # no title of a quoted paper appended to the search
    plural = pipeline.ask("Which of them are about interpretability?", history=[(first.question, first)])
    assert {s.paper.title for s in plural.sources} & shown and _cited_titles(plural), plural.text


def test_a_follow_up_reaches_a_source_the_set_answer_showed_but_did_not_quote(pipeline):
    """Through `Pipeline.ask`, whose request keeps every shown source of a history turn (it kept only the
    quoted ones, so "which of them ..." could not reach an unquoted source)."""
    first = pipeline.ask("Which papers here study mixture-of-experts models?")
    quoted = {c.paper_id for c in first.citations}
    unquoted = next(s for s in sorted(first.sources, key=lambda s: s.n) if s.paper.id not in quoted)
    assert unquoted.paper.title.startswith("Contrastive Learning and Mixture of Experts")
    history = [(first.question, first)]
    described = pipeline.ask("Which of them is about sentence embeddings for retrieval?", history=history)
    assert _cited_titles(described) == [unquoted.paper.title], described.text
    word = next(w for w, n in ORDINALS.items() if n == unquoted.n)
    numbered = pipeline.ask(f"what does the {word} one find?", history=history)
    assert _cited_titles(numbered) == [unquoted.paper.title], numbered.text


def test_ordinal_and_described_follow_ups_resolve_against_the_listed_papers():
    turn = Turn(
        question="Which papers study MoE?",
        cited_paper_ids=["a", "b", "c"],
        cited_titles=["A: first", "B: second", "C: third"],
        shown_paper_ids=["a", "b", "c", "d"],
        shown_titles=["A: first", "B: second", "C: third", "D: fourth"],
    )
    second = resolve("What does the second one report?", [turn])
    assert second.carried == ["b"] and "B: second" in second.standalone_question
    ones = resolve("which ones are built on sheaves?", [turn])  # "which ones" right after a list
    assert ones.read_as == "among" and ones.pool == ["a", "b", "c", "d"] and ones.subjects == []
    described = resolve("the one on stock prediction: how well does it do?", [turn])
    assert described.carried == ["a", "b", "c", "d"]  # the unquoted source d too
    assert described.standalone_question == "the one on stock prediction: how well does it do?"


def test_an_ordinal_past_what_the_answer_listed_points_at_that_numbered_source():
    """After a one-paper answer, "the second one" is source [2] of its panel, not a question refused."""
    turn = Turn(
        question="Which of them is about stock prediction?",
        cited_paper_ids=["c"],
        cited_titles=["C: stocks"],
        shown_paper_ids=["c", "d", "a"],
        shown_titles=["C: stocks", "D: fourth", "A: first"],
    )
    second = resolve("the second one", [turn])
    assert second.read_as == "ordinal" and second.carried == ["d"] and "D: fourth" in second.standalone_question
    assert resolve("the last one", [turn]).carried == ["c"]  # the last of what it listed
    assert resolve("the fifth one", [turn]).read_as != "ordinal"  # past the panel too: no paper is made up


def test_the_shipped_selection_model_is_fitted_on_tune_and_separates_the_asked_paper(pipeline):
    model = SelectionModel.load()
    assert "questions_tune" in model.fitted_on and "test" not in model.fitted_on
    assert 0 < model.set_threshold < 1
    question = "Which paper introduced pointer networks?"
    retrieval = pipeline.retriever.retrieve(question, 5, depth=15)
    candidates = pipeline.planner.candidates(pipeline.planner.form(question), retrieval)
    assert candidates[0].source.paper.title == "Pointer Networks"
    assert candidates[0].probability > 0.5 > max(c.probability for c in candidates[1:])
    assert min(c.probability for c in candidates) < 0.1


@pytest.mark.parametrize(
    ("count", "predicate", "lead"),
    [
        (
            7,
            "automate neural architecture search",
            "Seven papers in the collection automate neural architecture search:",
        ),
        (1, "automate neural architecture search", "One paper in the collection automates neural architecture search:"),
        (1, "are mainly about X", "One paper in the collection is mainly about X:"),
        (1, "study sheaves", "One paper in the collection studies sheaves:"),
        (1, "discuss tokenization", "One paper in the collection discusses tokenization:"),
        (3, "", "Three papers in the collection are about the topic:"),  # no predicate: the topic makes the lead
        (3, " ".join(["word"] * 11), "Three papers in the collection are about the topic:"),  # too long to read well
    ],
)
def test_a_set_lead_answers_in_the_questions_own_words(count, predicate, lead):
    assert ExtractiveAnswerer._set_lead(count, "set", "contribution", "the topic", predicate) == lead


@pytest.mark.parametrize(
    ("question", "asked"),
    [
        (
            "What are the limitations of sparse autoencoders according to the papers here?",
            "limitations of sparse autoencoders",
        ),
        ("what problems with diffusion models do the papers point out?", "problems with diffusion models"),
        ("what limitations do the papers here find when transformers search?", ""),  # no "of X"
        ("what drawbacks of " + " ".join(["word"] * 9) + " do papers point out?", ""),  # a clause, not a thing
    ],
)
def test_an_across_limitation_lead_names_what_the_question_asks_in_its_words(question, asked):
    assert weakness_of(question) == asked
    lead = ExtractiveAnswerer._set_lead(6, "limitation", "limitation", "", "", asked)
    assert lead == f"Six papers in the collection state {asked or 'limitations'}:"


def test_a_set_lead_with_neither_predicate_nor_topic_agrees_with_its_count():
    assert ExtractiveAnswerer._set_lead(1, "set", "contribution", "", "") == "One paper in the collection answers this:"
    assert ExtractiveAnswerer._set_lead(2, "set", "contribution", "", "") == "Two papers in the collection answer this:"


@pytest.mark.parametrize(
    ("question", "many"),
    [
        # a plural verb after "which of them" asks for every paper that fits (conversations_among_tune)
        ("which of them work on images or other multi-dimensional data, not only on 1-D text sequences?", True),
        ("which of those learn state representations for agents that play games or control things?", True),
        ("Which of them are about interpretability?", True),
        ("do any of them use sparse dictionaries?", True),
        ("the ones that use experts: what do they route?", True),
        # a singular verb, or "the one ...", asks for one
        ("which of them works without any predefined list of class names at test time?", False),
        ("which of them is about medical images, and how are those images broken into parts?", False),
        ("which of them removes whole attention layers, and what does that cost?", False),
        ("the one that converts a scene from one radiance-field architecture to another: how much?", False),
        ("which of them discusses limitations?", False),
    ],
)  # fmt: skip
def test_a_follow_up_among_a_set_asks_for_one_or_many_by_its_verb(question, many):
    assert among_asks_many(question) is many


def test_which_of_these_papers_reads_its_verb_not_the_word_papers():
    assert among_asks_many("which of these papers are about clustering or averaging data points?")
    assert not among_asks_many("which of these papers is about clustering?")


@pytest.mark.parametrize(
    ("question", "form", "across"),
    [
        ("What are the limitations of sparse autoencoders according to the papers here?", "limitation", True),
        ("How do the papers here train sparse autoencoders?", "how", True),
        ("what do the self-supervised learning papers here say about representation collapse?", "single", True),
        ("across the papers, what is found about how representations change from layer to layer?", "single", True),
        ("what do the other studies conclude about grokking?", "single", True),
        # one paper, or one of them
        ("What is the main contribution of the Monet paper?", "single", False),
        ("Which of the papers here introduces Monet?", "single", False),
        ("Why does beam search work so well?", "how", False),
        ("Which paper argues beam search works well because it enforces UID?", "single", False),  # "works": a verb
        ("a perspective arguing that memory in the brain works like a key-value store", "single", False),
        ("How many papers did the survey of GNN-based social recommender systems review?", "number", False),
        ("Compare the papers on Monet and MoTE.", "comparison", False),
    ],
)
def test_a_question_asks_across_papers_when_it_names_them_in_the_plural(question, form, across):
    assert asks_across(question, QuestionForm(form)) is across


def test_a_plural_follow_up_to_a_set_answer_answers_for_each_listed_paper(pipeline):
    first = "Which papers here study mixture-of-experts models?"
    listed = pipeline.ask(first)
    answer = pipeline.ask("What results do these papers report?", history=[(first, listed)])
    cited = set(_cited_titles(answer))
    assert len(cited) >= 3 and cited <= set(_cited_titles(listed)), answer.text  # the listed papers, one item each
    assert answer.text.count("\n- ") == len(cited), answer.text


@pytest.mark.parametrize(
    ("question", "across"),
    [
        ("what challenges of continual learning with modules do the papers in the collection raise?", True),
        ("how do papers in the collection compose word vectors into phrase meanings?", True),
        ("What papers in the collection are about recommender systems?", False),
        ("what does the collection have on abstract visual reasoning?", False),
        ("how much text fits in one vector? which papers look at that?", False),
    ],
)
def test_a_set_question_that_opens_on_what_it_asks_reads_its_topic_as_an_across_question(question, across):
    assert set_asked_across(question, QuestionForm("set")) is across
