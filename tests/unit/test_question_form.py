"""The question-form table: several examples of each form, the table's own examples, sides and aspects."""

from __future__ import annotations

import pytest

from rag.question.form import (
    FORMS,
    RULES,
    as_written,
    asks_across_papers,
    classify,
    comparison_sides,
    set_predicate,
    set_topic,
)
from rag.question.tidy import plain_question

EXAMPLES = {
    "set": [
        "Which papers in the collection are about sparse autoencoders?",
        "Do any papers discuss the curse of dimensionality?",
        "List three papers about attention heads",
        "Which papers here study mixture-of-experts models?",
        "list the papers on video object segmentation",
        "any work on probabilistic circuits?",
        "what do we have on self-supervised speech representations like wav2vec 2.0 or HuBERT?",
        "Which works bring cellular sheaves into graph neural networks?",
        "Class-incremental learning methods that grow the network as new classes arrive?",
        "text-to-image personalization / customization methods in the corpus?",
        "ways to cut the storage cost of ColBERT-style multi-vector retrieval?",
        "Are there other papers on hyperbolic embeddings?",
        "any papers extending slot attention to video?",
        "How many papers in the collection study sheaf neural networks?",
        # asked as the collection's holdings, as "anything on", after a question of its own, "papers involving"
        "what does the collection have on abstract visual reasoning and visual puzzles?",
        "anything on whether LLMs can monitor their own internal states?",
        "do CLIP-style models capture word order? which papers look at that",
        "how much text can be packed into a single vector? which papers look at that",
        "papers involving robots?",
    ],
    "comparison": [
        "How does Monet differ from a standard mixture-of-experts layer?",
        "What is the difference between SPLADE and SPLADE v2?",
        "Compare MERU with CLIP.",
        "Slot Attention vs. DINOSAUR: which needs less supervision?",
        "how does MERU compare to CLIP?",
    ],
    "limitation": [
        "What are the limitations of sparse autoencoders according to the papers here?",
        "What weaknesses of linear probes do the papers point out?",
        "Where do transformers struggle to learn search?",
        "What are the drawbacks of product-key memory layers?",
    ],
    "summary": [
        "Summarize the Monet paper.",
        "Tell me about LieGAN.",
        "Give me an overview of Matryoshka Representation Learning",
        "What is the SPLADE paper about?",
    ],
    "number": [
        "How many parameters does the largest model have?",
        "How much does UFO beat previous generalist models on COCO?",
        "Which datasets is MobileVOS evaluated on?",
        "What excess annual return does MIGA-Conv achieve on CSI300?",
        "What accuracy does the method reach on ImageNet?",
        "How many papers did the survey of continual learning review?",
    ],
    "how": [
        "How does SPLADE expand queries and documents?",
        "Why do recurrent language models fall behind transformers at recall?",
        "How do successor heads increment ordinal tokens?",
        "What makes Coconut reason in a continuous latent space?",
    ],
    "single": [
        "Which paper introduced pointer networks?",
        "What is HYPO?",
        "sparse probabilistic circuits pruning and growing",
        "Is there a paper that merges two ViTs by soft-aligning their attention heads?",
        "Which INR architecture uses sine activations to represent derivatives?",
        "Is there an image classifier that justifies each decision by comparing each input to prototypes?",
    ],
}


@pytest.mark.parametrize(("form", "question"), [(f, q) for f, qs in EXAMPLES.items() for q in qs])
def test_examples_of_each_form(form, question):
    assert classify(question).form == form, (question, classify(question))


def test_every_form_has_examples_and_every_rule_recognises_its_own_example():
    assert set(EXAMPLES) == set(FORMS)
    for rule in RULES:
        got = classify(rule.example)
        assert got.form == rule.form and got.rule == rule.name, (rule.name, got)


@pytest.mark.parametrize(
    ("question", "sides"),
    [
        ("How does Monet differ from a standard mixture-of-experts layer?", ("Monet", "mixture-of-experts layer")),
        ("What is the difference between SPLADE and SPLADE v2?", ("SPLADE", "SPLADE v2")),
        ("Compare MERU with CLIP.", ("MERU", "CLIP")),
        ("How is Monet different from MoTE?", ("Monet", "MoTE")),  # was read as a how question about Monet
        ("How are SPLADE and ColBERT different?", ("SPLADE", "ColBERT")),
        ("Which is better for retrieval, SPLADE or ColBERT?", ("SPLADE", "ColBERT")),  # was one paper's question
        ("which one performs better: MoTE or Monet?", ("MoTE", "Monet")),
        ("how does MERU compare to CLIP in zero-shot classification?", ("MERU", "CLIP")),
        (  # quoted titles keep their own brackets; the quotes around them go
            "How do 'RNNs are not Transformers (Yet)' and 'Just read twice' differ in explaining the recall gap?",
            ("RNNs are not Transformers (Yet)", "Just read twice"),
        ),
    ],
)
def test_comparison_sides(question, sides):
    assert comparison_sides(question) == sides
    assert classify(question).sides == sides


def test_a_side_is_named_as_the_user_wrote_it():
    """Sides are read from the tidied question, which lower-cases title-cased words; the answer's lead is not."""
    question = "How does the Slot Mixture Module differ from Slot Attention?"
    sides = classify(plain_question(question)).sides
    assert sides == ("slot mixture module", "slot attention")
    assert [as_written(side, question) for side in sides] == ["Slot Mixture Module", "Slot Attention"]
    assert as_written("not in it", question) == "not in it"
    quoted = "How do 'RNNs are not Transformers (Yet)' and 'Just read twice' differ?"
    assert [as_written(side, quoted) for side in classify(plain_question(quoted)).sides] == [
        "“RNNs are not Transformers (Yet)”",
        "“Just read twice”",
    ]


def test_a_comparison_with_no_second_side_is_read_on():
    """ "compared with" alone names no second thing: not a comparison."""
    assert classify("Which paper compares favourably?").form != "comparison"


@pytest.mark.parametrize(
    "question",
    [
        "formalizing how least squares vs ridge fits change when training data is transformed",
        "comparing how faces are encoded in a CNN versus human similarity judgments using graph curvature",
        "at which layer does an LLM start to 'know' harder concepts vs easy ones, measured with probes?",
    ],
)
def test_a_contrast_inside_a_clause_names_no_sides(question):
    """A side holding how/what/when/which... is a clause, not a name: one paper that contrasts, not two sides.
    Read as a comparison, the first gave "No paper in the collection is about formalizing how least squares"."""
    assert comparison_sides(question) == ()
    assert classify(question).form == "single"


@pytest.mark.parametrize(
    ("question", "aspect"),
    [
        ("Which of them is about stock prediction and how well does it do?", "result"),
        ("How does SPLADE expand queries and documents?", "method"),
        ("What are the limitations of sparse autoencoders?", "limitation"),
        ("Which datasets is MobileVOS evaluated on?", "data"),
        ("Summarize the Monet paper.", "contribution"),
    ],
)
def test_aspects(question, aspect):
    assert classify(question).aspect == aspect


@pytest.mark.parametrize(
    ("question", "across"),
    [
        ("What are the limitations of sparse autoencoders according to the papers here?", True),
        ("What weaknesses do the works in this collection report for token merging?", True),
        ("What is wrong with exact MAP decoding, according to the beam search paper?", False),
        ("What are the drawbacks of locally constrained decoding with token masking?", False),
    ],
)
def test_asks_across_papers(question, across):
    assert asks_across_papers(question) is across


@pytest.mark.parametrize(
    ("question", "predicate"),
    [
        (
            "Which papers automate neural architecture search or AutoML?",
            "automate neural architecture search or AutoML",
        ),
        (
            "Which papers are mainly about cross-modal retrieval between images and text?",
            "are mainly about cross-modal retrieval between images and text",
        ),
        (
            "What papers here build on joint-embedding predictive architectures (JEPA)?",
            "build on joint-embedding predictive architectures (JEPA)",
        ),
        ("Which papers in the collection are about sparse autoencoders?", "are about sparse autoencoders"),
        ("Which papers study sheaves here?", "study sheaves"),
        ("what papers are there on video object segmentation?", "are on video object segmentation"),
        ("What papers do we have on tokenization?", ""),  # an auxiliary: no predicate of the papers
        ("Which papers, if any, use JAX?", ""),
        ("Which papers are there?", ""),  # nothing said of them
        ("list the papers about hyperbolic embeddings", ""),  # not "which papers ...": the topic makes the lead
        ("Which paper introduced Monet?", ""),  # one paper asked for: not a set question's lead
    ],
)
def test_set_predicate_keeps_the_questions_own_words(question, predicate):
    assert set_predicate(question) == predicate


@pytest.mark.parametrize(
    ("question", "topic"),
    [
        ("Which papers here study MoE models", "MoE models"),
        ("Give me papers on graph neural networks for molecules", "graph neural networks for molecules"),
        ("what papers are there on video object segmentation", "video object segmentation"),
        ("What work is there on vector symbolic architectures", "vector symbolic architectures"),
        ("list the papers about hyperbolic embeddings", "hyperbolic embeddings"),
        ("which papers do you have on speech", "speech"),  # was "do you have on speech"
    ],
)
def test_set_topic_is_what_the_papers_should_be_about(question, topic):
    """ "Give me papers on ..." had no topic (the lead read "Five papers in the collection answer this:"), and
    "papers are there on ..." kept "there on"."""
    assert set_topic(question) == topic


@pytest.mark.parametrize(
    "question",
    ["Explain how SPLADE works in simple terms", "Describe how Monet works?", "tell me how MoTE works in detail"],
)
def test_works_as_a_verb_is_no_set_question(question):
    """ "... SPLADE works in ..." read "works in" as "papers in": a set answer led "One paper ... answers this"."""
    assert classify(question).form != "set"
