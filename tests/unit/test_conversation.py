"""Follow-up questions: offline resolution, the pipeline's history path, and conversation evaluation."""

from __future__ import annotations

import json
import time

import pytest

from rag.conversation import Turn, as_turns, resolve

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
