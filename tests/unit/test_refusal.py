"""Refusal evidence and the decision (rag.refusal): no index or Chroma needed."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from rag.landmarks import Landmark
from rag.models import Paper, PaperHit
from rag.question import CorpusNames, Query
from rag.refusal import (
    FEATURE_NAMES,
    FEATURES,
    LANDMARK_MATCH,
    Refusal,
    candidate_features,
    compares_a_shown_paper,
    decide,
    load_model,
    outside,
)
from rag.refusal_model import AnswerabilityModel, default_model_file

# P(answerable) = sigmoid(fused_top): 2 -> 0.88 (answer), 0 -> 0.5 (low confidence), -2 -> 0.12 (refuse)
MODEL = AnswerabilityModel(
    features=["fused_top"], mean=[0.0], scale=[1.0], coef=[1.0], intercept=0.0, answer_threshold=0.7, low_threshold=0.4
)
HITS = [PaperHit("p1"), PaperHit("p2"), PaperHit("p3")]


def _query(text: str = "what is HYPO", **fields) -> Query:
    return Query(question=text, text=text, **fields)


@pytest.mark.parametrize(("fused_top", "verdict"), [(2.0, "answer"), (0.0, "low_confidence"), (-2.0, "refuse")])
def test_the_model_decides_when_no_override_applies(fused_top, verdict):
    probability, decided = decide(MODEL, _query(), HITS, {"fused_top": fused_top}, k=3)
    assert decided == verdict
    assert probability == pytest.approx(MODEL.probability({"fused_top": fused_top}))


def test_no_evidence_is_a_refusal():
    assert decide(MODEL, _query(), [], {}, k=3) == (0.0, "refuse")


def test_a_question_about_nothing_but_a_retrieved_papers_name_is_answered():
    assert decide(MODEL, _query(only_name=["p2"]), HITS, {"fused_top": -2.0}, k=3)[1] == "answer"
    # the named paper past the top k: the model's verdict stands
    assert decide(MODEL, _query(only_name=["p3"]), HITS, {"fused_top": -2.0}, k=2)[1] == "refuse"


def test_a_short_ask_for_what_no_candidate_is_is_refused():
    absent = {"fused_top": 2.0, "asked_name_absent": 1.0}
    assert decide(MODEL, _query("What is Deep Sets?"), HITS, absent, k=3)[1] == "refuse"
    topic = _query(
        "explain in some detail how layer normalization steadies training", asked_topic="layer normalization"
    )
    assert decide(MODEL, topic, HITS, absent, k=3)[1] == "refuse"  # a topic ask, however long
    long = _query("how does the Deep Sets paper pool the features of a set of points in a cloud")
    assert decide(MODEL, long, HITS, absent, k=3)[1] == "answer"  # more than one thing asked: the model's call
    # naming a retrieved paper wins over the absent-name rule
    assert decide(MODEL, _query(only_name=["p1"]), HITS, absent, k=3)[1] == "answer"


def test_a_comparison_one_of_whose_sides_names_a_shown_paper_is_answered():
    """`compares_a_shown_paper` reads the sides from the question as the analyzer tidied it (`Query.plain`)."""
    low = {"fused_top": -2.0}
    typed = "Hi, compare HYPO and CIDER please"
    compare = _query(typed, named=["p1"], plain="compare HYPO and CIDER")
    assert compares_a_shown_paper(compare, HITS) and decide(MODEL, compare, HITS, low, k=3)[1] == "answer"
    assert not compares_a_shown_paper(replace(compare, named=["p9"]), HITS)  # the named paper is not shown
    assert not compares_a_shown_paper(_query("What is HYPO?", named=["p1"], plain="What is HYPO?"), HITS)
    assert not compares_a_shown_paper(replace(compare, plain=""), HITS)  # what it reads is the tidied question


LANDMARK = Landmark(title="Layer Normalization", year=2016, aka=["LayerNorm"], description="We normalise.")


@pytest.mark.parametrize(
    ("cosine", "margin", "named"),
    [(LANDMARK_MATCH + 0.1, 0.05, True), (LANDMARK_MATCH - 0.01, 0.05, False), (0.9, 0.0, False), (0.9, -0.1, False)],
)
def test_a_refusal_names_the_famous_paper_only_when_it_matches_closely_and_better(cosine, margin, named):
    found = outside(LANDMARK, cosine, {"landmark_margin": margin})
    assert (found == LANDMARK) is named
    assert outside(None, 0.99, {"landmark_margin": 1.0}) is None


def _refusal() -> Refusal:
    papers = {
        "p1": Paper(id="p1", title="HYPO: Hyperspherical OOD", abstract="We propose HYPO. HYPO learns spheres."),
        "p2": Paper(id="p2", title="Pointer Networks", abstract="Attention points at inputs to solve convex hulls."),
    }
    text = {pid: (p.title + " " + p.abstract).lower() for pid, p in papers.items()}

    def tokenize(s: str) -> list[str]:
        return [w for w in s.lower().replace(".", " ").replace(":", " ").split() if len(w) > 1]

    vocabulary: dict[str, int] = {}
    for t in text.values():
        for w in set(tokenize(t)):
            vocabulary[w] = vocabulary.get(w, 0) + 1
    names = CorpusNames.build(
        {pid: p.abstract for pid, p in papers.items()}, {pid: p.title for pid, p in papers.items()}, vocabulary
    )
    terms = {pid: set(tokenize(t)) for pid, t in text.items()}
    return Refusal(MODEL, papers, text, terms, names, tokenize, lambda term: 1.0)


def test_the_evidence_holds_exactly_the_registered_features():
    refusal = _refusal()
    hits = [PaperHit("p1", scores={"dense": 0.7}, ranks={"dense": 0}, fused=0.9), PaperHit("p2", fused=0.1)]
    evidence = refusal.evidence(
        _query("What is HYPO?", named=["p1"], asked_names=["hypo"]), hits, {"dense": [(0, 0.7), (1, 0.3)]}, 2, 0.4
    )
    assert set(evidence) == FEATURE_NAMES
    assert evidence["named"] == 1.0
    assert evidence["asked_name_absent"] == 0.0  # HYPO is p1's name
    assert evidence["landmark_margin"] == pytest.approx(0.4 - 0.7)
    missing = refusal.evidence(_query("What is Deep Sets?", asked_names=["deep sets"]), hits, {}, 2, 0.0)
    assert missing["asked_name_absent"] == 1.0


@pytest.mark.parametrize("paper_embedder", ["none", "mpnet"])
def test_the_shipped_models_read_registered_features_only(paper_embedder):
    path = default_model_file(paper_embedder)
    listed = json.loads(path.read_text(encoding="utf-8"))["features"]
    assert set(listed) <= FEATURE_NAMES
    assert "landmark_named" not in listed  # dropped from the evidence: neither model read it
    assert load_model(path).features == listed


def test_a_model_reading_an_unknown_feature_is_refused_at_load(tmp_path):
    path = tmp_path / "model.json"
    MODEL.model_copy(update={"features": ["landmark_named"]}).save(path)
    with pytest.raises(ValueError, match="landmark_named"):
        load_model(path)


def test_the_tuning_script_offers_the_registry():
    from tests.unit.test_answerability import _tune_script

    assert candidate_features(paper_level=False) == _tune_script().FEATURES
    assert candidate_features(paper_level=True) == [f.name for f in FEATURES]
