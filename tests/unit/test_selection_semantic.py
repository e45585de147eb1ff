"""The selection model's meaning features (paper-level vectors), its per-profile file, and its fallback
when an index has no paper vectors. Hand-made vectors and a fake paper collection, no index."""

from __future__ import annotations

import math
import os

import numpy as np
import pytest
from pydantic import ValidationError

from rag.answer.plan import Planner
from rag.config import PACKAGE_DIR, Settings
from rag.models import Paper, Source
from rag.retrieve import Ranker
from rag.selection import (
    FEATURES,
    SEMANTIC_FEATURES,
    SelectionModel,
    default_selection_file,
    features_for,
    semantic_features,
)


@pytest.fixture
def clean_env(monkeypatch):
    for key in [k for k in os.environ if k.upper().startswith("RAG_")]:
        monkeypatch.delenv(key)
    return monkeypatch


def _v(*xs: float) -> np.ndarray:
    return np.array(xs, dtype=float)


def test_semantic_features_cosine_gap_rank_and_cohesion():
    question = _v(1, 0, 0)
    papers = [
        _v(0.9, 0.3, 0),  # the topic's papers: near the question and each other
        _v(0.8, 0.5, 0),
        _v(0.85, 0.4, 0.1),
        _v(0.6, 0, 0.8),  # a neighbour that shares the question's direction but not the topic
        _v(0.6, 0.8, 0),  # as near the question as the neighbour, but on the topic's side
    ]
    rows = semantic_features(question, papers)
    cos = [row["mp_cos"] for row in rows]
    assert cos[0] == pytest.approx(0.9 / math.hypot(0.9, 0.3))
    assert max(cos) == cos[0] and rows[0]["mp_gap"] == 0.0 and rows[0]["mp_rank"] == 0.0
    assert rows[1]["mp_gap"] == pytest.approx(cos[0] - cos[1])
    assert [round(math.expm1(row["mp_rank"])) for row in rows] == [0, 2, 1, 3, 4]
    # same cosine to the question, but the one that sits with the topic is more cohesive
    assert cos[3] == pytest.approx(cos[4])
    assert rows[4]["mp_cohesion"] > rows[3]["mp_cohesion"] + 0.3


def test_semantic_features_are_absent_without_vectors():
    assert semantic_features(None, [_v(1, 0)]) == [{}]
    rows = semantic_features(_v(1, 0), [None, _v(1, 0), _v(0, 1)])
    assert rows[0] == {} and set(rows[1]) == set(SEMANTIC_FEATURES)
    # one candidate alone is its own topic
    assert semantic_features(_v(1, 0), [_v(1, 1)])[0]["mp_cohesion"] == 1.0


def test_a_missing_feature_reads_as_its_mean_and_adds_nothing():
    with_semantic = SelectionModel(
        features=["fused", "mp_cos"], mean=[0.1, 0.5], scale=[0.2, 0.1], coef=[1.0, 2.0], intercept=-1.0
    )
    without = SelectionModel(features=["fused"], mean=[0.1], scale=[0.2], coef=[1.0], intercept=-1.0)
    assert with_semantic.probability({"fused": 0.5}) == pytest.approx(without.probability({"fused": 0.5}))
    assert with_semantic.probability({"fused": 0.5, "mp_cos": 0.7}) > without.probability({"fused": 0.5})
    assert with_semantic.missing({"fused": 0.5}) == ["mp_cos"]


def test_each_setup_has_its_model_file_and_the_shipped_files_match_their_features():
    assert default_selection_file("none") == PACKAGE_DIR / "selection.json"
    assert default_selection_file("mpnet") == PACKAGE_DIR / "selection-mpnet.json"
    assert default_selection_file("gemma") == PACKAGE_DIR / "selection-gemma.json"
    assert features_for("none") == FEATURES
    assert features_for("mpnet") == features_for("gemma") == FEATURES + SEMANTIC_FEATURES
    for embedder in ("none", "mpnet", "gemma"):
        model = SelectionModel.load(default_selection_file(embedder))
        assert tuple(model.features) == features_for(embedder)
        assert "questions_forms_tune" in model.fitted_on and "test" not in model.fitted_on


def test_each_profile_reads_the_selection_model_of_its_paper_embedder(clean_env, tmp_path):
    assert Settings().selection_model is None  # the shipped file of its paper embedder
    assert default_selection_file(Settings().paper_embedder) == default_selection_file("mpnet")
    assert default_selection_file(Settings.from_name("gemma").paper_embedder).name == "selection-gemma.json"
    assert default_selection_file(Settings.from_name("small").paper_embedder).name == "selection.json"
    with pytest.raises(ValidationError, match=r"fit_selection\.py"):
        Settings(selection_model=tmp_path / "absent.json")


class _Collection:
    def __init__(self, vectors: dict[str, list[float]]) -> None:
        self.vectors = vectors
        self.asked: list[list[str]] = []

    def get(self, ids, include):
        self.asked.append(list(ids))
        held = [i for i in ids if i in self.vectors]
        return {"ids": held, "embeddings": [self.vectors[i] for i in held]}


class _Embedder:
    def embed_query(self, text: str) -> np.ndarray:
        return _v(1, 0)


class _Retriever:
    paper_vectors = Ranker.paper_vectors  # the real cached lookup, over the fake collection

    def __init__(self, collection=None, embedder=None) -> None:
        self.paper_collection = collection
        self.paper_embedder = embedder
        self._paper_vectors: dict = {}


def _source(n: int, pid: str) -> Source:
    return Source(n=n, paper=Paper(id=pid, title=pid, abstract=""), chunks=[], score=1.0)


def test_the_planner_reads_each_paper_vector_once_and_none_without_a_paper_embedder():
    collection = _Collection({"a": [1.0, 0.0], "b": [0.0, 1.0]})
    planner = Planner(_Retriever(collection, _Embedder()), sentences=None, model=None)  # type: ignore[arg-type]
    question, vectors = planner.paper_vectors("q", [_source(1, "a"), _source(2, "gone")])
    assert question.tolist() == [1.0, 0.0]
    assert vectors[0].tolist() == [1.0, 0.0] and vectors[1] is None
    _, vectors = planner.paper_vectors("q", [_source(1, "a"), _source(2, "b")])
    assert vectors[1].tolist() == [0.0, 1.0]
    assert collection.asked == [["a", "gone"], ["b"]]  # nothing asked twice
    plain = Planner(_Retriever(), sentences=None, model=None)  # type: ignore[arg-type]
    assert plain.paper_vectors("q", [_source(1, "a")]) == (None, [None])


class _BM25:
    vocab_df = {"sheaf": 1}  # noqa: RUF012


class _PlainRetriever(_Retriever):
    """A retriever without paper vectors (the small profile's index), enough for Planner.candidates."""

    bm25 = _BM25()

    def query_vector(self, text: str) -> np.ndarray:
        return _v(1, 0)

    def tokenize(self, text: str) -> list[str]:
        return text.lower().split()

    def idf(self, term: str) -> float:
        return 1.0


class _Sentences:
    def similarities(self, vector, paper_id):
        return {0: 0.5}


def test_an_mpnet_model_over_an_index_without_paper_vectors_warns_once_and_reads_the_means(caplog):
    from rag.question.analyzer import Query
    from rag.question.form import QuestionForm
    from rag.search import Retrieval

    features = list(features_for("mpnet"))
    n = len(features)
    model = SelectionModel(
        features=features, mean=[0.3] * n, scale=[1.0] * n, coef=[0.0] * (n - 1) + [5.0], intercept=0.0
    )
    planner = Planner(_PlainRetriever(), _Sentences(), model)  # type: ignore[arg-type]
    retrieval = Retrieval([_source(1, "a"), _source(2, "b")], "answer", Query("sheaf?", "sheaf"))
    with caplog.at_level("WARNING", logger="rag.answer.plan"):
        first = planner.candidates(QuestionForm("set"), retrieval)
        planner.candidates(QuestionForm("set"), retrieval)
    assert [r.message.count("mp_cohesion") for r in caplog.records] == [1]  # once, naming what is missing
    assert all(not set(SEMANTIC_FEATURES) & set(c.features) for c in first)
    # only mp_cohesion weighs (5.0), and absent it reads as its mean: z = 0 (read as 0 it would be -1.5)
    assert [c.probability for c in first] == pytest.approx([0.5, 0.5])
