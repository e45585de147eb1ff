"""eval/conversations_plural_{tune,test}.jsonl: follow-ups that ask what ALL the papers of a set answer say.

Turn 1 asks a set question (its gold list complete, with the searches that checked it); turn 2 leans on
it in the plural ("what limitations do they mention?", "which datasets do these papers use?") and asks
about one aspect: limitation, how, result or data. Its gold is the turn-1 papers whose abstract speaks
to that aspect. The data was written from the seeds alone; these checks need no index and no model:
each line parses, names real papers, turn 2 stays inside turn 1 and neither picks among the papers nor
quotes a title, the aspects are balanced, and the two halves are the fixed-seed split of one list.
"""

from __future__ import annotations

import re
from collections import Counter

import pytest

from tests.unit.eval_data import (
    FOLLOW_UP_TURN,
    ROOT,
    SET_TURN,
    assert_checked_with_finds,
    assert_counted_once,
    gold,
    quoted_run,
    read,
    split_script,
)

TUNE = ROOT / "eval" / "conversations_plural_tune.jsonl"
TEST = ROOT / "eval" / "conversations_plural_test.jsonl"
ASPECTS = ("limitation", "how", "result", "data")
# choosing among the papers is another kind of follow-up (eval/conversations_among_*.jsonl)
CHOOSES = re.compile(r"\bwhich (one )?of (them|these|those)\b|\bthe one\b|\bany of them\b", re.I)


@pytest.fixture(scope="module")
def halves() -> dict[str, list[dict]]:
    return {"pa": read(TUNE), "pb": read(TEST)}


@pytest.fixture(scope="module")
def conversations(halves) -> list[dict]:
    return halves["pa"] + halves["pb"]


def test_ids_styles_and_fields_are_as_specified(halves):
    for prefix, items in halves.items():
        assert [c["id"] for c in items] == [f"{prefix}-{i:03d}" for i in range(1, 19)]
        for c in items:
            assert set(c) == {"id", "style", "aspect", "turns"} and c["style"] == "plural", c["id"]
            assert c["aspect"] in ASPECTS, c["id"]
            first, second = c["turns"]
            assert set(first) == SET_TURN and set(second) == FOLLOW_UP_TURN, c["id"]
            assert first["form"] == "set" and first["type"] == "multi" and second["type"] == "multi", c["id"]
            assert first["reference_answer"].strip() and second["reference_answer"].strip(), c["id"]
            assert len(second["reference_answer"].split()) < 60, c["id"]


def test_every_title_is_a_paper_of_the_collection_and_counted_once(conversations):
    for c in conversations:
        first, second = c["turns"]
        assert_counted_once(c["id"], first["gold_titles"], first["considered_not_gold"])
        assert gold(second) <= gold(first), c["id"]


def test_checked_with_finds_every_gold_paper(conversations):
    for c in conversations:
        assert_checked_with_finds(c["id"], c["turns"][0]["gold_titles"], c["turns"][0]["checked_with"])


def test_turn_two_asks_about_several_papers_of_the_set_answer(conversations):
    for c in conversations:
        first, second = c["turns"]
        assert 2 <= len(gold(first)) <= 5, c["id"]
        assert len(set(second["gold_titles"])) == len(second["gold_titles"]), c["id"]
        assert len(gold(second)) >= 2 and gold(second) <= gold(first), c["id"]
    # usually all of turn 1's papers speak to the aspect
    assert sum(gold(c["turns"][1]) == gold(c["turns"][0]) for c in conversations) >= len(conversations) // 2


def test_turn_two_does_not_choose_among_the_papers_nor_quote_a_title(conversations):
    for c in conversations:
        question = c["turns"][1]["question"]
        assert not CHOOSES.search(question), c["id"]
        assert question.rstrip().endswith("?"), c["id"]
        assert not quoted_run(question, c["turns"][0]["gold_titles"], 3), c["id"]


def test_topics_and_questions_are_distinct(conversations):
    assert len({gold(c["turns"][0]) for c in conversations}) == len(conversations) == 36
    assert len({c["turns"][0]["question"].lower() for c in conversations}) == 36


def test_aspects_are_nine_each(conversations):
    assert Counter(c["aspect"] for c in conversations) == {a: 9 for a in ASPECTS}


def test_the_halves_are_the_fixed_seed_split_of_the_written_list(halves):
    module = split_script("split_plural")
    assert module.SEED == 20261209
    tune, test = module.split(module.read(module.SOURCE))
    assert tune == halves["pa"] and test == halves["pb"]
