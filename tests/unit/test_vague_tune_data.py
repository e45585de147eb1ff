"""eval/questions_vague_tune.jsonl: half-remembered questions that chose the rerank depth (issue 23), kept apart.

The file is tune data. Two writers who saw only each paper's title and abstract (never the system) wrote one
question per paper, for 80 papers drawn at random among those that are gold in no held-out file. So it shares no
gold paper with the test half, dev, blind, fresh or the test conversations, which these tests check.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from rag.corpus import load_papers, normalize_title

ROOT = Path(__file__).resolve().parents[2]
EVAL = ROOT / "eval"
VAGUE_TUNE = EVAL / "questions_vague_tune.jsonl"
HELD_OUT = (
    "questions_test",
    "questions_forms_test",
    "conversations_test",
    "dev_questions",
    "questions_blind",
    "questions_fresh",
)
FIELDS = {"id", "question", "type", "style", "gold_titles", "reference_answer"}


def read(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def gold_titles(record: object) -> set[str]:
    """Every gold title in a question file's record, turns of a conversation included."""
    if isinstance(record, dict):
        found = {normalize_title(t) for t in record.get("gold_titles") or [] if isinstance(t, str)}
        return found.union(*(gold_titles(v) for k, v in record.items() if k != "gold_titles"))
    if isinstance(record, list):
        return set().union(*(gold_titles(v) for v in record))
    return set()


@pytest.fixture(scope="module")
def items() -> list[dict]:
    return read(VAGUE_TUNE)


def test_each_line_is_a_single_paper_hard_paraphrase(items):
    assert len(items) == 80
    assert len({i["id"] for i in items}) == len(items)
    titles = {normalize_title(p.title) for p in load_papers(ROOT / "seeds")}
    for item in items:
        assert set(item) == FIELDS, item["id"]
        assert item["type"] == "single" and item["style"] == "paraphrase_hard", item["id"]
        assert len(item["gold_titles"]) == 1 and normalize_title(item["gold_titles"][0]) in titles, item["id"]
        assert 8 <= len(item["question"].split()) <= 35 and item["reference_answer"].strip(), item["id"]


def test_no_question_copies_its_papers_title():
    """In other words than the paper's: no run of three title words appears in the question."""
    for item in read(VAGUE_TUNE):
        words = re.findall(r"[a-z0-9]+", item["gold_titles"][0].lower())
        question = " ".join(re.findall(r"[a-z0-9]+", item["question"].lower()))
        runs = {" ".join(words[i : i + 3]) for i in range(len(words) - 2)}
        assert not any(f" {run} " in f" {question} " for run in runs), item["id"]


def test_the_split_is_clean_no_gold_paper_of_a_held_out_file(items):
    held_out = set().union(*(gold_titles(read(EVAL / f"{name}.jsonl")) for name in HELD_OUT))
    assert len(held_out) > 300  # the held-out files' gold papers were read
    for item in items:
        assert normalize_title(item["gold_titles"][0]) not in held_out, item["id"]
