"""eval/questions_across_{tune,test}.jsonl: questions on what several papers say about one aspect of a topic.

An across-paper question ("what limitations of X do the papers here point out?", "how do the papers on
X do Y?") names an aspect (limitation, how, result, data) and a topic held by a few papers; its gold list
is every paper on the topic whose abstract speaks to that aspect. The data was written from the seeds
alone; these checks need no index and no model: each line parses, names real papers, keeps to the
question forms asked for, quotes no gold title, and the two halves are the fixed-seed split of one list.
"""

from __future__ import annotations

import re
from collections import Counter

import pytest

from tests.unit.eval_data import (
    ROOT,
    assert_checked_with_finds,
    assert_counted_once,
    quoted_run,
    read,
    split_script,
    words,
)

TUNE = ROOT / "eval" / "questions_across_tune.jsonl"
TEST = ROOT / "eval" / "questions_across_test.jsonl"
FIELDS = {
    "question",
    "type",
    "form",
    "aspect",
    "gold_titles",
    "reference_answer",
    "checked_with",
    "considered_not_gold",
}
ASPECTS = ("limitation", "how", "result", "data")
# the set-question forms ("Which papers ...", "list the papers ...", "any work on ...") live elsewhere
SET_FORM = re.compile(r"^\s*(which (papers|work)|list (the |every |all )?(papers|work)|any (work|papers))\b", re.I)


@pytest.fixture(scope="module")
def halves() -> dict[str, list[dict]]:
    return {"xa": read(TUNE), "xb": read(TEST)}


@pytest.fixture(scope="module")
def questions(halves) -> list[dict]:
    return halves["xa"] + halves["xb"]


def test_ids_and_fields_are_as_specified(halves):
    for prefix, items in halves.items():
        assert [q["id"] for q in items] == [f"{prefix}-{i:03d}" for i in range(1, 25)]
        for q in items:
            assert set(q) == FIELDS | {"id"}, q["id"]
            assert q["type"] == "multi" and q["aspect"] in ASPECTS, q["id"]
            assert 2 <= len(q["gold_titles"]) <= 6, q["id"]
            assert q["reference_answer"].strip() and len(q["reference_answer"].split()) < 60, q["id"]


def test_every_title_is_a_paper_of_the_collection_and_counted_once(questions):
    for q in questions:
        assert_counted_once(q["id"], q["gold_titles"], q["considered_not_gold"])


def test_checked_with_finds_every_gold_paper(questions):
    for q in questions:
        assert_checked_with_finds(q["id"], q["gold_titles"], q["checked_with"])


def test_questions_are_across_paper_not_set_questions(questions):
    assert len({q["question"].lower() for q in questions}) == len(questions)
    for q in questions:
        assert not SET_FORM.search(q["question"]), q["id"]
        assert q["question"].rstrip().endswith("?"), q["id"]


def test_no_question_quotes_a_gold_title(questions):
    # a topic phrase may share words with a title ("generalized category discovery"); a title, the name
    # before its colon, or five running words of it may not appear
    for q in questions:
        heads = [t.split(":")[0] for t in q["gold_titles"]]
        assert not quoted_run(q["question"], q["gold_titles"], 5), q["id"]
        assert not any(quoted_run(q["question"], [h], len(words(h))) for h in heads if len(words(h)) < 5), q["id"]


def test_aspects_are_balanced(halves, questions):
    assert Counter(q["aspect"] for q in questions) == {a: 12 for a in ASPECTS}
    for items in halves.values():
        counts = Counter(q["aspect"] for q in items)
        assert all(counts[a] >= 4 for a in ASPECTS), counts  # the shuffle leaves every aspect in each half


def test_the_halves_are_the_fixed_seed_split_of_the_written_list(halves):
    module = split_script("split_across")
    assert module.SEED == 20261208
    tune, test = module.split(module.read(module.SOURCE))
    assert tune == halves["xa"] and test == halves["xb"]
