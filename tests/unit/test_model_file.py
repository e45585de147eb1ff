"""One loader for the shipped fitted models (answerability and selection): round trip, and errors that
name the file and the command that writes it."""

from __future__ import annotations

import pytest
from pydantic import BaseModel

from rag.model_file import load_model_file, save_model_file
from rag.refusal_model import AnswerabilityModel
from rag.selection import SelectionModel


def _selection() -> SelectionModel:
    return SelectionModel(
        features=["fused"], mean=[0.1], scale=[0.2], coef=[1.5], intercept=-2.0, set_threshold=0.4, fitted_on="x"
    )


def _answerability() -> AnswerabilityModel:
    return AnswerabilityModel(
        features=["top"], mean=[0.5], scale=[0.1], coef=[3.0], intercept=0.2, answer_threshold=0.5, low_threshold=0.3
    )


@pytest.mark.parametrize("make", [_selection, _answerability])
def test_both_models_round_trip_through_the_shared_loader(tmp_path, make):
    model = make()
    path = tmp_path / "model.json"
    model.save(path)
    assert type(model).load(path) == model
    assert load_model_file(type(model), path, "a model", "fit it") == model


@pytest.mark.parametrize(
    ("cls", "command", "variable"),
    [
        (SelectionModel, "scripts/fit_selection.py --write", "RAG_SELECTION_MODEL"),
        (AnswerabilityModel, "scripts/tune.py --write", "RAG_ANSWERABILITY_MODEL"),
    ],
)
def test_a_missing_or_foreign_file_names_itself_and_its_fit_command(tmp_path, cls, command, variable):
    absent = tmp_path / "absent.json"
    with pytest.raises(RuntimeError, match=f"absent.json is missing; run {command}"):
        cls.load(absent)
    foreign = tmp_path / "foreign.json"
    foreign.write_text('{"name": "not a model"}', encoding="utf-8")
    with pytest.raises(ValueError, match=f"foreign.json is not a model file .*point {variable}"):
        cls.load(foreign)
    garbage = tmp_path / "garbage.json"
    garbage.write_bytes(b"\xff\xfe not json")
    with pytest.raises(ValueError, match=r"garbage\.json is not a model file"):
        cls.load(garbage)


def test_only_fitted_models_are_loaded(tmp_path):
    class Plain(BaseModel):
        name: str

    path = tmp_path / "plain.json"
    save_model_file(Plain(name="x"), path)
    with pytest.raises(TypeError, match="no fitted_on"):
        load_model_file(Plain, path, "plain", "nothing")
