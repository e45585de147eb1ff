"""The learned sentence scorer: each feature on an example, the never-quoted rule, the shipped weights."""

from __future__ import annotations

import math
import re

import pytest

from rag.answer.citations import check_citations, split_sentences
from rag.answer.extractive import ExtractiveAnswerer
from rag.answer.plan import Plan
from rag.answer.sentence_scorer import (
    DEFAULT_SCORER_FILE,
    FEATURES,
    SentenceScorer,
    asks,
    paper_name,
    sentence_features,
    shunned,
)
from rag.answer.spans import SpanChoice
from rag.models import Paper, Source
from rag.question.form import classify
from rag.selection import Candidate

WHOLE = SpanChoice()  # no framing rule, no word model: whole sentences

IDF = {"sparse": 3.0, "autoencoders": 4.0, "interpretability": 2.0, "well": 0.5, "how": 0.5, "does": 0.5}


def tokenize(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+", text.lower())


def idf(term: str) -> float:
    return IDF.get(term, 1.0)


def features(question: str, texts: list[str], cosines: list[float] | None = None, title: str = "", form=None):
    read = classify(question)
    return sentence_features(
        question,
        form or read.form,
        read.aspect,
        texts,
        cosines or [0.0] * len(texts),
        tokenize,
        idf,
        title,
    )


def test_every_row_has_every_feature_and_nothing_else():
    rows = features("How well does it do?", ["We propose a model.", "It reaches 91% accuracy."])
    assert all(set(row) <= set(FEATURES) for row in rows)
    assert {"cos", "lexical", "position", "result_x_result"} <= set(rows[1])


def test_cosine_features_say_how_a_sentence_stands_among_its_papers_sentences():
    rows = features("What is it?", ["A b c d.", "E f g h.", "I j k l."], cosines=[0.2, 0.6, 0.5])
    assert [r["cos"] for r in rows] == [0.2, 0.6, 0.5]
    assert [r["cos_top"] for r in rows] == [0.0, 1.0, 0.0]
    assert [round(r["cos_gap"], 6) for r in rows] == [-0.4, 0.0, -0.1]


def test_topic_words_leave_out_the_words_that_only_say_the_form():
    """ "How well does ... do" carries no topic: matching "well" and "does" is not matching the topic."""
    rows = features(
        "How well do sparse autoencoders do?",
        ["It does well on every task we tried.", "Sparse autoencoders recover features."],
    )
    assert rows[0]["lexical"] > 0 and rows[0]["lexical_topic"] == 0
    assert rows[1]["lexical_topic"] == pytest.approx(1.0)


def test_position_first_last_and_background_before_the_paper_speaks_of_itself():
    texts = ["Transformers are everywhere.", "Attention is costly.", "We propose a cheap attention.", "It is fast."]
    rows = features("What is it about?", texts)
    assert [r["position"] for r in rows] == pytest.approx([0, 1 / 3, 2 / 3, 1])
    assert [r["first"] for r in rows] == [1, 0, 0, 0] and [r["last"] for r in rows] == [0, 0, 0, 1]
    assert [r["background"] for r in rows] == [1, 1, 0, 0]
    assert [r["contribution"] for r in rows] == [0, 0, 1, 0]


@pytest.mark.parametrize(
    ("question", "ask", "text", "cue"),
    [
        ("How well does Monet do on MMLU?", "result", "Monet outperforms dense models by 3 points.", "result"),
        ("How does SPLADE expand queries?", "method", "We propose a method based on sparse expansion.", "method"),
        ("What are the limitations of SAEs?", "limitation", "However, SAEs fail on rare features.", "limitation"),
        ("Which datasets was it evaluated on?", "data", "We evaluate on three benchmarks.", "data"),
        ("Which papers are about sparse autoencoders?", "topic", "We use a method based on sparse codes.", "method"),
    ],
)
def test_a_role_cue_is_crossed_with_what_the_question_asks(question, ask, text, cue):
    read = classify(question)
    assert asks(read.form, read.aspect) == ask
    row = features(question, ["Some words about nothing here.", text])[1]
    assert row[cue] == 1.0 and row[f"{cue}_x_{ask}"] == 1.0
    others = [a for a in ("result", "method", "limitation", "data", "topic") if a != ask]
    assert all(row.get(f"{cue}_x_{a}", 0.0) == 0.0 for a in others)


def test_numbers_and_length():
    rows = features("How many?", ["It is small and simple.", "It uses 7 billion parameters."])
    assert [r["number"] for r in rows] == [0.0, 1.0]
    assert rows[0]["log_words"] == pytest.approx(math.log1p(5))


def test_the_sentence_naming_the_papers_method_or_its_title_words():
    title = "MIGA: Mixture-of-Experts with Group Aggregation for Stock Market Prediction"
    assert paper_name(title) == "MIGA" and paper_name("Pointer Networks") == ""
    rows = features(
        "Which papers study mixture-of-experts?",
        ["Stock prices are hard to predict.", "We present MIGA, a mixture of expert framework.", "MIGAX is different."],
        title=title,
    )
    assert [r["names_paper"] for r in rows] == [0.0, 1.0, 0.0]  # a whole word, not "MIGAX"
    assert rows[1]["title_words"] > rows[0]["title_words"] > 0  # "stock" vs "mixture", "expert" ...
    assert rows[1]["title_words_x_topic"] == rows[1]["title_words"]


@pytest.mark.parametrize(
    ("text", "index", "own", "wants_code", "expected"),
    [
        ("Code is available at https://github.com/x/y.", 5, 1, False, True),
        ("Code is available at https://github.com/x/y.", 5, 1, True, False),  # asked for the code
        ("Our models and data will be made publicly available.", 5, 1, False, True),
        ("In recent years, sparse autoencoders have attracted much attention.", 0, 1, False, True),
        ("Large language models have recently become a powerful tool.", 1, 2, False, True),
        ("Our experiments have demonstrated significant gains over baselines.", 4, 1, False, False),  # a result
        ("(2) ablations.", 3, 1, False, True),  # a fragment
        ("Cohen-Karlik et al. [2020] proved that summing cannot generalise.", 2, 1, False, True),
        ("We propose a sparse mixture of experts for retrieval.", 1, 1, False, False),
    ],
)
def test_never_quoted_unless_asked(text, index, own, wants_code, expected):
    assert shunned(text, index, own, wants_code) is expected


ABSTRACT = (
    "In recent years, sparse autoencoders have attracted significant attention in interpretability research. "
    "We propose a new training objective for sparse autoencoders that removes dead latents. "
    "It improves reconstruction by 12% on GPT-2 activations. "
    "Code is available at https://github.com/example/sae."
)


def _candidate(cosines: list[float]) -> Candidate:
    paper = Paper(id="p1", title="Better SAEs: a new objective", abstract=ABSTRACT)
    source = Source(n=1, paper=paper, chunks=[], score=1.0)
    starts = [s.start for s in split_sentences(ABSTRACT)]
    return Candidate(source, {}, dict(zip(starts, cosines, strict=True)), 0.9)


def test_boilerplate_and_links_are_not_quoted_even_when_most_similar():
    """Take out the boilerplate (or link) rule and this answer quotes "In recent years ..." (or the URL)."""
    everything_on = SentenceScorer(features=["cos"], coef=[50.0], second_share=1.0)  # cosine alone decides
    answerer = ExtractiveAnswerer(idf, scorer=everything_on, spans=WHOLE)  # which sentence, not which part of it
    question = "What is known about sparse autoencoders?"
    plan = Plan(classify(question), [_candidate([0.0] * 4).source])
    for cosines in ([0.9, 0.2, 0.1, 0.0], [0.1, 0.2, 0.1, 0.9]):
        plan.chosen = [_candidate(cosines)]
        text = "".join(answerer.write(question, plan, tokenize))
        assert "In recent years" not in text and "github" not in text, text
        assert "We propose a new training objective" in text
        checked = check_citations(text, plan.sources)
        assert [c.quote for c in checked.citations] == [split_sentences(ABSTRACT)[1].text]
    plan.chosen = [_candidate([0.1, 0.2, 0.1, 0.9])]
    asked = "".join(answerer.write("Where is the code of the SAE paper available?", plan, tokenize))
    assert "github" in asked  # asked for: then it is the answer


def test_the_shipped_scorer_is_fitted_on_tune_files_only_and_ranks_by_its_features():
    scorer = SentenceScorer.load()
    assert scorer.features == list(FEATURES)
    assert "tune" in scorer.fitted_on and "test" not in scorer.fitted_on and "dev" not in scorer.fitted_on
    assert DEFAULT_SCORER_FILE.name == "sentence_scorer.json"
    assert 0 < scorer.second_share < 1
    weights = dict(zip(scorer.features, scorer.coef, strict=True))
    assert weights["result_x_result"] > 0 and weights["limitation_x_limitation"] > 0 and weights["background"] < 0
    # a "how well" question: the sentence with the result beats the method sentence at equal cosine
    rows = features(
        "How well does the new objective do?",
        ["We propose a new training objective for autoencoders.", "It improves reconstruction by 12% on GPT-2."],
        cosines=[0.5, 0.5],
    )
    probabilities = scorer.probabilities(rows)
    assert sum(probabilities) == pytest.approx(1.0)
    assert probabilities[1] > probabilities[0]


SUMMARY_ABSTRACT = (
    "Sparse autoencoders often leave many latents dead during training. "
    "We propose a new training objective for sparse autoencoders that removes dead latents. "
    "The objective is a simple penalty added to the reconstruction loss. "
    "It improves reconstruction by 12% on GPT-2 activations. "
    "We discuss related objectives in the appendix."
)


def test_a_summary_quotes_the_scorers_likeliest_sentences_under_their_roles():
    """Three sentences the scorer ranks first, labelled by role in problem, method, result order.

    The cosines rank the background (problem) sentence first, then the result, then the method; the labels
    follow the sentence's role, not its rank, and the last sentence (never likely) is not quoted.
    """
    paper = Paper(id="p2", title="Fewer dead latents", abstract=SUMMARY_ABSTRACT)
    source = Source(n=1, paper=paper, chunks=[], score=1.0)
    starts = [s.start for s in split_sentences(SUMMARY_ABSTRACT)]
    cosines = [0.9, 0.5, 0.1, 0.7, 0.0]
    candidate = Candidate(source, {}, dict(zip(starts, cosines, strict=True)), 0.9)
    scorer = SentenceScorer(features=["cos"], coef=[20.0], second_share=1.0, summary_share=0.0)
    answerer = ExtractiveAnswerer(idf, scorer=scorer, spans=WHOLE)
    question = "Summarise the paper on dead latents."
    plan = Plan(classify(question), [source], chosen=[candidate])
    text = "".join(answerer.write(question, plan, tokenize))
    labels = re.findall(r"^- (\w+): (\w+ \w+)", text, flags=re.M)
    assert labels == [("Problem", "Sparse autoencoders"), ("Method", "We propose"), ("Result", "It improves")], text
    assert "simple penalty" not in text and "appendix" not in text
    assert len(check_citations(text, plan.sources).citations) == 3
    # a higher share keeps only the sentences nearly as likely as the best
    answerer.scorer = scorer.model_copy(update={"summary_share": 0.5})
    assert re.findall(r"^- (\w+):", "".join(answerer.write(question, plan, tokenize)), flags=re.M) == ["Problem"]


def test_a_limitation_answer_with_no_stated_weakness_quotes_the_plans_lead():
    """Two papers cited, neither quote names a weakness: the answer is one paper's, the lead's (`Plan.lead`, set by
    `rag.selection.choice`), not the first cited; a hand-made plan without a lead quotes the first cited."""

    def cited(n: int, title: str, abstract: str) -> Candidate:
        source = Source(n=n, paper=Paper(id=f"p{n}", title=title, abstract=abstract), chunks=[], score=1.0 / n)
        return Candidate(source, {}, {s.start: 0.5 for s in split_sentences(abstract)}, 0.9)

    first = cited(1, "Gains: a sequel", "We train sparse autoencoders faster. It improves reconstruction by 12%.")
    named = cited(2, "Fewer dead latents", "We propose a new SAE objective. It keeps latents alive.")
    scorer = SentenceScorer(features=["cos"], coef=[1.0], second_share=1.0)
    answerer = ExtractiveAnswerer(idf, scorer=scorer, spans=WHOLE)
    question = "What are the weaknesses of Fewer dead latents?"
    plan = Plan(classify(question), [first.source, named.source], chosen=[first, named], lead=named)
    assert "".join(answerer.write(question, plan, tokenize)).startswith("From “Fewer dead latents” [2]: ")
    plan.lead = None
    assert "".join(answerer.write(question, plan, tokenize)).startswith("From “Gains” [1]: ")
