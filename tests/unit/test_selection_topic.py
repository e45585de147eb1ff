"""A set question's own selection model and its topic features (rag.selection.topic_features, SET_FEATURES).
Hand-made papers and vectors, a fake retriever, no index."""

from __future__ import annotations

import numpy as np
import pytest

from rag.answer.plan import Planner
from rag.models import Paper, Source
from rag.question.form import QuestionForm
from rag.question.topic import topic_of
from rag.selection import (
    SET_FEATURES,
    TOPIC_FEATURES,
    Candidate,
    SelectionModel,
    choice,
    default_selection_file,
    fold,
    folded,
    topic_features,
    topic_head,
)


def _source(n: int, title: str, abstract: str = "", pid: str | None = None) -> Source:
    return Source(n=n, paper=Paper(id=pid or title, title=title, abstract=abstract), chunks=[], score=1.0 / n)


def _tokenize(text: str) -> list[str]:
    return [w for w in text.lower().split() if w not in {"of", "the", "a", "for", "and"}]


def test_fold_matches_plurals_and_word_families_not_other_words():
    assert fold("Encodings") == fold("encoding")
    assert fold("studies") == fold("study")
    assert fold("recommender") == fold("recommendation")  # the first STEM letters
    assert fold("tokenizers") == fold("tokenization")
    assert fold("class") == "class" and fold("corpus") == "corpus"  # not a plural
    assert fold("model") != fold("modular")
    assert folded("Mixture-of-Experts models") == folded("mixture of experts model")


def test_topic_head_ends_at_the_first_preposition():
    assert topic_head("sparse representations for text retrieval with an inverted index") == "sparse representations"
    assert topic_head("internal world model of a transformer") == "internal world model"
    assert topic_head("positional encoding") == "positional encoding"


def test_topic_features_phrase_in_title_beats_abstract_beats_words_alone():
    sources = [
        _source(1, "Rotary Positional Encodings for Transformers"),
        _source(2, "A Study of Transformers", "We study positional encoding schemes."),
        _source(3, "Encoding Positions", "A positional scheme for encoding order."),  # the words, not the phrase
        _source(4, "Graph Kernels", "Kernels on graphs."),
    ]
    rows = topic_features(("positional encoding",), sources, _tokenize, lambda term: 1.0)
    assert [r["topic_phrase"] for r in rows] == [2.0, 1.0, 0.0, 0.0]
    assert [r["topic_title"] for r in rows] == [1.0, 0.0, 1.0, 0.0]
    assert [r["topic_cover"] for r in rows] == [1.0, 1.0, 1.0, 0.0]
    assert not {"sent_topic", "mp_topic"} & set(rows[0])  # not given: left out, read as the mean


def test_topic_features_take_the_best_alternative_and_weigh_words_by_idf():
    sources = [_source(1, "Function vectors in large language models"), _source(2, "Task arithmetic with vectors")]
    idf = {"task": 1.0, "function": 1.0, "vectors": 3.0}
    rows = topic_features(("task vectors", "function vectors"), sources, _tokenize, lambda t: idf.get(t, 1.0))
    assert rows[0]["topic_title"] == 1.0 and rows[0]["topic_phrase"] == 2.0
    assert rows[1]["topic_title"] == 1.0 and rows[1]["topic_phrase"] == 0.0  # both words, not adjacent
    only_vectors = topic_features(("task vectors",), [_source(1, "Vectors")], _tokenize, lambda t: idf.get(t, 1.0))
    assert only_vectors[0]["topic_title"] == pytest.approx(3.0 / 4.0)


def test_topic_features_meaning_cosines_and_their_place_among_the_candidates():
    sources = [_source(i, f"p{i}") for i in (1, 2, 3)]
    sims = [{0: 0.2, 40: 0.7}, {0: 0.5}, {}]
    vectors = [np.array([1.0, 0.0]), np.array([0.6, 0.8]), None]
    rows = topic_features((), sources, _tokenize, lambda t: 1.0, sims, np.array([2.0, 0.0]), vectors)
    assert [r["sent_topic"] for r in rows] == [0.7, 0.5, 0.0]
    assert rows[0]["sent_topic_z"] > 0 > rows[2]["sent_topic_z"]
    assert sum(r["sent_topic_z"] for r in rows) == pytest.approx(0.0)
    assert rows[0]["mp_topic"] == pytest.approx(1.0) and rows[1]["mp_topic"] == pytest.approx(0.6)
    assert rows[1]["mp_topic_gap"] == pytest.approx(0.4) and rows[0]["mp_topic_z"] == pytest.approx(1.0)
    assert "mp_topic" not in rows[2]  # no paper vector: left out
    assert rows[0]["topic_phrase"] == 0.0  # no alternatives: no phrase


def _model(features: list[str], coef: list[float], threshold: float = 0.5, **update) -> SelectionModel:
    n = len(features)
    return SelectionModel(
        features=features, mean=[0.0] * n, scale=[1.0] * n, coef=coef, intercept=0.0, set_threshold=threshold, **update
    )


def test_a_set_question_takes_the_set_model_and_its_threshold_other_forms_the_joint_one():
    set_model = _model(["topic_cover"], [4.0], threshold=0.9)
    joint = _model(["fused"], [1.0], threshold=0.1, set_model=set_model)
    assert joint.for_form(QuestionForm("set")) is set_model
    for form in ("single", "comparison", "limitation"):
        assert joint.for_form(QuestionForm(form)) is joint  # type: ignore[arg-type]
    # probabilities as the set model gives them: 0.98, 0.88, 0.5
    candidates = [
        Candidate(_source(n, f"p{n}"), {}, probability=set_model.probability({"topic_cover": x}))
        for n, x in ((1, 1.0), (2, 0.5), (3, 0.0))
    ]
    assert [c.source.n for c in choice(QuestionForm("set"), candidates, joint, k=5).chosen] == [1]  # 0.9 cuts, not 0.1
    # a question asked across papers keeps the joint model's threshold
    chosen = choice(QuestionForm("limitation"), candidates, joint, k=5, many=True).chosen
    assert [c.source.n for c in chosen] == [1, 2, 3]


def test_the_set_model_survives_a_save_and_load(tmp_path):
    model = _model(["fused"], [1.0], set_model=_model(["topic_cover"], [2.0], threshold=0.3))
    model.save(tmp_path / "m.json")
    loaded = SelectionModel.load(tmp_path / "m.json")
    assert loaded == model and loaded.set_model is not None and loaded.set_model.set_threshold == 0.3


def test_the_shipped_mpnet_model_has_a_set_model_fitted_on_tune_set_questions():
    shipped = SelectionModel.load(default_selection_file("mpnet"))
    assert shipped.set_model is not None
    assert tuple(shipped.set_model.features) == SET_FEATURES
    assert "set questions" in shipped.set_model.fitted_on
    assert SelectionModel.load(default_selection_file("none")).set_model is None  # the small profile: joint only


class _BM25:
    vocab_df = {"sheaf": 1}  # noqa: RUF012


class _Retriever:
    """Enough of a retriever for Planner.candidates, with paper vectors, counting the query embeddings."""

    bm25 = _BM25()
    paper_collection = object()

    def __init__(self) -> None:
        self.embedded: list[str] = []
        self.paper_embedder = self

    def embed_query(self, text: str) -> np.ndarray:
        self.embedded.append(text)
        return np.array([1.0, 0.0])

    def paper_vectors(self, ids):
        return {"a": np.array([1.0, 0.0]), "b": np.array([0.0, 1.0])}

    def query_vector(self, text: str) -> np.ndarray:
        return np.array([1.0, 0.0])

    def tokenize(self, text: str) -> list[str]:
        return _tokenize(text)

    def idf(self, term: str) -> float:
        return 1.0


class _Sentences:
    def similarities(self, vector, paper_id):
        return {0: 0.9 if paper_id == "a" else 0.1}


def test_the_planner_measures_a_set_questions_candidates_against_its_topic_only():
    from rag.question.analyzer import Query
    from rag.search import Retrieval

    set_model = _model(["mp_topic"], [5.0])
    retriever = _Retriever()
    planner = Planner(retriever, _Sentences(), _model(["fused"], [0.0], set_model=set_model))  # type: ignore[arg-type]
    sources = [_source(1, "Sheaf neural networks", pid="a"), _source(2, "Graph kernels", pid="b")]
    retrieval = Retrieval(sources, "answer", Query("Which papers are about sheaf networks?", "papers sheaf networks"))
    question = "Which papers are about sheaf networks?"
    topic = planner.topic_of(question, QuestionForm("set"))
    assert topic == topic_of(question)
    candidates = planner.candidates(QuestionForm("set"), retrieval, topic)
    assert set(TOPIC_FEATURES) <= set(candidates[0].features)
    # one more query embedding by the paper embedder, the topic's (the question's is retrieval's, cached)
    assert retriever.embedded.count("sheaf networks") == 1 and len(retriever.embedded) == 2
    assert candidates[0].probability > 0.99 and candidates[1].probability == pytest.approx(0.5)
    # a single-paper question: no topic, the joint model (a zero model: 0.5 for each)
    assert planner.topic_of("What is a sheaf network?", QuestionForm("single")) is None
    single = planner.candidates(QuestionForm("single"), retrieval)
    assert [c.probability for c in single] == [0.5, 0.5] and "mp_topic" not in single[0].features


def test_an_across_paper_question_is_chosen_as_a_set_over_its_topic_and_written_in_its_form():
    from rag.question.topic import across_topic

    question = "What limitations of sheaf networks do the papers here point out?"
    form = QuestionForm("limitation", aspect="limitation")
    planner = Planner(_Retriever(), _Sentences(), _model(["fused"], [0.0], set_model=_model(["mp_topic"], [5.0])))  # type: ignore[arg-type]
    scoring, topic = planner.scoring(question, form)
    assert scoring.form == "set" and scoring.aspect == "limitation"
    assert topic == across_topic(question) and topic is not None and topic.text == "sheaf networks"
    # one paper's limitation: its own form, no topic
    single = "What are the limitations of the sheaf network paper?"
    assert planner.scoring(single, form) == (form, None)
    # without a set model the joint model scores it, as before
    joint_only = Planner(_Retriever(), _Sentences(), _model(["fused"], [0.0]))  # type: ignore[arg-type]
    assert joint_only.scoring(question, form) == (form, None)
