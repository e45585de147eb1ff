"""A set question's per-question cut (rag.selection.SetCut, SelectionModel.set_count) on hand-made probabilities."""

from __future__ import annotations

import json

import pytest

from rag.question.form import QuestionForm
from rag.selection import SelectionModel, SetCut, choice, default_selection_file
from tests.unit.selection_fixtures import candidates_with, flat_model


def _model(**update: object) -> SelectionModel:
    return flat_model(**update)


_candidates = candidates_with


def test_a_threshold_alone_cites_every_paper_at_or_above_it_and_at_least_one():
    cut = SetCut(threshold=0.3)
    assert cut.count([0.9, 0.3, 0.29, 0.5]) == 3
    assert cut.count([0.2, 0.1]) == 1  # none reaches it: the most probable
    assert cut.count([]) == 0


def test_the_gap_cites_down_to_the_largest_log_odds_drop_when_that_is_more():
    probabilities = [0.45, 0.42, 0.4, 0.05, 0.04]  # a topic whose papers all sit under the threshold
    assert SetCut(threshold=0.5).count(probabilities) == 1
    assert SetCut(threshold=0.5, gap_top=5).count(probabilities) == 3
    # the threshold wins where it cites more (the rules combine by max)
    assert SetCut(threshold=0.03, gap_top=5).count(probabilities) == 5


def test_the_gap_is_measured_in_log_odds_not_probability():
    # probability drops 0.09, 0.30, 0.10 (largest after the 2nd); log-odds drops 2.4, 1.8, 0.4 (after the 1st)
    assert SetCut(threshold=0.999, gap_top=4).count([0.99, 0.9, 0.6, 0.5]) == 1


def test_the_gap_looks_only_among_the_top_m():
    probabilities = [0.9, 0.8, 0.7, 0.6, 0.01]  # the big drop is after the 4th
    assert SetCut(threshold=0.95, gap_top=5).count(probabilities) == 4
    assert SetCut(threshold=0.95, gap_top=3).count(probabilities) == 1  # log-odds drops 0.81, 0.54 among the 3
    assert SetCut(threshold=0.95, gap_top=1).count(probabilities) == 1  # one paper: no gap, the threshold's floor


def test_the_order_of_the_probabilities_does_not_matter():
    assert SetCut(threshold=0.5, gap_top=5).count([0.05, 0.4, 0.04, 0.45, 0.42]) == 3


def test_without_a_cut_the_model_keeps_its_threshold():
    probabilities = [0.45, 0.42, 0.4, 0.05]
    assert _model(set_threshold=0.3).set_count(probabilities) == 3
    assert _model(set_threshold=0.5).set_count(probabilities) == 1
    assert _model(set_threshold=0.5, set_cut=SetCut(threshold=0.5, gap_top=4)).set_count(probabilities) == 3


def test_choose_cites_the_cut_past_the_top_k_in_retrieval_order():
    candidates = _candidates([0.05, 0.45, 0.04, 0.03, 0.02, 0.42, 0.4, 0.01])
    set_model = _model(set_threshold=0.5, set_cut=SetCut(threshold=0.5, gap_top=8))
    joint = _model(set_threshold=0.9, set_model=set_model)
    chosen = choice(QuestionForm("set"), candidates, joint, k=5).chosen
    assert [c.source.n for c in chosen] == [2, 6, 7]
    # the joint model (no cut) still decides a question asked across papers that is not a set question
    assert [c.source.n for c in choice(QuestionForm("limitation"), candidates, joint, k=5, many=True).chosen] == [2]
    # the same set model without its cut: the old rule
    plain = _model(set_threshold=0.9, set_model=set_model.model_copy(update={"set_cut": None}))
    assert [c.source.n for c in choice(QuestionForm("set"), candidates, plain, k=5).chosen] == [2]


def test_the_cut_round_trips_through_the_model_file_and_an_old_file_has_none(tmp_path):
    model = _model(set_model=_model(set_threshold=0.5, set_cut=SetCut(threshold=0.5, gap_top=14)))
    model.save(tmp_path / "m.json")
    again = SelectionModel.load(tmp_path / "m.json")
    assert again.set_model is not None and again.set_model.set_cut == SetCut(threshold=0.5, gap_top=14)
    shipped = json.loads(default_selection_file("mpnet").read_text(encoding="utf-8"))
    assert shipped["set_model"].get("set_cut") is None  # the shipped file: the threshold alone
    assert SelectionModel.model_validate(shipped).set_model.set_count([0.45, 0.42, 0.4, 0.05]) == 3  # >= 0.30


def test_a_cut_out_of_bounds_is_refused():
    with pytest.raises(ValueError):
        SetCut(threshold=1.5)
    with pytest.raises(ValueError):
        SetCut(threshold=0.5, gap_top=99)


def test_a_follow_up_over_a_pool_is_cut_at_the_pool_threshold():
    """ "which of them work on ..." (pool=True) cites every candidate at or above pool_threshold; without
    one, or for a question that is not about the pool, the set threshold decides as before."""
    candidates = _candidates([0.5, 0.3, 0.22, 0.1])
    model = _model(set_threshold=0.4, pool_threshold=0.2)
    single = QuestionForm("single")
    assert [c.source.n for c in choice(single, candidates, model, k=5, many=True, pool=True).chosen] == [1, 2, 3]
    assert [c.source.n for c in choice(single, candidates, model, k=5, many=True).chosen] == [1]
    unset = _model(set_threshold=0.4)
    assert [c.source.n for c in choice(single, candidates, unset, k=5, many=True, pool=True).chosen] == [1]


def test_the_shipped_model_cuts_a_pool_lower_than_a_set():
    model = SelectionModel.load(default_selection_file("mpnet"))
    assert model.pool_threshold is not None and 0 < model.pool_threshold < model.set_threshold
