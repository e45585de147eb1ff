"""eval/conversations_among_{tune,test}.jsonl: follow-ups that choose among the papers of a set answer.

Turn 1 asks a set question (its gold list complete, with the searches that checked it); turn 2 picks
among those papers ("which of them ...", "the one that ..."). The data was written from the seeds alone;
these checks need no index and no model: each line parses, names real papers, turn 2 stays inside
turn 1, turn 2 does not quote a title, and the two halves are the fixed-seed split of one list.

eval/conversations_among_plural_tune.jsonl (tune only, ids mp-NNN) holds follow-ups that pick SEVERAL
papers ("which of them ...", "do any of them ..."): the same checks run on it, plus each turn-2 gold
has two or more papers and fewer than turn 1's, and its topics keep away from the first two files.
"""

from __future__ import annotations

import pytest

from rag.corpus import normalize_title
from tests.unit.eval_data import (
    FOLLOW_UP_TURN,
    ROOT,
    SET_TURN,
    assert_checked_with_finds,
    assert_counted_once,
    assert_searches_run,
    gold,
    quoted_run,
    read,
    split_script,
)

TUNE = ROOT / "eval" / "conversations_among_tune.jsonl"
TEST = ROOT / "eval" / "conversations_among_test.jsonl"
PLURAL = ROOT / "eval" / "conversations_among_plural_tune.jsonl"
PLURAL_COUNT = 24
# the set questions whose topics and gold lists these conversations keep away from
SET_FILES = ("questions_forms_test.jsonl", "questions_forms_tune.jsonl", "questions_sets_tune.jsonl")


@pytest.fixture(scope="module")
def halves() -> dict[str, list[dict]]:
    return {"ma": read(TUNE), "mb": read(TEST)}


@pytest.fixture(scope="module")
def conversations(halves) -> list[dict]:
    return halves["ma"] + halves["mb"]


def test_ids_styles_and_fields_are_as_specified(halves):
    for prefix, items in halves.items():
        assert [c["id"] for c in items] == [f"{prefix}-{i:03d}" for i in range(1, 19)]
        for c in items:
            assert set(c) == {"id", "style", "turns"} and c["style"] == "among", c["id"]
            first, second = c["turns"]
            assert set(first) == SET_TURN and set(second) == FOLLOW_UP_TURN, c["id"]
            assert first["form"] == "set" and first["type"] == "multi", c["id"]
            assert 3 <= len(first["gold_titles"]) <= 6, c["id"]
            assert second["type"] == ("single" if len(second["gold_titles"]) == 1 else "multi"), c["id"]
            assert first["reference_answer"].strip() and second["reference_answer"].strip(), c["id"]
            assert_searches_run(c["id"], first["checked_with"])


def test_every_title_is_a_paper_of_the_collection_and_counted_once(conversations):
    for c in conversations:
        first, second = c["turns"]
        assert_counted_once(c["id"], first["gold_titles"], first["considered_not_gold"])
        assert gold(second) <= gold(first), c["id"]


def test_the_follow_up_chooses_among_the_papers_of_the_set_answer(conversations):
    for c in conversations:
        first, second = c["turns"]
        assert gold(second) and gold(second) <= gold(first), c["id"]
    picks_one = sum(len(c["turns"][1]["gold_titles"]) == 1 for c in conversations)
    assert 20 <= picks_one <= 28  # about two thirds pick one paper, the rest several


def test_no_follow_up_quotes_three_words_of_a_title(conversations):
    for c in conversations:
        assert not quoted_run(c["turns"][1]["question"], c["turns"][0]["gold_titles"], 3), c["id"]


def test_every_topic_once_and_none_shared_between_the_halves(halves, conversations):
    tune_sets = {gold(c["turns"][0]) for c in halves["ma"]}
    test_sets = {gold(c["turns"][0]) for c in halves["mb"]}
    assert not tune_sets & test_sets
    assert len({gold(c["turns"][0]) for c in conversations}) == len(conversations) == 36
    assert len({c["turns"][0]["question"].lower() for c in conversations}) == 36


def test_no_gold_list_of_an_existing_set_question_is_reused(conversations):
    existing = {
        gold(q)
        for name in SET_FILES
        for q in read(ROOT / "eval" / name)
        if q.get("form") == "set" or name == "questions_sets_tune.jsonl"
    }
    assert len(existing) > 50
    for c in conversations:
        ours = gold(c["turns"][0])
        for theirs in existing:
            # not the same list, nor mostly the same papers (a paper may recur under another topic)
            assert len(ours & theirs) / len(ours | theirs) < 0.5, (c["id"], sorted(ours & theirs))


def test_the_halves_are_the_fixed_seed_split_of_the_written_list(halves):
    module = split_script("split_among")
    tune, test = module.split(module.read(module.SOURCE))
    assert tune == halves["ma"] and test == halves["mb"]


# --- eval/conversations_among_plural_tune.jsonl: follow-ups that pick several papers -----------------


@pytest.fixture(scope="module")
def plural() -> list[dict]:
    return read(PLURAL)


def test_plural_ids_styles_and_fields_are_as_specified(plural):
    assert [c["id"] for c in plural] == [f"mp-{i:03d}" for i in range(1, PLURAL_COUNT + 1)]
    for c in plural:
        assert set(c) == {"id", "style", "turns"} and c["style"] == "among", c["id"]
        first, second = c["turns"]
        assert set(first) == SET_TURN and set(second) == FOLLOW_UP_TURN, c["id"]
        assert first["form"] == "set" and first["type"] == "multi" and second["type"] == "multi", c["id"]
        assert 3 <= len(first["gold_titles"]) <= 6, c["id"]
        assert first["reference_answer"].strip() and second["reference_answer"].strip(), c["id"]


def test_plural_titles_are_papers_of_the_collection_counted_once(plural):
    test_every_title_is_a_paper_of_the_collection_and_counted_once(plural)


def test_plural_follow_up_picks_several_but_not_all_of_the_set_answer(plural):
    for c in plural:
        first, second = c["turns"]
        listed = [normalize_title(t) for t in second["gold_titles"]]
        assert len(set(listed)) == len(listed), c["id"]
        assert gold(second) <= gold(first), c["id"]
        assert 2 <= len(gold(second)) < len(gold(first)), c["id"]  # the constraint excludes at least one


def test_plural_follow_up_quotes_no_three_words_of_a_title(plural):
    test_no_follow_up_quotes_three_words_of_a_title(plural)


def test_plural_checked_with_finds_every_gold_paper(plural):
    for c in plural:
        assert_checked_with_finds(c["id"], c["turns"][0]["gold_titles"], c["turns"][0]["checked_with"])


def test_plural_topics_are_new(plural, conversations):
    ours = [gold(c["turns"][0]) for c in plural]
    assert len(set(ours)) == len(plural)
    assert len({c["turns"][0]["question"].lower() for c in plural}) == len(plural)
    earlier = {gold(c["turns"][0]) for c in conversations}
    earlier |= {
        gold(q)
        for name in SET_FILES
        for q in read(ROOT / "eval" / name)
        if q.get("form") == "set" or name == "questions_sets_tune.jsonl"
    }
    for c, mine in zip(plural, ours, strict=True):
        for theirs in earlier:
            # a paper may recur under another topic, but not most of a gold list
            assert len(mine & theirs) / len(mine | theirs) < 0.5, (c["id"], sorted(mine & theirs))
