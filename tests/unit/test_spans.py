"""Quoting part of a sentence (rag/answer/spans.py) and the citation check reading such a quote back."""

from __future__ import annotations

import pytest

from rag.answer import check_citations
from rag.answer.spans import LEAD_RULES, TAIL_RULES, WORD_FEATURES, Asked, SpanChoice, choose_span, said_words
from rag.models import Paper, Source

EVERY_RULE = SpanChoice(lead=tuple(r.name for r in LEAD_RULES), tail=tuple(r.name for r in TAIL_RULES), min_keep=0.0)


@pytest.mark.parametrize("rule", LEAD_RULES + TAIL_RULES, ids=lambda r: r.name)
def test_each_rule_drops_exactly_its_framing(rule):
    only = SpanChoice(
        lead=(rule.name,) if rule in LEAD_RULES else (),
        tail=(rule.name,) if rule in TAIL_RULES else (),
        min_keep=0.3,
    )
    span = choose_span(rule.example, only)
    kept = rule.example.replace(rule.dropped, "", 1).rstrip(".")
    assert span.text.rstrip(".") == kept
    assert rule.example[span.start : span.end] == span.text  # the abstract's own words, never re-cased
    assert (span.cut_left, span.cut_right) == (rule in LEAD_RULES, rule in TAIL_RULES)


def test_a_rule_that_is_off_drops_nothing():
    rule = LEAD_RULES[0]
    span = choose_span(rule.example, SpanChoice(lead=(), tail=()))
    assert span.text == rule.example and not span.cut_left and span.rendered() == rule.example


def test_the_rendered_quote_marks_each_cut_outside_the_quoted_words():
    sentence = "In this paper, we propose Monet, heralding a new era of interpretable experts."
    span = choose_span(sentence, EVERY_RULE)
    assert span.text == "we propose Monet"
    assert span.rendered() == "...we propose Monet ..."


def test_a_cut_that_would_keep_too_little_quotes_the_whole_sentence():
    sentence = (
        "In this paper, we propose Monet, demonstrating the effectiveness of sparse dictionary learning at scale."
    )
    assert choose_span(sentence, EVERY_RULE).text == "we propose Monet"
    strict = EVERY_RULE.model_copy(update={"min_keep": 0.5})
    assert choose_span(sentence, strict).text == sentence  # 3 of 14 words is under half


SENTENCE = (
    "We train a sparse retriever on passages from the web with a contrastive loss and hard negatives; "
    "it reaches 41.2 MRR on MS MARCO, while staying small."
)


def _model(**weights: float) -> SpanChoice:
    """A word model that weighs only the named features (and a bias that makes any other word unlikely)."""
    coef = tuple(weights.get(name, -4.0 if name == "bias" else 0.0) for name in WORD_FEATURES)
    return SpanChoice(coef=coef, keep_odds=0.5, min_keep=0.2)


def test_the_word_model_keeps_the_run_of_parts_whose_words_are_likely():
    numbers = choose_span(SENTENCE, _model(number=8.0, capital=8.0))  # "41.2", "MRR", "MS", "MARCO"
    assert numbers.text == "it reaches 41.2 MRR on MS MARCO"
    assert numbers.cut_left and numbers.cut_right
    assert numbers.rendered() == "...it reaches 41.2 MRR on MS MARCO ..."
    asked = Asked(question="Which sparse retriever is trained on passages from the web?")
    training = choose_span(SENTENCE, _model(in_question=8.0), asked)
    assert training.text.startswith("We train a sparse retriever") and training.cut_right
    assert SENTENCE[training.start : training.end] == training.text


def test_a_part_is_cut_only_at_a_clause_boundary_and_never_starts_leaning_on_the_clause_before():
    sentence = "Mixture of Expert with Group Aggregation predicts stocks well, which beats every baseline on CSI300."
    numbers = _model(number=8.0, capital=8.0).model_copy(update={"min_keep": 0.0})
    span = choose_span(sentence, numbers)  # "CSI300" is likely, but no part may start on "which"
    assert not span.cut_left and span.text.startswith("Mixture of Expert with Group Aggregation")
    leaning = "The scale is not isotropic, but instead has a power law of eigenvalues in middle layers."
    late = choose_span(leaning, _model(position=8.0).model_copy(update={"min_keep": 0.0}))  # later words likelier
    assert late.text == leaning and not late.cut_left


def test_a_word_already_said_counts_against_quoting_it_again():
    sentence = "We evaluate on MS MARCO; we report results on BEIR."
    model = _model(capital=8.0, said=-16.0).model_copy(update={"min_keep": 0.0})
    assert "MS MARCO" in choose_span(sentence, model).text
    again = choose_span(sentence, model, Asked(said=said_words("Retrievers tested on MS MARCO:")))
    assert "MARCO" not in again.text and "BEIR" in again.text


def test_asked_for_a_number_the_part_keeps_it():
    asked = Asked(question="what loss trains the sparse retriever?", cue="number")
    span = choose_span(SENTENCE, _model(in_question=8.0), asked)
    assert "41.2" in span.text


def test_the_shipped_choice_loads_and_was_fitted_on_tune_files_only():
    choice = SpanChoice.load()
    assert choice.coef is not None and len(choice.coef) == len(WORD_FEATURES)
    assert "tune" in choice.fitted_on and "test" not in choice.fitted_on
    assert choice.min_keep >= 0.5  # the quote still covers the key sentence's measure


def _source(abstract: str) -> Source:
    return Source(
        n=1,
        paper=Paper(id="p1", title="Monet: Mixture of Monosemantic Experts", abstract=abstract),
        chunks=[],
        score=1.0,
    )


ABSTRACT = (
    "Interpretability is hard. In this paper, we propose Monet, a mixture of  monosemantic experts, "
    "heralding a new era of interpretable models. Monet scales the expert count to 262,144 per layer."
)


def test_the_citation_check_resolves_a_quoted_part_to_its_place_in_the_abstract():
    text = (
        "From “Monet” [1]: ...we propose Monet, a mixture of  monosemantic experts ... [1] "
        "Monet scales the expert count to 262,144 per layer. [1]"
    )
    checked = check_citations(text, [_source(ABSTRACT)])
    quotes = [c.quote for c in checked.citations]
    assert quotes == [
        "we propose Monet, a mixture of  monosemantic experts",
        "Monet scales the expert count to 262,144 per layer.",
    ]
    for citation in checked.citations:
        assert ABSTRACT[citation.start : citation.end] == citation.quote
    assert "experts ... [1] Monet" in checked.text  # the marker stays after the cut mark, not moved before it
    assert "[1]: ...we propose" in checked.text  # the cut mark keeps its space
    assert checked.uncited_sentences == []


def test_words_beside_an_ellipsis_that_are_no_quote_resolve_to_no_part():
    checked = check_citations("From “Monet” [1]: ...we invented everything here [1].", [_source(ABSTRACT)])
    assert len(checked.citations) == 1
    assert checked.citations[0].quote not in ("we invented everything here",)  # the nearest whole sentence instead


def test_a_part_never_holds_half_a_parenthesis_nor_ends_on_an_abbreviation():
    sentence = "The task vectors are derived in one modality (e.g., text) and transferred to another (e.g., image)."
    for name in WORD_FEATURES:  # whichever word the model favours
        span = choose_span(sentence, _model(**{name: 8.0}).model_copy(update={"min_keep": 0.0}))
        assert span.text.count("(") == span.text.count(")"), (name, span.text)
        assert not span.text.endswith(("e.g.", "i.e.")), (name, span.text)


def test_a_part_never_opens_on_a_dash_nor_holds_half_a_dashed_aside():
    sentence = (
        "Using a technique we dub fTRI -- inspired by fMRI and using prompts designed to elicit behavior -- "
        "we identify experts associated with refusals, and we switch them off."
    )
    for name in WORD_FEATURES:  # whichever word the model favours
        span = choose_span(sentence, _model(**{name: 8.0}).model_copy(update={"min_keep": 0.0}))
        assert not span.text.startswith(("-", "—", "–")) and not span.text.rstrip(" .").endswith("--"), span.text
        assert span.text.count(" -- ") in (0, 2), (name, span.text)  # the aside whole or not at all
    after = choose_span(sentence, _model(position=8.0).model_copy(update={"min_keep": 0.0}))  # later words likelier
    assert after.text.startswith("we identify experts") and after.cut_left


def test_a_closing_cut_after_an_abbreviation_stays_in_its_claim():
    abstract = "Vectors derived in one modality (e.g. text) transfer to another modality. Ensembles help."
    text = "From “Monet” [1]: Vectors derived in one modality (e.g. ... [1] ...transfer to another modality. [1]"
    checked = check_citations(text, [_source(abstract)])
    assert [c.quote for c in checked.citations] == [
        "Vectors derived in one modality (e.g.",
        "transfer to another modality",  # its stop stands after the [1]
    ]


def test_weights_for_other_features_are_refused():
    with pytest.raises(ValueError, match="span weights are for"):
        SpanChoice(coef=(1.0, 2.0), features=("bias", "idf"))
