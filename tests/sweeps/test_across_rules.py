"""The across-paper reading (`rag.question.form.asks_across` and `set_asked_across`,
`rag.question.topic.ACROSS_RULES`) over the question files: it takes the across questions of the tune half and no
question about one paper.

No index: the form table, the predicate and the topic reading are read from the text alone. The across test half is
read too, only for the figure docs/evaluation-forms.md quotes (nothing here was fitted on it).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from rag.corpus import load_papers, normalize_title
from rag.question import plain_question
from rag.question.form import QuestionForm, asks_across, classify, set_asked_across
from rag.question.topic import across_topic

ROOT = Path(__file__).resolve().parents[2]
ONE_PAPER_FILES = (
    "questions_tune.jsonl",
    "questions_forms_tune.jsonl",
    "questions_vague_tune.jsonl",
    "questions_test.jsonl",
    "questions_forms_test.jsonl",
    "dev_questions.jsonl",
    "questions_blind.jsonl",
    "questions_fresh.jsonl",
)


def _load(name: str) -> list[dict]:
    lines = (ROOT / "eval" / name).read_text(encoding="utf-8").splitlines()
    return [q for q in (json.loads(line) for line in lines if line.strip()) if q.get("question")]


@pytest.fixture(scope="module")
def papers() -> dict[str, str]:
    return {normalize_title(p.title): f"{p.title} {p.abstract}".lower() for p in load_papers(ROOT / "seeds")}


@pytest.mark.parametrize(
    ("name", "at_least"), [("questions_across_tune.jsonl", 22), ("questions_across_test.jsonl", 24)]
)
def test_across_questions_are_chosen_as_sets(name, at_least, papers):
    """Each across question is read as a set question or as one asked across papers, and its topic is words
    its gold papers use (tune: 14 across + 8 set of 24, 7 of those 8 with the across topic; test: 21 + 3 of 24,
    all 3 with the across topic; 2026-12-07)."""
    chosen_as_set = 0
    for q in _load(name):
        form = classify(plain_question(q["question"]))
        if asks_across(q["question"], form) or set_asked_across(plain_question(q["question"]), form):
            topic = across_topic(plain_question(q["question"])).text
            gold = " ".join(papers[normalize_title(t)] for t in q["gold_titles"])
            assert any(w[:6] in gold for w in re.findall(r"[a-z]{4,}", topic.lower())), (topic, q["question"])
        chosen_as_set += form.form == "set" or asks_across(q["question"], form)
    assert chosen_as_set >= at_least


@pytest.mark.parametrize("name", ONE_PAPER_FILES)
def test_no_question_about_one_paper_is_read_as_across(name):
    """One-paper and off-corpus questions keep their single-paper choice: none of 1,000-odd is read as across."""
    one = [q for q in _load(name) if len(q.get("gold_titles") or []) <= 1]
    assert one
    across = [q["question"] for q in one if asks_across(q["question"], classify(plain_question(q["question"])))]
    assert across == []


@pytest.mark.parametrize(
    "name", ["questions_forms_tune.jsonl", "questions_sets_tune.jsonl", "questions_forms_test.jsonl"]
)
def test_no_set_question_that_asks_for_papers_takes_the_across_topic(name):
    """ "Which papers ...", "list the papers ...", "any work on ..." keep the set topic: none of the 72 reads across."""
    sets = [q for q in _load(name) if q.get("form") == "set"]
    assert sets
    assert [q["question"] for q in sets if set_asked_across(plain_question(q["question"]), QuestionForm("set"))] == []
