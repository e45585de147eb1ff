"""The answerability model: validation, decisions and the logistic fit."""

from __future__ import annotations

import math
import random

import pytest
from pydantic import ValidationError

from rag.refusal_model import AnswerabilityModel, fit_logistic


def _model(**overrides) -> AnswerabilityModel:
    values = dict(
        features=["a", "b"],
        mean=[0.0, 0.0],
        scale=[1.0, 1.0],
        coef=[2.0, -1.0],
        intercept=0.0,
        answer_threshold=0.7,
        low_threshold=0.4,
    )
    return AnswerabilityModel(**{**values, **overrides})


def test_three_outcomes_follow_the_thresholds():
    model = _model()
    assert model.verdict(model.probability({"a": 2.0, "b": 0.0})) == "answer"
    assert model.verdict(model.probability({"a": 0.0, "b": 0.0})) == "low_confidence"
    assert model.verdict(model.probability({"a": -2.0, "b": 1.0})) == "refuse"


def test_inconsistent_models_are_rejected():
    with pytest.raises(ValidationError):
        _model(coef=[1.0])
    with pytest.raises(ValidationError):
        _model(low_threshold=0.9)
    with pytest.raises(ValidationError):
        _model(scale=[1.0, 0.0])


def test_the_shipped_model_loads_and_round_trips(tmp_path):
    model = AnswerabilityModel.load()
    assert model.features
    assert len(model.coef) == len(model.features)
    model.save(tmp_path / "m.json")
    assert AnswerabilityModel.load(tmp_path / "m.json") == model


def test_missing_model_file_names_the_fix(tmp_path):
    with pytest.raises(RuntimeError, match=r"scripts/tune\.py"):
        AnswerabilityModel.load(tmp_path / "absent.json")


def test_fit_separates_a_learnable_problem():
    rng = random.Random(0)
    rows, labels = [], []
    for _ in range(200):
        label = rng.random() < 0.5
        rows.append({"signal": (1.0 if label else -1.0) + rng.gauss(0, 0.5), "noise": rng.gauss(0, 1)})
        labels.append(int(label))
    mean, scale, coef, intercept = fit_logistic(rows, labels, ["signal", "noise"])
    model = _model(features=["signal", "noise"], mean=mean, scale=scale, coef=coef, intercept=intercept)
    accuracy = sum((model.probability(r) >= 0.5) == bool(y) for r, y in zip(rows, labels, strict=True)) / len(rows)
    assert coef[0] > 1.0, coef
    assert abs(coef[1]) < 0.5, coef
    assert accuracy > 0.95, accuracy


@pytest.mark.parametrize("paper_embedder", ["none", "mpnet"])
def test_every_shipped_model_file_loads(paper_embedder):
    from rag.refusal_model import default_model_file

    model = AnswerabilityModel.load(default_model_file(paper_embedder))
    assert model.low_threshold <= model.answer_threshold


def _tune_script():
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "scripts" / "tune.py"
    spec = importlib.util.spec_from_file_location("paperchat_tune", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_out_of_fold_probabilities_are_less_sure_than_in_sample_ones():
    """Why thresholds are set out of fold: a fit scores its own questions too confidently."""
    tune = _tune_script()
    rng = random.Random(3)
    features = ["signal", *(f"noise{i}" for i in range(8))]
    rows, labels = [], []
    for i in range(60):
        label = i % 3 != 0
        row = {"signal": (0.6 if label else -0.6) + rng.gauss(0, 1)}
        row.update({f: rng.gauss(0, 1) for f in features[1:]})
        rows.append(row)
        labels.append(label)
    mean, scale, coef, intercept = fit_logistic(rows, [int(x) for x in labels], features, l2=0.3)
    fitted = _model(features=features, mean=mean, scale=scale, coef=coef, intercept=intercept)
    in_sample = [fitted.probability(r) for r in rows]
    out_of_fold = tune.out_of_fold_probabilities(rows, labels, 0.3, features)

    def log_loss(probs):
        return -sum(math.log(p if y else 1 - p) for p, y in zip(probs, labels, strict=True)) / len(probs)

    assert log_loss(out_of_fold) > log_loss(in_sample) + 0.05
    assert tune.out_of_fold_probabilities(rows, labels, 0.3, features) == out_of_fold  # seeded: reproducible
