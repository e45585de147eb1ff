"""A set question's topic (rag.question.topic): the bare phrase its papers must be about, and its alternatives."""

from __future__ import annotations

import pytest

from rag.question.topic import (
    ACROSS_RULES,
    TOPIC_RULES,
    across_topic,
    coordinations,
    raw_topic,
    strip_topic_lead,
    topic_of,
)


@pytest.mark.parametrize(
    ("question", "text", "alternatives"),
    [
        # "which papers are about X"
        ("Which papers are about task vectors or function vectors?", "task vectors or function vectors",
         ("task vectors", "function vectors")),
        ("What papers in the collection are about recommender systems?", "recommender systems",
         ("recommender systems",)),
        # "which papers <verb> X": the asking verbs go, a chain of them too
        ("Which papers propose or use a mixture-of-experts model?", "mixture-of-experts model",
         ("mixture-of-experts model",)),
        ("Which papers train, fine-tune or probe pre-trained language models of source code?",
         "pre-trained language models of source code", ("pre-trained language models of source code",)),
        ("Which papers automate neural architecture search or AutoML?", "neural architecture search or AutoML",
         ("neural architecture search", "AutoML")),
        # "list the papers on X", "any work on X", "are there papers on X", "what do we have on X"
        ("list every paper on class-incremental learning", "class-incremental learning",
         ("class-incremental learning",)),
        ("any work on self-supervised representation learning for chest radiographs?",
         "self-supervised representation learning for chest radiographs",
         ("self-supervised representation learning for chest radiographs",)),
        ("Are there papers on vector symbolic architectures / hyperdimensional computing?",
         "vector symbolic architectures / hyperdimensional computing",
         ("vector symbolic architectures", "hyperdimensional computing")),
        ("what do we have on self-supervised speech representations?", "self-supervised speech representations",
         ("self-supervised speech representations",)),
        # a parenthesised acronym or list names the topic too; a gloss or relative clause is cut from the core
        ("Which papers use low-rank adaptation (LoRA) modules?", "low-rank adaptation (LoRA) modules",
         ("low-rank adaptation modules", "LoRA", "low-rank adaptation")),
        ("Which papers do referring expression segmentation, i.e. segment the object that a sentence describes?",
         "referring expression segmentation, i.e. segment the object that a sentence describes",
         ("referring expression segmentation",)),
        ("Which papers design image tokenizers that turn images into tokens for generation?",
         "image tokenizers that turn images into tokens for generation", ("image tokenizers",)),
        # "a new kind of X", "X itself"
        ("Which papers propose a new kind of positional encoding?", "positional encoding", ("positional encoding",)),
        ("Which papers propose a new way to train or build the sparse autoencoder itself?",
         "sparse autoencoder itself", ("sparse autoencoder",)),
        # a common acronym alone counts in its long form as well
        ("Which papers here study MoE models?", "MoE models", ("MoE models", "mixture of experts")),
        # a one-word core keeps its clause: "networks" alone names no topic
        ("Which papers build networks that take other neural networks' weights as their input?",
         "networks that take other neural networks' weights as their input",
         ("networks that take other neural networks' weights as their input",)),
        # the other leads the form table reads as a set question
        ("what does the collection have on abstract visual reasoning and visual puzzles?",
         "abstract visual reasoning and visual puzzles", ("abstract visual reasoning and visual puzzles",)),
        ("papers involving robots?", "robots", ("robots",)),
        ("video object segmentation papers?", "video object segmentation papers", ("video object segmentation",)),
        # a lead set_topic does not read: the words after "papers on"
        ("papers on decoding algorithms for text generation such as beam search?",
         "decoding algorithms for text generation such as beam search", ("decoding algorithms for text generation",)),
    ],
)  # fmt: skip
def test_topic_of_each_phrasing(question, text, alternatives):
    topic = topic_of(question)
    assert topic.text == text
    assert topic.alternatives == alternatives


def test_every_topic_rule_is_needed_by_its_own_example():
    for rule in TOPIC_RULES:
        raw = raw_topic(rule.example)
        without = [other for other in TOPIC_RULES if other is not rule]
        assert strip_topic_lead(raw) != strip_topic_lead(raw, without), rule.name


def test_a_bare_topic_is_left_alone():
    assert strip_topic_lead("sparse autoencoders") == "sparse autoencoders"
    assert strip_topic_lead("diffusion models and representation learning") == (
        "diffusion models and representation learning"
    )


@pytest.mark.parametrize(
    ("phrase", "readings"),
    [
        # a coordination inside a tail shares the words before it
        ("node embeddings for networks or hypergraphs",
         ["node embeddings for networks", "node embeddings for hypergraphs"]),
        # a singular word or adjective before "or" modifies the next conjunct's head
        ("representing or organising scientific papers",
         ["representing scientific papers", "organising scientific papers"]),
        ("sparse, chunked or memory-efficient attention",
         ["sparse attention", "chunked attention", "memory-efficient attention"]),
        # a plural noun is a conjunct of its own; the tail after the last conjunct is shared
        ("getting transformers or seq2seq models to generalise to longer inputs",
         ["getting transformers to generalise to longer inputs", "seq2seq models to generalise to longer inputs"]),
        # two coordinations: every reading
        ("quaternions or other hypercomplex numbers in neural networks or embeddings",
         ["quaternions in neural networks", "quaternions in embeddings",
          "other hypercomplex numbers in neural networks", "other hypercomplex numbers in embeddings"]),
        # a comma that opens a purpose clause ends the coordination before it
        ("invariant across training environments or domains, to generalise out of distribution",
         ["invariant across training environments to generalise out of distribution",
          "invariant across domains to generalise out of distribution"]),
        # whole noun phrases and names stay as they are
        ("neural architecture search or AutoML", ["neural architecture search", "AutoML"]),
        ("vector symbolic architectures / hyperdimensional computing",
         ["vector symbolic architectures", "hyperdimensional computing"]),
        ("sparse autoencoders", ["sparse autoencoders"]),
    ],
)  # fmt: skip
def test_coordinations_keep_every_reading_whole(phrase, readings):
    assert coordinations(phrase) == readings


def test_no_alternative_is_a_fragment_every_paper_matches():
    """Splitting at each bare "or" had made "embeddings" and "neural networks" alternatives of their own."""
    alternatives = topic_of(
        "Which papers use quaternions or other hypercomplex numbers in neural networks or embeddings?"
    )
    assert "embeddings" not in alternatives.alternatives
    assert "quaternions in neural networks" in alternatives.alternatives
    # "(not knowledge graphs)" says what the topic is not; "(or source tasks)" is an alternative without its "or"
    assert topic_of(
        "which papers learn node embeddings for networks or hypergraphs (not knowledge graphs)?"
    ).alternatives == (
        "node embeddings for networks",
        "node embeddings for hypergraphs",
    )
    assert (
        "source tasks"
        in topic_of("Which papers are about choosing which training data (or source tasks) to use?").alternatives
    )


@pytest.mark.parametrize(
    ("question", "text"),
    [
        # where to look and the aspect asked go; the topic stays, before the verb or after it
        ("What are the limitations of sparse autoencoders according to the papers here?", "sparse autoencoders"),
        ("What limitations of mixture-of-experts models do the papers mention?", "mixture-of-experts models"),
        ("How do the papers here train sparse autoencoders?", "sparse autoencoders"),
        ("What datasets do the papers on recommender systems use?", "recommender systems"),
        ("What results do papers on image tokenizers report?", "image tokenizers"),
        ("how do the papers in the collection evaluate image tokenizers", "image tokenizers"),
        ("across the papers, what benchmarks are used for referring expression segmentation?",
         "referring expression segmentation"),
        ("How well do the papers on self-supervised speech models perform?", "self-supervised speech models"),
        ("What problems with graph neural networks do the studies in the collection identify?",
         "graph neural networks"),
    ],
)  # fmt: skip
def test_across_topic_keeps_the_topic_alone(question, text):
    assert across_topic(question).text == text


def test_every_across_rule_is_needed_by_its_own_example():
    for rule in ACROSS_RULES:
        without = [other for other in ACROSS_RULES if other is not rule]
        assert across_topic(rule.example) != across_topic(rule.example, without), rule.name


def test_an_across_rule_never_leaves_the_topic_empty():
    assert across_topic("What do the papers here report?").text  # nothing but where and what: kept whole
