"""Follow-up questions: offline resolution, the pipeline's history path, and conversation evaluation."""

from __future__ import annotations

import json
import time

import pytest

from rag.conversation import FOLLOW_UP_RULES, Turn, as_turns, refers_back, resolve
from rag.models import Answer, Citation, Paper, Source

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
