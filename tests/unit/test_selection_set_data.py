"""eval/questions_sets_tune.jsonl: more set questions to fit the set model on (issue 20), kept apart from the test half.

The file is tune data: each line parses, names real papers, and shares no gold paper and no topic with the set
questions of eval/questions_forms_test.jsonl (the held-out half the set model is measured on).
"""

from __future__ import annotations

import re

import pytest

from rag.corpus import normalize_title
from rag.question.topic import topic_of
from tests.unit.eval_data import ROOT, assert_counted_once, assert_searches_run, read

SETS_TUNE = ROOT / "eval" / "questions_sets_tune.jsonl"
FORMS_TEST = ROOT / "eval" / "questions_forms_test.jsonl"
# words that name no topic by themselves ("representation learning" of radiographs is not of causal factors)
GENERIC = frozenset(
    [
        "learning",
        "representation",
        "representations",
        "model",
        "models",
        "neural",
        "network",
        "networks",
        "language",
        "large",
        "deep",
        "papers",
        "using",
        "data",
        "based",
        "with",
        "that",
        "their",
        "from",
        "into",
        "what",
    ]
)
FIELDS = {"id", "question", "type", "form", "gold_titles", "reference_answer", "checked_with", "considered_not_gold"}


@pytest.fixture(scope="module")
def items() -> list[dict]:
    return read(SETS_TUNE)


def test_each_line_is_a_set_question_in_the_forms_format(items):
    assert 30 <= len(items) <= 40
    assert len({i["id"] for i in items}) == len(items)
    assert len({i["question"].lower() for i in items}) == len(items)
    for item in items:
        assert set(item) == FIELDS, item["id"]
        assert item["form"] == "set" and item["type"] == "multi", item["id"]
        assert 2 <= len(item["gold_titles"]) <= 8, item["id"]
        assert item["reference_answer"].strip() and item["checked_with"], item["id"]
        assert_searches_run(item["id"], item["checked_with"])


def test_every_title_is_a_paper_of_the_collection_and_counted_once(items):
    for item in items:
        assert_counted_once(item["id"], item["gold_titles"], item["considered_not_gold"])


def test_the_split_is_clean_no_gold_paper_of_a_test_set_question(items):
    test_sets = [q for q in read(FORMS_TEST) if q.get("form") == "set"]
    assert test_sets  # the test half has set questions to keep apart from
    test_gold = {normalize_title(t) for q in test_sets for t in q["gold_titles"]}
    for item in items:
        shared = {normalize_title(t) for t in item["gold_titles"]} & test_gold
        assert not shared, (item["id"], shared)


def test_the_split_is_clean_no_topic_of_a_test_set_question(items):
    def words(question: str) -> set[str]:
        alternatives = topic_of(question).alternatives
        return {w for alt in alternatives for w in re.findall(r"[a-z][a-z\-]{3,}", alt.lower())} - GENERIC

    test_topics = [words(q["question"]) for q in read(FORMS_TEST) if q.get("form") == "set"]
    for item in items:
        ours = words(item["question"])
        for theirs in test_topics:
            # the same topic shares two or more of its content words (or most of them) with a test topic
            assert len(ours & theirs) < max(2, 0.6 * min(len(ours), len(theirs))), (item["id"], ours & theirs)


def _fit_script():
    import importlib.util

    spec = importlib.util.spec_from_file_location("fit_selection", ROOT / "scripts" / "fit_selection.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_fit_reads_the_sets_file_for_the_set_model_only():
    fit = _fit_script()
    assert fit.SETS == [SETS_TUNE]  # named for --sets ...
    assert SETS_TUNE not in fit.TUNE and FORMS_TEST not in fit.TUNE + fit.SETS  # ... and not by the joint model


def test_the_set_threshold_takes_the_smallest_shortfall_from_the_bar():
    bar_key = _fit_script().bar_key
    # the old rule's pick on the 65 tune set questions (precision >= 0.90) loses to a nearer balance
    assert bar_key({"precision": 0.901, "recall": 0.762}) < bar_key({"precision": 0.858, "recall": 0.833})
    # past the bar nothing more counts, then recall decides
    assert bar_key({"precision": 0.97, "recall": 0.91}) < bar_key({"precision": 0.92, "recall": 0.93})
    assert bar_key({"precision": 0.80, "recall": 0.99}) < bar_key({"precision": 0.85, "recall": 0.95})


def test_the_fit_can_leave_the_sets_file_out_as_the_shipped_model_does():
    """The refit with the sets file did not hold on the test half (docs/evaluation-forms.md): not shipped."""
    from rag.selection import SET_FEATURES, SelectionModel, default_selection_file

    set_model = SelectionModel.load(default_selection_file("mpnet")).set_model
    assert set_model is not None and tuple(set_model.features) == SET_FEATURES
    assert set_model.fitted_on.startswith("33 set questions")  # questions_tune + questions_forms_tune alone
