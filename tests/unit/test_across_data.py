"""eval/questions_across_{tune,test}.jsonl: questions on what several papers say about one aspect of a topic.

An across-paper question ("what limitations of X do the papers here point out?", "how do the papers on
X do Y?") names an aspect (limitation, how, result, data) and a topic held by a few papers; its gold list
is every paper on the topic whose abstract speaks to that aspect. The data was written from the seeds
alone; these checks need no index and no model: each line parses, names real papers, keeps to the
question forms asked for, quotes no gold title, and the two halves are the fixed-seed split of one list.
"""

from __future__ import annotations

import importlib.util
import json
import re
from collections import Counter
from pathlib import Path

import pytest

from rag.corpus import load_papers, normalize_title

ROOT = Path(__file__).resolve().parents[2]
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


def read(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def words(text: str) -> str:
    return " " + " ".join(re.findall(r"[a-z0-9]+", text.lower())) + " "


@pytest.fixture(scope="module")
def halves() -> dict[str, list[dict]]:
    return {"xa": read(TUNE), "xb": read(TEST)}


@pytest.fixture(scope="module")
def questions(halves) -> list[dict]:
    return halves["xa"] + halves["xb"]


@pytest.fixture(scope="module")
def papers() -> dict[str, str]:
    return {normalize_title(p.title): f"{p.title} {p.abstract}" for p in load_papers(ROOT / "seeds")}


def test_ids_and_fields_are_as_specified(halves):
    for prefix, items in halves.items():
        assert [q["id"] for q in items] == [f"{prefix}-{i:03d}" for i in range(1, 25)]
        for q in items:
            assert set(q) == FIELDS | {"id"}, q["id"]
            assert q["type"] == "multi" and q["aspect"] in ASPECTS, q["id"]
            assert 2 <= len(q["gold_titles"]) <= 6, q["id"]
            assert q["reference_answer"].strip() and len(q["reference_answer"].split()) < 60, q["id"]
            assert q["checked_with"], q["id"]
            for pattern in q["checked_with"]:
                re.compile(pattern)  # the searches that checked the gold list, kept runnable


def test_every_title_is_a_paper_of_the_collection_and_counted_once(questions, papers):
    for q in questions:
        listed = [normalize_title(t) for t in q["gold_titles"]]
        out = [normalize_title(t) for t in q["considered_not_gold"]]
        assert len(set(listed)) == len(listed) and len(set(out)) == len(out), q["id"]
        assert not set(listed) & set(out), q["id"]  # each hit read was counted in or out, not both
        assert set(listed) | set(out) <= set(papers), (q["id"], (set(listed) | set(out)) - set(papers))


def test_checked_with_finds_every_gold_paper(questions, papers):
    for q in questions:
        for title in q["gold_titles"]:
            text = papers[normalize_title(title)]
            assert any(re.search(p, text, re.IGNORECASE) for p in q["checked_with"]), (q["id"], title)


def test_questions_are_across_paper_not_set_questions(questions):
    assert len({q["question"].lower() for q in questions}) == len(questions)
    for q in questions:
        assert not SET_FORM.search(q["question"]), q["id"]
        assert q["question"].rstrip().endswith("?"), q["id"]


def test_no_question_quotes_a_gold_title(questions):
    # a topic phrase may share words with a title ("generalized category discovery"); a title, the name
    # before its colon, or five running words of it may not appear
    for q in questions:
        question = words(q["question"])
        for title in q["gold_titles"]:
            assert words(title) not in question and words(title.split(":")[0]) not in question, q["id"]
            tw = words(title).split()
            for k in range(len(tw) - 4):
                run = " ".join(tw[k : k + 5])
                assert f" {run} " not in question, (q["id"], run)


def test_aspects_are_balanced(halves, questions):
    assert Counter(q["aspect"] for q in questions) == {a: 12 for a in ASPECTS}
    for items in halves.values():
        counts = Counter(q["aspect"] for q in items)
        assert all(counts[a] >= 4 for a in ASPECTS), counts  # the shuffle leaves every aspect in each half


def test_the_halves_are_the_fixed_seed_split_of_the_written_list(halves):
    spec = importlib.util.spec_from_file_location("split_across", ROOT / "scripts" / "split_across.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.SEED == 20261208
    tune, test = module.split(module.read(module.SOURCE))
    assert tune == halves["xa"] and test == halves["xb"]
