"""Set expansion (rag.selection.expansion_features, SelectionModel.second_pass): each candidate measured against the
first pass's surest other paper and the off-topic tail, then scored again. Hand-made vectors and words, no index."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from rag.answer.plan import Planner
from rag.models import Paper, Source
from rag.question.form import QuestionForm
from rag.retrieve import Ranker
from rag.selection import (
    EXPANSION_FEATURES,
    RARE_IDF,
    Candidate,
    SelectionModel,
    choice,
    default_selection_file,
    expansion_features,
)
from tests.unit.selection_fixtures import candidates_with, flat_model


def _unit(*xs: float) -> np.ndarray:
    v = np.array(xs, dtype=float)
    return v / np.linalg.norm(v)


IDF = {"sheaf": 6.0, "cohomology": 5.0, "the": 0.1, "neural": 2.0, "lattice": 4.5}


def _idf(term: str) -> float:
    return IDF.get(term, 0.0)


def test_each_candidate_is_measured_against_the_most_probable_other_and_the_tail():
    vectors = [_unit(1, 0, 0), _unit(0.9, 0.3, 0), _unit(0.8, 0, 0.6), _unit(0, 1, 0), _unit(0, 0.6, 0.8)]
    probabilities = [0.9, 0.7, 0.5, 0.1, 0.05]
    words = [{"sheaf", "the"}] * 5
    rows = expansion_features(probabilities, vectors, words, _idf)
    # the first pass's favourite is measured against the next most probable, every other one against it
    assert rows[0]["sure_cos"] == pytest.approx(float(vectors[0] @ vectors[1]))
    for i in (1, 2, 3, 4):
        assert rows[i]["sure_cos"] == pytest.approx(float(vectors[i] @ vectors[0]))
    # with EXPANSION_TAIL = 5 the tail of a 5-candidate question is every other candidate
    for i in range(5):
        tail = np.mean([vectors[j] for j in range(5) if j != i], axis=0)
        tail /= np.linalg.norm(tail)
        assert rows[i]["sure_margin"] == pytest.approx(rows[i]["sure_cos"] - float(vectors[i] @ tail))
    assert rows[1]["sure_margin"] > rows[3]["sure_margin"]  # near the sure paper beats near the tail


def test_the_tail_is_the_least_probable_others_and_order_of_input_does_not_matter():
    rng = np.random.default_rng(7)
    vectors = [_unit(*rng.normal(size=4)) for _ in range(9)]
    probabilities = list(rng.uniform(size=9))
    words = [set() for _ in range(9)]
    rows = expansion_features(probabilities, vectors, words, _idf)
    order = sorted(range(9), key=lambda i: -probabilities[i])
    i = order[3]
    tail = [vectors[j] for j in reversed(order) if j != i][:5]
    centroid = np.mean(tail, axis=0)
    centroid /= np.linalg.norm(centroid)
    assert rows[i]["sure_margin"] == pytest.approx(float(vectors[i] @ vectors[order[0]] - vectors[i] @ centroid))
    perm = list(rng.permutation(9))
    again = expansion_features([probabilities[j] for j in perm], [vectors[j] for j in perm], words, _idf)
    for new, old in enumerate(perm):
        assert again[new] == pytest.approx(rows[old])


def test_sure_words_is_the_idf_share_of_the_sure_papers_rare_words():
    assert RARE_IDF == 4.0
    words = [{"sheaf", "cohomology", "the", "neural"}, {"sheaf", "the", "neural"}, {"the", "neural"}, {"lattice"}]
    rows = expansion_features([0.9, 0.6, 0.3, 0.2], [None] * 4, words, _idf)
    # the sure paper's rare words: sheaf (6) and cohomology (5); "the" and "neural" are too common to count
    assert rows[1]["sure_words"] == pytest.approx(6 / 11)
    assert rows[2]["sure_words"] == 0.0
    assert rows[0]["sure_words"] == pytest.approx(1.0)  # the favourite against the second: sheaf, which it has
    # no paper vectors: the vector features are left out (the model reads their means)
    assert all(set(row) == {"sure_words"} for row in rows)
    # the second's rare words are sheaf alone; a sure paper without rare words gives 0, not a division by zero
    assert expansion_features([0.9, 0.1], [None, None], [{"the"}, {"the"}], _idf)[1]["sure_words"] == 0.0


def test_fewer_than_two_candidates_have_nothing_to_expand_from():
    assert expansion_features([], [], [], _idf) == []
    assert expansion_features([0.8], [_unit(1, 0)], [{"sheaf"}], _idf) == [{}]


def _model(features: list[str], coef: list[float], **update: object) -> SelectionModel:
    return flat_model(features, coef, **update)


_candidates = candidates_with


def test_choose_cuts_a_set_with_the_second_pass_threshold():
    candidates = _candidates([0.9, 0.5, 0.35, 0.2])
    second = _model(["rank"], [0.0], set_threshold=0.3)
    first = _model(["rank"], [0.0], set_threshold=0.8, second_pass=second)
    joint = _model(["rank"], [0.0], set_threshold=0.95, set_model=first)
    assert first.final is second and second.final is second
    assert [c.source.n for c in choice(QuestionForm("set"), candidates, joint, k=5).chosen] == [1, 2, 3]
    one_pass = joint.model_copy(update={"set_model": first.model_copy(update={"second_pass": None})})
    assert [c.source.n for c in choice(QuestionForm("set"), candidates, one_pass, k=5).chosen] == [1]


class _Collection:
    def __init__(self, vectors: dict[str, list[float]]) -> None:
        self.vectors = vectors

    def get(self, ids, include):
        held = [i for i in ids if i in self.vectors]
        return {"ids": held, "embeddings": [self.vectors[i] for i in held]}


class _BM25:
    vocab_df = {"sheaf": 1}  # noqa: RUF012


class _Retriever:
    """Paper vectors from a fake collection, words split on spaces: enough for Planner.candidates."""

    paper_vectors = Ranker.paper_vectors
    bm25 = _BM25()

    def __init__(self, vectors: dict[str, list[float]]) -> None:
        self.paper_collection = _Collection(vectors)
        self.paper_embedder = self
        self._paper_vectors: dict = {}

    def embed_query(self, text: str) -> np.ndarray:
        return np.array([1.0, 0.0, 0.0])

    def query_vector(self, text: str) -> np.ndarray:
        return np.array([1.0, 0.0])

    def tokenize(self, text: str) -> list[str]:
        return text.lower().split()

    def idf(self, term: str) -> float:
        return _idf(term)


class _Sentences:
    def similarities(self, vector, paper_id):
        return {0: 0.5}


def test_the_planner_scores_a_set_question_again_with_the_expansion_features():
    from rag.question.analyzer import Query
    from rag.search import Retrieval

    vectors = {"a": [1.0, 0.0, 0.0], "b": [0.0, 1.0, 0.0], "c": [0.96, 0.28, 0.0]}
    sources = [
        Source(n=n, paper=Paper(id=pid, title=pid, abstract=text), chunks=[], score=1.0)
        for n, (pid, text) in enumerate([("a", "sheaf cohomology"), ("b", "neural"), ("c", "sheaf")], 1)
    ]
    # the first pass favours the top-ranked paper (rank), the second weighs only closeness to the surest other
    first_pass = _model(["rank"], [-3.0])
    second = _model(["sure_cos"], [4.0], set_threshold=0.6)
    planner = Planner(_Retriever(vectors), _Sentences(), first_pass.model_copy(update={"second_pass": second}))
    retrieval = Retrieval(sources, "answer", Query("sheaf?", "sheaf"))
    candidates = planner.candidates(QuestionForm("set"), retrieval)
    assert all(set(EXPANSION_FEATURES) <= set(c.features) for c in candidates)
    sure_cos = [c.features["sure_cos"] for c in candidates]
    # the first pass ranks a, b, c: a's surest other is b (orthogonal), b's and c's is a
    assert sure_cos == pytest.approx([0.0, 0.0, 0.96])
    expected = [1 / (1 + math.exp(-4.0 * s)) for s in sure_cos]
    assert [c.probability for c in candidates] == pytest.approx(expected)
    assert candidates[2].features["sure_words"] == pytest.approx(6 / 11)  # a's sheaf, not its cohomology
    # without a second pass the first pass's probabilities stand
    planner.model = first_pass
    plain = planner.candidates(QuestionForm("set"), retrieval)
    assert [c.probability for c in plain] == pytest.approx([1 / (1 + math.exp(3.0 * math.log1p(r))) for r in range(3)])
    assert not set(EXPANSION_FEATURES) & set(plain[0].features)


def test_a_second_pass_round_trips_and_the_shipped_file_has_none(tmp_path):
    model = _model(["rank"], [1.0], set_model=_model(["rank"], [1.0], second_pass=_model(["sure_cos"], [2.0])))
    model.save(tmp_path / "m.json")
    again = SelectionModel.load(tmp_path / "m.json")
    assert again.set_model is not None and again.set_model.second_pass == _model(["sure_cos"], [2.0])
    shipped = json.loads(default_selection_file("mpnet").read_text(encoding="utf-8"))
    assert shipped["set_model"].get("second_pass") is None  # not adopted (docs/evaluation-forms.md, "Set expansion")


def _fit_script():
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "scripts" / "fit_selection.py"
    spec = importlib.util.spec_from_file_location("fit_selection", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _synthetic_item(fit, rng: np.random.Generator, n: int = 8):
    """A set question whose gold papers sit together in vector space; its topic cosine is a noisy hint."""
    topic = _unit(*rng.normal(size=6))
    gold = set(rng.choice(n, size=3, replace=False).tolist())
    vectors = [_unit(*(topic * (2.0 if i in gold else 0.0) + rng.normal(size=6))) for i in range(n)]
    item = fit.Item.__new__(fit.Item)
    item.candidates = [
        Candidate(
            Source(n=i + 1, paper=Paper(id=f"p{i}", title=f"p{i}", abstract=""), chunks=[], score=1.0),
            {"rank": math.log1p(i), "mp_topic": float(vectors[i] @ topic) + float(rng.normal(scale=0.5))},
        )
        for i in range(n)
    ]
    item.labels = [int(i in gold) for i in range(n)]
    item.gold = {f"p{i}" for i in gold}
    item.vectors, item.words, item.idf = vectors, [set() for _ in range(n)], _idf
    return item


def test_the_fit_trains_a_second_pass_on_held_out_first_pass_probabilities():
    fit = _fit_script()
    rng = np.random.default_rng(3)
    items = [_synthetic_item(fit, rng) for _ in range(16)]
    grid = [round(0.05 * i, 2) for i in range(1, 20)]
    one_pass = fit.fit_set_model(items, grid, 5, [1.0])
    assert one_pass.second_pass is None and one_pass.final is one_pass
    model = fit.fit_set_model(items, grid, 5, [1.0, 10.0], expand=True)
    second = model.second_pass
    assert second is not None and second.features[-3:] == list(EXPANSION_FEATURES)
    assert second.set_threshold in grid and model.notes["loqo_ap"] <= second.notes["loqo_ap"]
    # gold papers resemble each other: closeness to the surest paper weighs for a paper
    assert second.coef[second.features.index("sure_cos")] > 0
    # the fit scores a question as the planner does: through the second pass
    item = items[0]
    first = [model.probability(c.features) for c in item.candidates]
    rows = expansion_features(first, item.vectors, item.words, item.idf)
    expected = [second.probability(c.features | row) for c, row in zip(item.candidates, rows, strict=True)]
    assert item.probabilities(model) == pytest.approx(expected)
    assert item.probabilities(one_pass) == pytest.approx([one_pass.probability(c.features) for c in item.candidates])
