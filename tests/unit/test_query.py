"""Question reading (rag.question): the tidy rules, boilerplate, acronyms, typos and paper names (no index needed)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from rag.question import (
    TIDY_RULES,
    CorpusNames,
    QueryAnalyzer,
    discusses,
    mine_acronyms,
    plain_question,
    strip_boilerplate,
    title_names,
)
from rag.question.tidy import still_asks


def make_analyzer(
    abstracts: dict[str, str],
    titles: dict[str, str],
    vocabulary: dict[str, int],
    stop_words: frozenset[str] = frozenset(),
    known_names: frozenset[str] = frozenset(),
    common_words: frozenset[str] = frozenset(),
) -> QueryAnalyzer:
    """An analyser over a few papers (the retriever builds one over the index the same way)."""
    return QueryAnalyzer(CorpusNames.build(abstracts, titles, vocabulary, stop_words), known_names, common_words)


@pytest.mark.parametrize(
    ("question", "stripped"),
    [
        ("Which paper proposes pointer networks for convex hulls?", "pointer networks for convex hulls"),
        ("What does the SoFar paper propose?", "SoFar"),
        ("Tell me about SoFar.", "SoFar"),
        ("Hi, can you tell me about HYPO?", "HYPO"),
        ("Is there any work in here on diffusion for robots?", "diffusion for robots"),
        ("I'm looking for a paper that compresses KV caches", "compresses KV caches"),
        ("How does MIGA-Conv do on CSI300?", "How does MIGA-Conv do on CSI300"),
        ("Which paper?", "Which paper?"),  # nothing would be left: keep the question
        ("Which papers use BERT?", "BERT"),  # "papers" whole, not "paper" and a stray "s"
        ("thanks! what about graph neural networks distilled into MLPs?", "graph neural networks distilled into MLPs"),
        ("Which works cover reinforcement learning?", "reinforcement learning"),
        ("Which paper introduced capsule networks?", "capsule networks"),  # a past tense verb, not "d ..."
        ("What papers study model merging?", "model merging"),
    ],
)
def test_strip_boilerplate(question, stripped):
    assert strip_boilerplate(question) == stripped


def test_mine_acronyms_reads_long_forms_defined_in_abstracts():
    found = mine_acronyms(
        [
            "Large Language Models (LLMs) are used. We study self-supervised learning (SSL) here.",
            "An Alternating Denoising Diffusion Process (ADDP) integrates both.",
            "Some text (CSI300) with no long form before it.",
        ]
    )
    assert found["llm"] == "large language models"
    assert found["ssl"] == "self-supervised learning"
    assert found["addp"] == "alternating denoising diffusion process"
    assert "csi300" not in found


def test_a_name_that_is_one_papers_own_names_that_paper_not_a_sequel_carrying_it():
    names = title_names(
        {
            "v1": "SPLADE: Sparse Lexical and Expansion Model for First Stage Ranking",
            "v2": "SPLADE v2: Sparse Lexical and Expansion Model for Information Retrieval",
            "x": "Beyond SPLADE-style Sparsity",  # no paper's own name: a word of both
        }
    )
    assert names["splade"] == ["v1"]
    assert names["splade v2"] == ["v2"]


def test_title_names_come_out_in_the_same_order_whatever_the_hash_seed():
    """The names' order decides the order of `Query.named`; a set's order changed with PYTHONHASHSEED."""
    script = (
        "import json; from rag.question import title_names; "
        "print(json.dumps(list(title_names({'a': 'SPLADE v2: Sparse Lexical MM-Lego HYPO SoFar ResNeXt-V2', "
        "'b': 'SoFar: Language-Grounded HYPO'}).items())))"
    )
    root = Path(__file__).resolve().parents[2]
    runs = {
        subprocess.run(
            [sys.executable, "-c", script],
            env={**os.environ, "PYTHONHASHSEED": seed, "PYTHONPATH": str(root)},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for seed in ("1", "2", "3", "4")
    }
    assert len(runs) == 1, runs


def test_title_names_keep_coined_words_and_drop_shared_ones():
    names = title_names(
        {
            "a": "SoFar: Language-Grounded Orientation Bridges Spatial Reasoning",
            "b": "HYPO: Hyperspherical Out-of-Distribution Generalization",
            "c": "Pointer Networks",
            "d": "Memory-Efficient Attention for LLMs",
            "e": "Scaling LLMs with Memory-Efficient Tricks",
        }
    )
    assert names["sofar"] == ["a"]
    assert names["hypo"] == ["b"]
    assert names["pointer networks"] == ["c"]
    assert "memory-efficient" not in names
    assert "llms" not in names
    assert names["memory-efficient attention for llms"] == ["d"]  # a whole title, typed out or quoted


@pytest.fixture(scope="module")
def analyzer() -> QueryAnalyzer:
    abstracts = ["We learn to solve the Travelling Salesman Problem and convex hulls with attention over inputs."]
    vocabulary = {"travelling": 1, "salesman": 1, "problem": 3, "convex": 1, "hulls": 1, "attention": 9, "diffusion": 4}
    return make_analyzer(
        {"p1": abstracts[0], "p3": "We introduce LieGAN, which learns symmetries."},
        {"p1": "Pointer Networks", "p2": "HYPO: Hyperspherical OOD", "p3": "Generative Adversarial Symmetry Discovery"},
        vocabulary,
    )


def test_acronym_expands_to_the_long_form(analyzer):
    query = analyzer.analyze("Which paper tackles TSP with neural nets?")
    assert "travelling salesman problem" in query.expansions
    assert "travelling salesman problem" in query.lexical_text


def test_long_form_gains_its_acronym(analyzer):
    assert "kd" in analyzer.analyze("work on knowledge distillation for small models").expansions


def test_typo_is_repaired_to_a_corpus_word(analyzer):
    assert "diffusion" in analyzer.analyze("wich paper uses difusion models").expansions
    assert analyzer.analyze("boiling point of water on everest").expansions == []


def test_named_paper_is_spotted_case_insensitively(analyzer):
    assert analyzer.analyze("what is hypo?").named == ["p2"]
    assert analyzer.analyze("explain pointer networks").named == ["p1"]
    assert analyzer.analyze("what is a hypothesis?").named == []


def test_a_name_an_abstract_gives_in_so_many_words_is_its_name_whatever_it_looks_like():
    from rag.question.names import dubbed_names

    names = dubbed_names(
        {
            "siren": "We propose periodic activations; these networks, dubbed sinusoidal representation networks or "
            "Sirens, fit signals.",
            "nugget": "We propose a solution called Nugget, which encodes language.",
            "sesa": "We propose a model called Supervised Explicit Semantic Analysis (SESA).",  # several capitals
            "slots": "Objects are bound to representations called slots.",  # no capital: a word, not a name
        }
    )
    assert names == {"sirens": ["siren"], "siren": ["siren"], "nugget": ["nugget"]}


def test_a_paper_goes_by_a_rare_word_it_uses_alone_or_as_the_head_of_its_own_names():
    from rag.question.names import goes_by

    othello = "We analyze OthelloGPT, a GPT-based model trained on Othello gameplay. OthelloGPT learns layer by layer."
    assert goes_by(othello, "othello")  # "Othello" once, heading "OthelloGPT" twice
    assert goes_by("An Othello-playing network. Othello boards.", "othello")
    assert not goes_by("... as well as all Capsule Network proposals.", "capsule network")  # in passing
    assert not goes_by("We study Othellos once.", "othel")  # no head of a word that goes on in lower case


def test_a_title_name_inside_a_longer_one_the_question_uses_names_nothing():
    """ "Matryoshka representation learning" named "Representation Learning: A Review ..." too, by its head."""
    analyzer = make_analyzer(
        {"mrl": "We learn nested embeddings.", "rev": "We review the field."},
        {"mrl": "Matryoshka Representation Learning", "rev": "Representation Learning: A Review and New Perspectives"},
        {"nested": 1, "embeddings": 3, "review": 2, "field": 5},
    )
    assert analyzer.analyze("How does Matryoshka representation learning work?").named == ["mrl"]
    both = analyzer.analyze("compare representation learning with matryoshka representation learning").named
    assert sorted(both) == ["mrl", "rev"]  # named apart as well: both
    assert analyzer.analyze("a review of representation learning").named == ["rev"]


def test_switches_turn_stripping_and_expansion_off(analyzer):
    query = analyzer.analyze("Which paper tackles TSP?", strip=False, expand=False)
    assert query.text == "Which paper tackles TSP?"
    assert query.expansions == []


def test_a_name_coined_in_an_abstract_is_spotted(analyzer):
    query = analyzer.analyze("Tell me about LieGAN.")
    assert query.named_in_abstract == ["p3"]
    assert query.named == []


@pytest.mark.parametrize(
    ("question", "only_name"),
    [
        ("What is HYPO?", ["p2"]),
        ("what does LieGAN do", ["p3"]),  # coined in the abstract, not the title
        ("How well does HYPO work?", ["p2"]),
        ("How does HYPO do on PACS and VLCS?", []),  # asks about more than the name
        ("What is MobileNet?", []),  # a name no paper goes by
        ("How well does Pointer Networks work?", ["p1"]),  # a two-word title name
        ("How do Pointer Networks handle convex hulls?", []),
    ],
)
def test_a_question_asking_only_about_a_name_is_marked(analyzer, question, only_name):
    assert analyzer.analyze(question).only_name == only_name


@pytest.mark.parametrize(
    ("question", "asked"),
    [
        ("Explain DARTS, the continuous relaxation for architecture search.", ["darts"]),
        ("what is Deep Sets", ["deep sets"]),
        ("What is the Swin Transformer?", ["swin transformer"]),
        ("Tell me about SoFar.", ["sofar"]),
        ("What is a hypothesis?", []),  # no name
        ("How do TSPs get solved by pointer networks?", []),  # an acronym the abstracts spell out
    ],
)
def test_a_question_about_one_named_thing_asks_for_it_by_name(analyzer, question, asked):
    assert analyzer.analyze(question).asked_names == asked


def test_an_ordinary_capitalised_word_is_not_asked_for_by_name() -> None:
    analyzer = make_analyzer({"p1": "Transformers learn."}, {"p1": "On Transformers"}, {"transformers": 40})
    assert analyzer.analyze("How do Transformers learn in context?").asked_names == []
    assert analyzer.analyze("What is Mamba?").asked_names == ["mamba"]


def test_a_coined_name_typed_in_lower_case_is_spotted(analyzer):
    assert analyzer.analyze("what does liegan do").only_name == ["p3"]  # "liegan" is in no chunk's vocabulary


@pytest.mark.parametrize(("chunks_using_it", "named"), [(2, ["p1"]), (9, [])])
def test_a_lower_case_word_names_a_paper_only_when_rare(chunks_using_it, named):
    """ "diffusion" in lower case is the everyday word unless few chunks use it."""
    abstracts = {"p1": "We propose DiffUsion, a diffusion model. DiffUsion is fast."}
    analyzer = make_analyzer(abstracts, {"p1": "Fast Models"}, {"diffusion": chunks_using_it})
    assert analyzer.analyze("how does diffusion work").named_in_abstract == named


@pytest.mark.parametrize(
    ("question", "topic"),
    [
        ("What is capsule networks?", "capsule networks"),
        ("explain layer normalization", "layer normalization"),
        ("What is neural ODE?", "neural ODE"),
        ("How does the constrained clustering part work?", "constrained clustering"),
        ("Which paper introduced matching networks?", "matching networks"),
        ("What is HYPO?", ""),  # a name: asked for by name instead
        ("What is the best way to cluster images without labels?", ""),  # more than a topic
        ("Tell me about the Othello paper", ""),  # "the" is no lower-case topic (it read "the Othello paper")
    ],
)
def test_a_short_question_about_one_topic_names_it(analyzer, question, topic):
    assert analyzer.analyze(question).asked_topic == topic


def test_a_paper_discusses_a_topic_in_its_title_or_more_than_in_passing():
    passing = "We outperform all previous equivariant models as well as all Capsule Network proposals."
    assert not discusses("Lie Group Decompositions", passing, "capsule networks")
    assert discusses("Dynamic Routing Between Capsule Networks", passing, "capsule networks")
    assert discusses("Routing", "Capsule networks route. A capsule network votes.", "capsule networks")
    assert discusses("Routing", "We propose a capsule network that routes by agreement.", "capsule networks")
    abbreviates = "Maximum inner product search (MIPS) is costly. We cut MIPS latency."
    assert discusses("Fixed Dimensional Encodings", abbreviates, "maximum inner product search")


def test_a_misspelt_name_is_searched_as_the_name(analyzer):
    query = analyzer.analyze("what is LeiGAN?")
    assert query.spelled == {"LeiGAN": "liegan"}
    assert query.named_in_abstract == ["p3"]
    assert query.question == "what is LeiGAN?"  # as typed


def test_words_that_are_not_misspelt_names_stay_as_typed(analyzer):
    assert analyzer.analyze("wich paper uses difusion models").spelled == {}  # no English words: nothing mended
    assert analyzer.analyze("what is GPT-3?").spelled == {}  # letters only
    papers = ({"p3": "We introduce LieGAN. LieGAN learns."}, {"p3": "Symmetry"}, {})
    famous = make_analyzer(*papers, known_names=frozenset({"leigan"}))  # a famous name outside: no typo
    assert famous.analyze("what is LeiGAN?").spelled == {}
    english = make_analyzer(*papers, common_words=frozenset({"leigan"}))  # an everyday English word: no typo
    assert english.analyze("what is LeiGAN?").spelled == {}


@pytest.fixture
def typist() -> QueryAnalyzer:
    """An analyzer that knows which words are English (as the retriever sets from the embedder)."""
    vocabulary = {"reasoning": 9, "clustering": 12, "embed": 8, "embedding": 20, "defects": 7, "training": 30}
    vocabulary |= {"retaining": 7, "liegan": 2}
    english = frozenset({"reasoning", "embed", "detect", "training", "retaining", "the", "how"})
    return make_analyzer(
        {"p3": "We introduce LieGAN. LieGAN learns."}, {"p3": "Symmetry"}, vocabulary, common_words=english
    )


@pytest.mark.parametrize(
    ("question", "spelled"),
    [
        ("how does Coconut reasoinng work", {"reasoinng": "reasoning"}),  # swapped letters
        ("explainable clustring of x-rays", {"clustring": "clustering"}),  # a dropped letter
        ("boxes in embeding space", {"embeding": "embedding"}),  # embed's, and into embed's word
        ("it sortts", {}),  # shorter than MIN_TYPO_WORD letters
        ("a probe that detects it", {}),  # detect's: an inflection, not a typo of "defects"
        ("after retraining", {}),  # training's, not a typo of "retaining"
        ("Reasoning about REASOINNG", {}),  # capitals: a name's business (misspelt_names)
        ("what is LeiGAN?", {"LeiGAN": "liegan"}),  # a name, mended as a name
    ],
)
def test_a_slip_of_the_keys_in_an_everyday_word_is_mended(typist, question, spelled):
    assert typist.analyze(question).spelled == spelled


def test_only_slips_of_the_keys_count_as_typos():
    from rag.question.spelling import slip_of_the_keys as _slip_of_the_keys

    assert _slip_of_the_keys("reasoinng", "reasoning")  # swapped
    assert _slip_of_the_keys("efficent", "efficient")  # dropped
    assert _slip_of_the_keys("sortting", "sorting")  # doubled
    assert _slip_of_the_keys("protwin", "protein")  # w is beside e
    assert not _slip_of_the_keys("parses", "passes")  # r is far from s
    assert not _slip_of_the_keys("refusals", "refusal")  # another ending
    assert not _slip_of_the_keys("retraining", "pretraining")  # another beginning


def test_a_lower_case_description_of_a_paper_is_no_name():
    from rag.question.names import describes as _describes

    assert _describes("multi-hop query")  # "the multi-hop query paper"
    assert not _describes("BERT") and not _describes("word2vec") and not _describes("dropout")
    assert not _describes("original GAN")


@pytest.mark.parametrize(
    ("typed", "plain"),
    [
        ("explain ReACC Thanks!", "explain ReACC"),
        ("What is FACT? Thanks!", "What is FACT?"),
        ("please explain SoFar, please", "explain SoFar"),
        ("hey, what is capsule networks? 🙏", "what is capsule networks?"),  # greeting and emoji
        ("Could you tell me what is SoFar?", "what is SoFar?"),  # asks "what is SoFar?"
        ("What is 'capsule networks'?", "What is capsule networks?"),  # scare quotes
        ("What did the 'dark knowledge' paper say?", "What did the 'dark knowledge' paper say?"),  # a name
        ("I need a paper about this: What is Du-IN?", "What is Du-IN?"),
        ("In the SoFar paper: what is new?", "In the SoFar paper: what is new?"),  # the lead names a paper
        ("How Does Meru Compare to Clip?", "how does meru compare to clip?"),  # Title Case
        ("How Does MERU Compare With CLIP Here?", "how does MERU compare with CLIP here?"),  # MERU keeps its capitals
        ("Which paper introduced Progressive GAN?", "Which paper introduced Progressive GAN?"),  # a sentence
        ("Thanks", "Thanks"),  # nothing else: left as typed
        ("What is FACT, compared with BERT?", "What is FACT?"),  # a reference point at the end
        ("**What is HYPO?**", "What is HYPO?"),  # markdown around the question
        ('"What is HYPO?"', "What is HYPO?"),  # quotes around the question
        ("WHAT IS HYPO AND HOW DOES IT WORK?", "what is hypo and how does it work?"),  # shouted
        ("How does BERT compare to ELMo?", "How does BERT compare to ELMo?"),  # the comparison is the ask
        ("I'm a PhD student working on my thesis. What is FACT?", "What is FACT?"),  # about the asker
        ("We are students. My question: which index is fastest?", "My question: which index is fastest?"),
        ("We use BERT. Which index is fastest?", "We use BERT. Which index is fastest?"),  # BERT is context
        ("I'm new here.", "I'm new here."),  # nothing else
        ("I'm stuck on SoFar. What does it do?", "I'm stuck on SoFar. What does it do?"),  # names the paper
        ("Which paper proposes Diverse Beam Search?", "Which paper proposes Diverse Beam Search?"),  # 3 of 5
    ],
)
def test_a_question_is_read_without_what_asks_nothing(typed, plain):
    assert plain_question(typed) == plain


@pytest.mark.parametrize("rule", TIDY_RULES, ids=[rule.name for rule in TIDY_RULES])
def test_each_tidy_rule_does_what_its_example_says(rule):
    typed, tidied = rule.example
    assert rule.apply(typed) == tidied
    assert plain_question(typed) == tidied


@pytest.mark.parametrize("rule", TIDY_RULES, ids=[rule.name for rule in TIDY_RULES])
def test_without_a_tidy_rule_its_example_is_left_as_typed(rule):
    """No other rule does a rule's job: skipping it (as a sweep measuring one rule does) keeps its example."""
    typed, tidied = rule.example
    assert plain_question(typed, skip={rule.name}) != tidied


def test_tidy_rules_have_distinct_names():
    assert len({rule.name for rule in TIDY_RULES}) == len(TIDY_RULES)


@pytest.mark.parametrize(
    ("rule", "tidied", "kept"),
    [
        ("drop_greeting", "SoFar", True),  # a cut at the front may leave a lone name ("hey SoFar")
        ("drop_trailing_symbols", "", False),  # nothing left ("🙏")
        ("drop_reference_point", "BERT?", False),  # "BERT vs GPT": the comparison is the ask
        ("drop_pleasantries", "what", False),  # "what please"
        ("drop_pleasantries", "what is X", True),  # "what is X, thanks"
    ],
)
def test_one_guard_keeps_a_rule_from_leaving_no_question(rule, tidied, kept):
    assert still_asks(next(r for r in TIDY_RULES if r.name == rule), tidied) is kept


def test_an_analyzer_can_leave_a_tidy_rule_out(analyzer):
    names = analyzer.names
    assert "Thanks" not in analyzer.analyze("What is HYPO? Thanks!").text
    without = QueryAnalyzer(names, skip_rules=frozenset({"drop_pleasantries"}))
    assert "Thanks" in without.analyze("What is HYPO? Thanks!").text
    assert without.analyze("What is HYPO? Thanks!").plain == "What is HYPO? Thanks!"  # `Query.plain` as read
    with pytest.raises(ValueError, match="no tidy rule"):
        QueryAnalyzer(names, skip_rules=frozenset({"drop_everything"}))


def test_the_query_holds_the_question_as_tidied_for_the_refusal_to_read(analyzer):
    """`Query.plain` is `plain_question` of what was typed (the refusal's comparison override reads it, not a second
    tidying); the search text (respelt, boilerplate stripped) is `Query.text`."""
    typed = "Hey, how does HYPO compare with Pointer Networks? Thanks!"
    query = analyzer.analyze(typed)
    assert query.question == typed
    assert query.plain == plain_question(typed) == "how does HYPO compare with Pointer Networks?"


def test_a_question_is_matched_only_against_the_names_it_contains(monkeypatch):
    """At 10x the seeds a question's words start ~150 title names; compiling a pattern for each
    (re's cache holds 512) cost 20-50 ms a question. Only names the question contains get one."""
    import rag.question.names as names_module

    titles = {f"p{i}": f"Learning sparse codes {i} ways" for i in range(2000)}
    titles["hypo"] = "HYPO: Hyperspherical OOD"
    reader = make_analyzer({}, titles, {"learning": 50})
    compiled: list[str] = []
    real = names_module.whole_token

    def counting(text: str, plural: bool = False, flags: int = 0):
        compiled.append(text)
        return real(text, plural, flags)

    monkeypatch.setattr(names_module, "whole_token", counting)
    assert reader.analyze("learning sparse codes 17 ways").named == ["p17"]
    assert reader.analyze("learning about hypo").named == ["hypo"]
    assert reader.analyze("learning sparse codes 17 waysides").named == []
    assert len(compiled) <= 10, compiled


@pytest.mark.parametrize(
    ("text", "name", "found"),
    [
        ("we fine-tune bert here", "bert", True),
        ("two berts", "bert", True),
        ("palbert is small", "bert", False),
        ("bert-style encoders", "bert", False),
        ("BERT", "bert", False),  # case-sensitive: callers lower-case both sides
        ("", "bert", False),
    ],
)
def test_contains_token_matches_whole_tokens_only(text, name, found):
    from rag.question import contains_token

    assert contains_token(text, name) is found
