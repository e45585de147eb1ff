"""Follow-up questions: offline resolution, the pipeline's history path, and conversation evaluation."""

from __future__ import annotations

import json
import time

import pytest

from rag.conversation import (
    FOLLOW_UP_RULES,
    OWN_TOPIC_RULES,
    AloneSearch,
    Turn,
    as_turns,
    common_in,
    own_topic,
    own_words,
    refers_back,
    resolve,
    topic_words,
)
from rag.models import Answer, Citation, Paper, Source
from rag.question.common_words import CorpusWords, lemma

MEMTREE = "From Isolated Conversations to Hierarchical Schemas: Dynamic Tree Memory Representation for LLMs"
HISTORY = [Turn(question="Which paper organises memory as a tree?", cited_paper_ids=["p1"], cited_titles=[MEMTREE])]


@pytest.mark.parametrize(
    "message",
    [
        "What benchmarks was it evaluated on?",
        "and the dataset?",
        "What did the authors compare against?",
        "compare it with pointer networks",
        "How does that paper store old conversations?",
    ],
)
def test_follow_ups_keep_the_last_cited_paper(message):
    resolution = resolve(message, HISTORY)
    assert resolution.follow_up
    assert resolution.carried == ["p1"]
    assert MEMTREE in resolution.standalone_question


@pytest.mark.parametrize(
    ("message", "searched"),
    [
        ("Separately, what is HYPO?", "what is HYPO?"),
        ("Another question: which paper proposes pointer networks?", "which paper proposes pointer networks?"),
        ("Which paper proposes pointer networks?", "Which paper proposes pointer networks?"),
    ],
)
def test_new_topics_search_afresh(message, searched):
    resolution = resolve(message, HISTORY)
    assert not resolution.follow_up
    assert resolution.carried == []
    assert resolution.standalone_question == searched


REPCONC = "Learning Discrete Representations via Constrained Clustering for Effective and Efficient Dense Retrieval"
REPCONC_TURN = Turn(
    question="Is there a dense retrieval model that learns discrete document codes through constrained clustering?",
    cited_paper_ids=["repconc"],
    cited_titles=[REPCONC],
)


@pytest.mark.parametrize("rule", FOLLOW_UP_RULES, ids=[rule.name for rule in FOLLOW_UP_RULES])
def test_every_follow_up_rule_takes_its_own_example(rule):
    title, message = rule.example
    assert rule.refers(message, [(title, "")]) == 0
    assert refers_back(message, [(title, "")]) is not None
    if rule.name == "names_a_part":  # the one row that reads the papers: another paper's title does not do
        assert rule.refers(message, [("Pointer Networks", "We introduce a new neural architecture.")]) is None
    assert len({r.name for r in FOLLOW_UP_RULES}) == len(FOLLOW_UP_RULES)


@pytest.mark.parametrize(
    "message",
    [
        "How does the constrained clustering part work?",  # the question (conversations_test cv-023)
        "What is the dense retrieval step?",
        "How does that constrained clustering work?",
        "how does the constrained-clustering module work",
        "What does this clustering do?",
    ],
)
def test_a_definite_phrase_of_the_last_cited_paper_refers_back(message):
    resolution = resolve(message, [REPCONC_TURN])
    assert resolution.follow_up, message
    assert resolution.carried == ["repconc"]
    assert resolution.standalone_question == f"{message} ({REPCONC})"


@pytest.mark.parametrize(
    "message",
    [
        "Is there a paper that improves the constrained clustering step?",  # asks for a paper of its own
        "Which work applies the constrained clustering idea to graphs?",
        "What did Google's Imagen paper find about scaling the frozen T5 text encoder versus the diffusion model?",
        "How does the diffusion model generate images?",  # a phrase the paper does not hold
        "Which method builds a graph that clusters documents?",  # "that" opening a clause, not a reference
        "What is the retrieval of Pointer Networks?",  # one word after a bare "the" names no part
    ],
)
def test_a_message_with_a_topic_of_its_own_is_not_glued_to_the_last_paper(message):
    resolution = resolve(message, [REPCONC_TURN])
    assert not resolution.follow_up, message
    assert resolution.carried == []
    assert resolution.standalone_question == message


def test_a_named_part_can_point_at_a_shown_paper_that_was_not_cited():
    cited = Paper(id="a", title="Pointer Networks", abstract="We introduce a new neural architecture.")
    shown = Paper(id="b", title="Deep Sets", abstract="We design a permutation invariant sum decomposition for sets.")
    answer = Answer(
        question="Which papers model sets and sequences?",
        text="We introduce a new neural architecture [1].",
        citations=[Citation(n=1, paper_id="a", title=cited.title, quote="We introduce a new neural architecture")],
        sources=[Source(n=1, paper=cited, chunks=[], score=1.0), Source(n=2, paper=shown, chunks=[], score=0.5)],
    )
    resolution = resolve("How does the sum decomposition step work?", [(answer.question, answer)])
    assert resolution.follow_up
    assert resolution.carried == ["b", "a"]  # the paper the phrase is of, then the cited one
    assert resolution.standalone_question.endswith("(Deep Sets)")


def test_no_history_or_a_refused_last_turn_carries_nothing():
    assert not resolve("What benchmarks was it evaluated on?", None).follow_up
    refused = [Turn(question="What is PaLM-E?")]
    assert resolve("what about it?", refused).carried == []


def test_history_accepts_pairs_dicts_and_turns():
    turns = as_turns([("q1", None), {"question": "q2", "cited_paper_ids": ["a"], "cited_titles": ["A"]}, HISTORY[0]])
    assert [t.question for t in turns] == ["q1", "q2", HISTORY[0].question]
    with pytest.raises(TypeError):
        as_turns([42])


def test_resolving_offline_costs_well_under_10_ms():
    started = time.perf_counter()
    for _ in range(1000):
        resolve("What benchmarks was it evaluated on?", HISTORY)
    assert (time.perf_counter() - started) / 1000 < 0.010


POINTER = ("Pointer Networks", "A neural architecture that learns the conditional probability of an output sequence.")


@pytest.mark.parametrize("rule", OWN_TOPIC_RULES, ids=[rule.name for rule in OWN_TOPIC_RULES])
def test_every_own_topic_rule_takes_its_own_example(rule):
    title, text, message, alone = rule.example
    assert refers_back(message, [(title, text)]) is not None  # the wording alone reads it as a follow-up
    assert rule.applies(own_words(message), alone, (title, text), frozenset({"pointer"}))
    assert own_topic(message, alone, (title, text), ["pointer"]) == rule.name
    resolution = resolve(message, [Turn(question="q", cited_paper_ids=["pointer"], cited_titles=[title])],
                         search=lambda _: alone, text_of=lambda _: text)  # fmt: skip
    assert not resolution.follow_up and resolution.carried == [] and resolution.read_as == rule.name
    assert len({r.name for r in OWN_TOPIC_RULES}) == len(OWN_TOPIC_RULES)


FARM = AloneSearch(True, "farm", "FARM: Functional Group-Aware Representations for Small Molecules",
                   "FARM represents molecules with functional-group-aware tokens.")  # fmt: skip


@pytest.mark.parametrize(
    ("message", "alone", "why"),
    [
        ("How did the best model do compared with people on it?", AloneSearch(False), "refused, two words"),
        ("How do FARM and SELFormer differ in how they represent molecules?", FARM, "shown"),  # found the shown paper
        ("What output sequences did they evaluate it on?", FARM, "its words are the carried paper's"),
        ("How does it compare with FARM on molecules?", FARM, "the pronoun comes first: the paper under discussion"),
        ("And how does FARM's approach differ?", FARM, "one word of its own: a comparison"),
        ("What do they propose to fix it?", AloneSearch(False), "too few words to be foreign"),
        ("Which decoding of output sequences does their neural fix cover?", AloneSearch(False), "words of the paper"),
    ],
)
def test_a_follow_up_is_not_made_fresh_without_a_topic_of_its_own(message, alone, why):
    shown = ["pointer", "farm"] if why == "shown" else ["pointer"]
    assert own_topic(message, alone, POINTER, shown) is None, why


BENCHMARK_PAPER = AloneSearch(
    True, "aro", "When and why vision-language models behave like bags-of-words",
    "We create the ARO benchmark and evaluate vision-language models on it.",
)  # fmt: skip


def test_words_most_papers_use_are_no_topic_of_the_messages_own():
    """ "What benchmarks was it evaluated on?" searched alone finds a benchmark paper, answerably under some
    profiles (gemma); its words are the collection's common stock, so it stays about the paper under discussion."""
    texts = ["We evaluate on a benchmark."] * 4 + ["A benchmark of tasks, evaluated by people."] * 2
    corpus = CorpusWords([*texts, "FARM.", "Molecules.", "Graphs.", "Tokens."])
    common = common_in(corpus)
    assert lemma("evaluated") == lemma("evaluation") == lemma("evaluate") == lemma("evaluating")
    assert corpus.share("evaluation") == corpus.share("benchmarks") == pytest.approx(0.6)
    assert common("benchmarks") and not common("farm") and corpus.share("unseen") == 0
    message = "What benchmarks was it evaluated on?"
    assert topic_words(message) == ["benchmark", "evaluated"]
    assert topic_words(message, common) == []
    assert own_topic(message, BENCHMARK_PAPER, POINTER, ["pointer"]) == "finds_its_own_paper"  # without the counts
    assert own_topic(message, BENCHMARK_PAPER, POINTER, ["pointer"], common=common) is None
    history = [Turn(question="q", cited_paper_ids=["pointer"], cited_titles=["Pointer Networks"])]
    resolution = resolve(message, history, search=lambda _: BENCHMARK_PAPER, common=common)
    assert resolution.follow_up and resolution.carried == ["pointer"]
    named = "What is FARM and which benchmarks was it evaluated on?"  # a rare word of its own: still checked
    assert topic_words(named, common) == ["farm"]


def test_the_seeds_common_words_are_counted_with_the_index(pipeline):
    """Counted with retrieval's derived state (saved in the snapshot), not on the first follow-up."""
    words = pipeline.retriever.corpus_words
    assert words.papers == len(pipeline.retriever.papers)
    common = common_in(words)
    assert common("benchmarks") and common("layers")  # shares 0.19 and 0.22 of the seeds
    assert not common("molecules") and not common("ImageNet")


def test_a_light_history_reads_the_carried_papers_abstract_through_text_of():
    """An /ask client keeps only ids and titles: the abstract comes from the index (`text_of`)."""
    history = [Turn(question="q", cited_paper_ids=["pointer"], cited_titles=["Pointer Networks"])]
    message = "Which conditional probability of an output sequence does it learn?"
    alone = AloneSearch(True, "other", "Sequence Models", "An output sequence model.")
    without = resolve(message, history, search=lambda _: alone)
    assert not without.follow_up  # the title alone shares none of its words
    kept = resolve(message, history, search=lambda _: alone, text_of=lambda _: POINTER[1])
    assert kept.follow_up and kept.read_as == "pronoun"


@pytest.mark.parametrize(
    ("message", "fresh"),
    [
        ("What is SELFormer and how does it represent molecules?", True),  # sweep: glued by "it" before
        ("Who wrote Pride and Prejudice and when was it published?", True),
        ("list the papers about hyperbolic embeddings or hyperbolic representation spaces", True),  # AMONG
        ("Which of them stores conversations as a tree, and how?", False),  # AMONG, nothing named first
        ("What benchmarks was it evaluated on?", False),
        ("How does it compare with pointer networks?", False),
    ],
)
def test_the_pipeline_searches_a_message_with_its_own_topic_afresh(pipeline, message, fresh):
    first = pipeline.ask("Which paper organises an LLM's long-term memory as a tree?")
    resolution = pipeline.resolve(message, history=[(first.question, first)])
    assert resolution.follow_up is not fresh, resolution
    assert resolve(message, [(first.question, first)]).follow_up  # the wording alone glues every one


def test_pipeline_answers_a_follow_up_from_the_first_answers_paper(pipeline):
    first = pipeline.ask("Which paper organises an LLM's long-term memory as a tree?")
    assert MEMTREE in {c.title for c in first.citations}
    assert first.standalone_question == first.question
    follow = pipeline.ask("What benchmarks was it evaluated on?", history=[(first.question, first)])
    assert not follow.refused, follow.text
    assert MEMTREE in {c.title for c in follow.citations}, follow.text
    assert "benchmark" in follow.text.lower()
    assert MEMTREE in follow.standalone_question
    alone = pipeline.ask("What benchmarks was it evaluated on?")
    assert MEMTREE not in {c.title for c in alone.citations}  # without history it cannot know


def test_rag_ask_takes_history(seeds_index):
    from rag import ask

    first = ask("Which paper organises an LLM's long-term memory as a tree?")
    follow = ask("and how does it organise new information?", history=[(first.question, first)])
    assert MEMTREE in {c.title for c in follow.citations}


def test_eval_reports_first_turns_and_follow_ups_apart(pipeline, tmp_path):
    from rag.evaluate import run

    conversations = tmp_path / "conversations.jsonl"
    lines = [
        {
            "id": "c1",
            "style": "followup_detail",
            "turns": [
                {"question": "Which paper organises an LLM's long-term memory as a tree?", "gold_titles": [MEMTREE]},
                {"question": "What benchmarks was it evaluated on?", "gold_titles": [MEMTREE], "type": "detail"},
            ],
        },
        {
            "id": "c2",
            "style": "topic_switch",
            "turns": [
                {"question": "Which paper organises an LLM's long-term memory as a tree?", "gold_titles": [MEMTREE]},
                {"question": "Separately, which paper proposes pointer networks?", "gold_titles": ["Pointer Networks"]},
            ],
        },
    ]
    conversations.write_text("".join(json.dumps(line) + "\n" for line in lines))
    report = run(conversations, tmp_path / "out", pipeline=pipeline, progress=False)
    assert set(report["by_turn"]) >= {"first", "follow_up"}
    follow = report["by_turn"]["follow_up"]
    assert follow["n"] == 2
    assert follow["hit@5"] == 1.0, follow
    assert follow["answered_with_gold"] == 1.0, follow
    assert follow["stale_citation_rate"] == 0.0, follow
    assert "First turns and follow-ups" in (tmp_path / "out" / "report.md").read_text()


def test_rag_chat_carries_the_conversation_and_new_resets_it(seeds_index, monkeypatch, capsys):
    import io

    from rag.cli import main

    script = "\n".join(
        [
            "Which paper organises an LLM's long-term memory as a tree?",
            "What benchmarks was it evaluated on?",
            "/sources",
            "/new",
            "/sources",
        ]
    )
    monkeypatch.setattr("sys.stdin", io.StringIO(script + "\n"))
    assert main(["chat"]) == 0  # the script ends: Ctrl-D
    out = capsys.readouterr().out
    assert f"(searched for: What benchmarks was it evaluated on? ({MEMTREE}))" in out
    assert out.count(f"[1] {MEMTREE}") >= 3  # both answers' sources and /sources
    assert "(new conversation)" in out
    assert out.rstrip().endswith("(no sources yet)")


LIST = [
    Turn(
        question="Which papers here study mixture-of-experts models?",
        cited_paper_ids=["moe1", "moe2", "moe3", "moe4"],
        cited_titles=["Mixture of Tunable Experts", "Emergent Mixture-of-Experts", "MIGA", "Monet"],
    )
]


@pytest.mark.parametrize(
    "message",
    ["What limitations do these papers mention?", "how do they train the experts?", "how does each of them work?"],
)
def test_a_plural_follow_up_to_a_list_is_about_every_paper_it_listed(message):
    resolution = resolve(message, LIST)
    assert resolution.read_as == "plural" and resolution.follow_up
    assert resolution.subjects == ["moe1", "moe2", "moe3", "moe4"]  # all four, not the first three
    # searched with the question that listed them, which names their topic
    assert resolution.standalone_question.endswith("(Which papers here study mixture-of-experts models?)")


def test_a_plural_reference_to_one_paper_or_a_choice_among_them_is_not_about_them_all():
    one = [Turn(question="Which paper organises memory as a tree?", cited_paper_ids=["p1"], cited_titles=[MEMTREE])]
    assert resolve("What datasets do they use?", one).read_as == "pronoun"  # one paper cited: its authors
    assert resolve("Which of them is about stock prediction?", LIST).read_as == "among"
    assert resolve("Which of these papers evaluate on images?", LIST).read_as == "among"
    named = Turn(question="q", cited_paper_ids=["a", "b"], cited_titles=["Monet: Mixture of Experts", "MIGA: Stocks"])
    assert resolve("What dataset did they use in the Monet paper?", [named]).read_as != "plural"  # names one


@pytest.mark.parametrize(
    ("message", "beyond"),
    [
        ("Are there other papers on stock prediction?", ["p1", "p2"]),
        ("any more work on this?", ["p1", "p2"]),
        ("What else does it show?", []),  # more of the same paper
        ("Anything else about the tree memory?", []),
        ("Which other studies use a tree?", ["p1", "p2"]),
        ("How does it store the tree?", []),  # about the papers cited, not past them
        ("Which of them is about stock prediction?", []),  # chosen among them, not past them
    ],
)
def test_a_question_asking_for_other_papers_looks_past_the_last_answers(message, beyond):
    history = [Turn(question="Which papers use trees?", cited_paper_ids=["p1", "p2"], cited_titles=[MEMTREE, "Other"])]
    assert resolve(message, history).beyond == beyond
    assert resolve(message, []).beyond == []  # nothing cited before: nothing to look past


def test_which_one_after_a_list_chooses_among_it_and_after_one_paper_asks_afresh():
    """ "Which one is used for video?" after five distillation papers searched afresh and cited a sixth."""
    listed = [
        Turn(question="Which papers are about distillation?", cited_paper_ids=["a", "b"], cited_titles=["A", "B"])
    ]
    assert resolve("Which one is used for video?", listed).read_as == "among"
    one = [Turn(question="Tell me about MIGA", cited_paper_ids=["m"], cited_titles=["MIGA"])]
    assert resolve("Which one is used for video?", one).read_as != "among"
