"""One request model (`rag.models.AskRequest`) for `rag.ask`, `Pipeline.ask/stream` and the `/ask` API.

Wrong types and values get one clear message (issue 21: `{"error": null}` and a traceback before,
or k=2.7 / mode "bogus" run silently as something else); a lone surrogate is cleaned, not a
TypeError from the tokenizer.
"""

from __future__ import annotations

import logging

import pytest

from rag.models import MAX_HISTORY_TURNS, MAX_TITLE_CHARS, AskRequest, HistoryTurn, InvalidQuestion

POINTER = "Which paper introduced pointer networks?"
BAD_REQUESTS = [
    ({"k": "abc"}, "k must be a whole number from 1 to 20 (got 'abc')"),
    ({"k": None}, "k must be a whole number from 1 to 20 (got None)"),
    ({"k": 2.7}, "k must be a whole number from 1 to 20 (got 2.7)"),
    ({"k": True}, "k must be a whole number from 1 to 20 (got True)"),
    ({"mode": "bogus"}, "mode must be one of auto, extractive, llm (got 'bogus')"),
    ({"history": "earlier"}, "history must be a list of earlier turns, not str"),
    ({"history": [1, 2]}, "history[0]: a history turn must be a record with a question, not int"),
    (
        {"history": [{"question": "q", "citations": [{"n": 1, "title": "Pointer Networks"}]}]},
        "a citation of an earlier answer has no paper_id",
    ),
    ({"history": [{"question": "q", "cited_titles": ["Pointer Networks"]}]}, "one cited_paper_ids entry per"),
    ({"history": [{"question": "q", "shown_paper_ids": ["p", "q"], "shown_titles": ["P"]}]}, "one shown_paper_ids"),
    (
        {"history": [{"question": "q", "citations": [], "sources": [{"n": 1, "paper_id": "p"}]}]},
        "a source of an earlier answer has no title",
    ),
    ({"history": [{"cited_titles": []}]}, "history[0].question: Field required"),
]
BAD_IDS = ["k-abc", "k-null", "k-2.7", "k-true", "mode-bogus", "history-str", "history-ints", "no-paper-id",
           "unpaired", "unpaired-shown", "source-no-title", "no-question"]  # fmt: skip


@pytest.mark.parametrize(("fields", "says"), BAD_REQUESTS, ids=BAD_IDS)
def test_wrong_types_are_one_clear_message(fields, says):
    with pytest.raises(InvalidQuestion) as info:
        AskRequest.parse(**{"question": POINTER, **fields})
    assert says in str(info.value)


def test_every_accepted_history_form_becomes_the_same_turn(pipeline):
    answer = pipeline.ask(POINTER)
    record = {"question": POINTER, "text": answer.text, "citations": [c.model_dump() for c in answer.citations]}
    first = answer.citations[0]
    light = {"question": POINTER, "cited_paper_ids": [first.paper_id], "cited_titles": [first.title]}
    forms = [(POINTER, answer), record, light]
    turns = [AskRequest.parse("what about it?", history=[form]).history[0] for form in forms]
    assert all(isinstance(t, HistoryTurn) for t in turns)
    assert {t.cited()[0] for t in turns} == {(first.paper_id, first.title)}


def test_a_turn_keeps_every_source_its_answer_showed_in_their_numbered_order(pipeline):
    """A follow-up over a set chooses among the papers an answer showed, not only those it quoted (issue 20):
    every accepted form of a turn carries them, so rag.ask, the web chat and /ask read the same history."""
    answer = pipeline.ask("Which papers here study mixture-of-experts models?")
    shown = [(s.paper.id, s.paper.title) for s in sorted(answer.sources, key=lambda s: s.n)]
    assert len(shown) > len({c.paper_id for c in answer.citations})  # a source it did not quote
    record = {
        "question": answer.question,
        "citations": [c.model_dump() for c in answer.citations],
        "sources": [{"n": s.n, "paper_id": s.paper.id, "title": s.paper.title} for s in reversed(answer.sources)],
    }
    for form in [(answer.question, answer), record]:
        turn = AskRequest.parse("which of them is about stocks?", history=[form]).history[0]
        assert list(zip(turn.shown_paper_ids, turn.shown_titles, strict=True)) == shown


def test_bounds_on_history_are_checked(pipeline):
    turn = {"question": "q", "cited_paper_ids": ["p"], "cited_titles": ["t"]}
    with pytest.raises(InvalidQuestion, match=f"history has {MAX_HISTORY_TURNS + 1} entries; the limit is"):
        AskRequest.parse(POINTER, history=[turn] * (MAX_HISTORY_TURNS + 1))
    huge = {**turn, "cited_titles": ["x" * 1_000_000]}
    with pytest.raises(
        InvalidQuestion, match=f"a cited title is 1,000,000 characters long; the limit is {MAX_TITLE_CHARS}"
    ):
        pipeline.ask(POINTER, history=[huge])


def test_a_lone_surrogate_is_cleaned_not_a_type_error(pipeline):
    with pytest.raises(InvalidQuestion, match="Please type a question"):
        pipeline.ask("\ud800")
    answer = pipeline.ask("pointer networks \ud800?")
    assert answer.sources[0].paper.title == "Pointer Networks"
    assert "\ud800" not in answer.question
    title = answer.citations[0].title
    follow = pipeline.ask(
        "what did it\udfff improve on?",
        history=[{"question": "pointer \ud800", "cited_paper_ids": [answer.citations[0].paper_id],
                  "cited_titles": [title + "\ud800"]}],
    )  # fmt: skip
    assert title in follow.standalone_question


def test_rag_ask_refuses_a_bad_request_before_loading_the_index(monkeypatch):
    import rag.pipeline

    def no_index():
        raise AssertionError("the index was loaded for a bad request")

    monkeypatch.setattr(rag.pipeline, "get_pipeline", no_index)
    with pytest.raises(InvalidQuestion, match="k must be a whole number"):
        rag.ask(POINTER, k="abc")
    with pytest.raises(InvalidQuestion, match="history must be a list"):
        rag.ask(POINTER, history="earlier")


# -- the /ask API of a running server --------------------------------------------------------------
@pytest.mark.browser
@pytest.mark.parametrize(("fields", "says"), BAD_REQUESTS, ids=BAD_IDS)
def test_api_ask_refuses_wrong_types_clearly_and_logs_one_line(app_url, caplog, capfd, fields, says):
    from gradio_client import Client

    client = Client(app_url, verbose=False)
    request = {"question": POINTER, "k": 5, "mode": "auto", "history": None, **fields}
    capfd.readouterr()
    with caplog.at_level(logging.INFO, logger="rag.ui.app"), pytest.raises(Exception) as info:
        client.predict(request["question"], request["k"], request["mode"], request["history"], api_name="/ask")
    assert says in str(info.value)
    refused = [r for r in caplog.records if "/ask refused" in r.getMessage()]
    assert len(refused) == 1 and refused[0].exc_info is None
    out, err = capfd.readouterr()
    assert "Traceback" not in out + err


@pytest.mark.browser
def test_api_ask_cleans_a_lone_surrogate(app_url):
    from tests.helpers import call_api

    event, result = call_api(app_url, "ask", "pointer networks\ud800?", 5, "auto", None)
    assert event == "complete", result
    assert result[0]["sources"][0]["title"] == "Pointer Networks"
    event, message = call_api(app_url, "ask", "\ud800", 5, "auto", None)
    assert event == "error"
    assert "Please type a question" in str(message)
