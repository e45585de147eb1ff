"""Settings: the generated configuration doc, unknown RAG_ variables, profiles, and the model's fit record."""

from __future__ import annotations

import logging
import os
import subprocess
import sys

import pytest
from pydantic import ValidationError

from rag import config
from rag.config import PACKAGE_DIR, PROFILES, Settings, config_markdown, environment_names, unknown_variables
from rag.embeddings import MODEL_NAME
from rag.refusal_model import AnswerabilityModel, FitRecord, default_model_file, warn_if_fitted_otherwise
from tests.conftest import ROOT

DOC = ROOT / "docs" / "configuration.md"


@pytest.fixture
def clean_env(monkeypatch):
    """No RAG_ variable from the outer environment, and warnings not yet given."""
    for key in [k for k in os.environ if k.upper().startswith("RAG_")]:
        monkeypatch.delenv(key)
    monkeypatch.setattr(config, "_warned", set())
    monkeypatch.setattr("rag.refusal_model._warned", set())
    return monkeypatch


# -- docs/configuration.md ---------------------------------------------------------------------------


def test_configuration_doc_is_the_generated_one():
    """docs/configuration.md is `python -m rag.config --markdown`: regenerate it after changing a field."""
    assert DOC.read_text(encoding="utf-8") == config_markdown(), (
        "docs/configuration.md drifted from rag.config.Settings: "
        "run `python -m rag.config --markdown > docs/configuration.md`"
    )


def test_configuration_doc_has_a_row_per_field_with_its_variable_and_default():
    rows = [line for line in config_markdown().splitlines() if line.startswith("| `")]
    for name, field in Settings.model_fields.items():
        variables = [v for v, f in environment_names().items() if f == name]
        (row,) = [r for r in rows if f"`{variables[0]}`" in r.split("|")[1]]
        assert (field.description or "").split()[0] in row, row
    assert "| `RAG_TOP_K` | int, 1 to 20 | `5` |" in config_markdown()
    assert "| `RAG_OPENAI_API_KEY` or `OPENAI_API_KEY` | secret, optional | unset |" in config_markdown()


# -- unknown variables -------------------------------------------------------------------------------


def test_an_unknown_rag_variable_is_named_with_the_closest_setting():
    env = {"RAG_TOPK": "3", "RAG_TOP_K": "5", "RAG_PORT": "1", "RAG_OPENAI_API_KEY": "x", "HOME": "/h"}
    assert unknown_variables(env) == [
        "RAG_TOPK is no paperchat setting and is ignored; did you mean RAG_TOP_K? (see docs/configuration.md)"
    ]
    assert unknown_variables({"RAG_LLM_MODLE": "x"})[0].endswith(
        "did you mean RAG_LLM_MODEL? (see docs/configuration.md)"
    )
    assert "did you mean" not in unknown_variables({"RAG_ZZZZZZZZ": "1"})[0]


def test_a_misspelt_secret_variable_is_named_but_its_value_never_shown():
    (message,) = unknown_variables({"RAG_OPENAI_APIKEY": "sk-test-SECRET123"})
    assert "did you mean RAG_OPENAI_API_KEY?" in message
    assert "SECRET" not in message


def test_every_variable_a_setting_reads_is_known():
    env = dict.fromkeys(environment_names(), "1")
    assert unknown_variables(env) == []
    assert {"RAG_PROFILE", "RAG_LLM_BASE_URL", "RAG_OPENAI_API_KEY", "RAG_PORT"} <= set(environment_names())


def test_settings_warn_once_about_an_unknown_variable_and_ignore_it(clean_env, caplog):
    clean_env.setenv("RAG_TOPK", "3")
    with caplog.at_level(logging.WARNING, logger="rag.config"):
        first, second = Settings(), Settings()
    assert first.top_k == second.top_k == 5
    warnings = [r.getMessage() for r in caplog.records if "RAG_TOPK" in r.getMessage()]
    assert warnings == [
        "RAG_TOPK is no paperchat setting and is ignored; did you mean RAG_TOP_K? (see docs/configuration.md)"
    ]


def test_a_command_prints_the_unknown_variable_warning():
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("RAG_")}
    env.update(RAG_TOPK="3", PYTHONPATH=str(ROOT))
    out = subprocess.run(
        [sys.executable, "-m", "rag.config"], env=env, capture_output=True, text=True, timeout=60, cwd=ROOT
    )
    assert out.returncode == 0, out.stderr
    assert "RAG_TOPK is no paperchat setting and is ignored; did you mean RAG_TOP_K?" in out.stderr
    assert "top_k = 5" in out.stdout


# -- profiles ----------------------------------------------------------------------------------------


def test_the_default_is_mpnet_and_small_is_one_setting_away(clean_env):
    s = Settings()
    assert (s.profile, s.paper_embedder, s.paper_dense_weight, s.paper_dense_temperature) == (
        "default",
        "mpnet",
        2.0,
        0.05,
    )
    assert s.answerability_model is None  # the shipped model of its paper embedder:
    assert default_model_file(s.paper_embedder) == PACKAGE_DIR / "answerability-mpnet.json"
    small = Settings.from_name("small")
    assert (small.profile, small.paper_embedder, small.feedback_weight, s.feedback_weight) == ("small", "none", 0, 1)
    assert (small.rerank, s.rerank) == (False, True)
    assert default_model_file(small.paper_embedder) == PACKAGE_DIR / "answerability.json"
    profile_fields = {"profile", "paper_embedder", "feedback_weight", "rerank"}
    assert small.model_dump(exclude=profile_fields) == s.model_dump(exclude=profile_fields)
    assert Settings.from_name("small", top_k=3).top_k == 3


def test_mpnet_the_old_opt_in_name_still_selects_the_default(clean_env):
    assert Settings.from_name("mpnet") == Settings() == Settings(profile="MPNet")
    clean_env.setenv("RAG_PROFILE", "mpnet")
    assert Settings().profile == "default"


def test_the_gemma_profile_is_the_default_but_for_its_paper_embedder(clean_env):
    gemma = Settings.from_name("gemma")
    assert (gemma.profile, gemma.paper_embedder) == ("gemma", "gemma") and gemma == Settings(profile="Gemma")
    assert gemma.model_dump(exclude={"profile", "paper_embedder"}) == Settings().model_dump(
        exclude={"profile", "paper_embedder"}
    )
    assert default_model_file(gemma.paper_embedder) == PACKAGE_DIR / "answerability-gemma.json"


def test_rag_profile_in_the_environment_and_explicit_settings_winning(clean_env):
    clean_env.setenv("RAG_PROFILE", "small")
    assert Settings() == Settings.from_name("small")
    clean_env.setenv("RAG_PAPER_EMBEDDER", "mpnet")
    s = Settings()
    assert (s.profile, s.paper_embedder) == ("small", "mpnet")
    assert Settings(profile="default").paper_embedder == "mpnet"


def test_an_unknown_profile_is_an_error(clean_env):
    with pytest.raises(ValueError, match="unknown profile 'bogus': choose one of default, gemma, small"):
        Settings.from_name("bogus")
    clean_env.setenv("RAG_PROFILE", "bogus")
    with pytest.raises(ValidationError, match="profile"):
        Settings()


# -- the fit record ----------------------------------------------------------------------------------


@pytest.mark.parametrize("profile", list(PROFILES))
def test_each_profile_matches_the_fit_of_its_model(clean_env, profile, caplog):
    s = Settings.from_name(profile)
    model = AnswerabilityModel.load(s.answerability_model or default_model_file(s.paper_embedder))
    assert isinstance(model.fitted_on, FitRecord)
    assert model.fitted_on.paper_embedder == s.paper_embedder
    assert model.fitted_on.questions == "eval/questions_tune.jsonl"
    with caplog.at_level(logging.WARNING, logger="rag.refusal_model"):
        assert warn_if_fitted_otherwise(model, s, MODEL_NAME) == []
    assert not caplog.records


def test_a_live_setting_that_differs_from_the_fit_is_warned_once(clean_env, caplog):
    model = AnswerabilityModel.load(default_model_file())
    s = Settings(profile="small", dense_weight=2.0, embed_int8=True, paper_dense_weight=9.0)
    with caplog.at_level(logging.WARNING, logger="rag.refusal_model"):
        messages = warn_if_fitted_otherwise(model, s, MODEL_NAME + "+int8")
        warn_if_fitted_otherwise(model, s, MODEL_NAME + "+int8")
    assert [m.split(",")[0] for m in messages] == [
        f"the answerability model was fitted with the chunk embedder={MODEL_NAME}",
        "the answerability model was fitted with RAG_DENSE_WEIGHT=1.0",
        "the answerability model was fitted with RAG_EMBED_INT8=False",
    ]  # paper_dense_weight plays no part without a paper-level embedder
    assert [r.getMessage() for r in caplog.records] == messages


def test_the_mpnet_model_with_mpnet_turned_off_is_warned(clean_env):
    s = Settings(paper_embedder="none", answerability_model=default_model_file("mpnet"))
    model = AnswerabilityModel.load(s.answerability_model)
    (message,) = warn_if_fitted_otherwise(model, s, MODEL_NAME)
    assert message.startswith("the answerability model was fitted with RAG_PAPER_EMBEDDER=mpnet, this run has none")


def test_an_old_model_file_with_a_free_text_fit_still_loads_and_warns_nothing(tmp_path):
    model = AnswerabilityModel.load(default_model_file()).model_copy(update={"fitted_on": "tune (166 questions)"})
    model.save(tmp_path / "old.json")
    old = AnswerabilityModel.load(tmp_path / "old.json")
    assert old.fitted_on == "tune (166 questions)"
    assert warn_if_fitted_otherwise(old, Settings(dense_weight=5.0)) == []


def test_the_retriever_warns_when_its_settings_differ_from_the_fit(seeds_index, caplog, monkeypatch):
    from rag.search import Retriever

    monkeypatch.setattr("rag.refusal_model._warned", set())
    with caplog.at_level(logging.WARNING, logger="rag.refusal_model"):
        Retriever(seeds_index.model_copy(update={"bm25_temperature": 2.0}))
    assert any("RAG_BM25_TEMPERATURE=1.0, this run has 2.0" in r.getMessage() for r in caplog.records)
