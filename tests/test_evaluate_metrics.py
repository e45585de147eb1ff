"""Evaluation: metric functions on hand-made cases, and `rag eval --compare` end to end."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rag import evaluate as ev
from tests.conftest import DEV_QUESTIONS

ROOT_EVAL = DEV_QUESTIONS.parent

A, B, C, D = "Paper A", "Paper B", "Paper C", "Paper D"


# -- ranked metrics --------------------------------------------------------------------------------
def test_first_gold_rank_and_hits() -> None:
    retrieved = [B, A, C]
    assert ev.first_gold_rank(retrieved, [A]) == 2
    assert ev.hit_at(retrieved, [A], 1) == 0.0
    assert ev.hit_at(retrieved, [A], 2) == 1.0
    assert ev.reciprocal_rank(retrieved, [A]) == 0.5
    assert ev.reciprocal_rank(retrieved, [D]) == 0.0
    assert ev.first_gold_rank(retrieved, [D]) is None


def test_duplicate_retrieved_titles_count_once() -> None:
    # the same paper twice (case/space variants) must not push the gold paper down a rank
    retrieved = [B, "paper  b", A]
    assert ev.distinct_titles(retrieved) == [B, A]
    assert ev.first_gold_rank(retrieved, [A]) == 2
    assert ev.hit_at(retrieved, [A], 2) == 1.0
    assert ev.recall_at([B, B, B, B, B, A], [A], 5) == 1.0


def test_two_gold_papers_tie_on_first_rank_and_partial_recall() -> None:
    retrieved = [C, A, B, D]
    assert ev.first_gold_rank(retrieved, [B, A]) == 2  # the first of the golds found decides
    assert ev.recall_at(retrieved, [A, B], 2) == 0.5
    assert ev.recall_at(retrieved, [A, B, "Paper Z"], 5) == pytest.approx(2 / 3)
    assert ev.recall_at(retrieved, [A, A], 5) == 1.0  # duplicate gold counts once


def test_mrr_cutoff_at_ten() -> None:
    retrieved = [f"x{i}" for i in range(10)] + [A]
    assert ev.first_gold_rank(retrieved, [A]) == 11
    assert ev.reciprocal_rank(retrieved, [A], 10) == 0.0
    assert ev.reciprocal_rank(retrieved[-10:], [A], 10) == 0.1


def test_empty_inputs() -> None:
    assert ev.first_gold_rank([], [A]) is None
    assert ev.hit_at([], [A], 5) == 0.0
    assert ev.recall_at([A], [], 5) is None
    assert ev.citation_precision([], [A]) is None
    assert ev.citation_recall([], [A]) == 0.0
    assert ev.citation_recall([A], []) is None
    assert ev.percentile([], 50) is None
    assert ev.mean([None, None]) is None


def test_citation_metrics() -> None:
    assert ev.citation_precision([A, B], [A]) == 0.5
    assert ev.citation_precision([A, "paper a"], [A]) == 1.0
    assert ev.citation_recall([A], [A, B]) == 0.5


def test_token_f1_squad_style() -> None:
    assert ev.token_f1("The cat sat.", "a cat sat") == 1.0  # articles and punctuation ignored
    # pred: [cat, sat, on, mat]; ref: [cat, sat]; common 2 -> P=0.5, R=1 -> F1=2/3
    assert ev.token_f1("the cat sat on the mat", "cat sat") == pytest.approx(2 / 3)
    assert ev.token_f1("dog", "cat") == 0.0
    assert ev.token_f1("", "") == 1.0
    assert ev.token_f1("", "cat") == 0.0
    # multiplicity: pred [a1, a1], ref [a1] -> common 1, P=0.5, R=1
    assert ev.token_f1("x x", "x") == pytest.approx(2 / 3)


def test_percentile_interpolates() -> None:
    assert ev.percentile([1, 2, 3, 4], 50) == 2.5
    assert ev.percentile([10], 95) == 10
    assert ev.percentile([0, 100], 95) == 95


def _row(qtype: str, gold: list[str], retrieved: list[str], cited: list[str], refused: bool, answer: str) -> dict:
    row = {
        "id": qtype,
        "type": qtype,
        "question": "q",
        "gold_titles": gold,
        "reference_answer": "cat sat",
        "retrieved": retrieved,
        "cited": cited,
        "refused": refused,
        "answer": answer,
        "latency_ms": 10.0,
    }
    row.update(ev.score_row(row))
    return row


def test_aggregate_covers_answerable_and_unanswerable_separately() -> None:
    rows = [
        _row("single", [A], [A, B], [A], False, "cat sat"),  # rank 1, perfect
        _row("single", [B], [A, C, B], [], True, "not in corpus"),  # rank 3, falsely refused
        _row("unanswerable", [], [C], [], True, "not in corpus"),  # correctly refused
        _row("unanswerable", [], [D], [D], False, "dog"),  # answered though it should not
    ]
    rows[1]["latency_ms"], rows[2]["latency_ms"], rows[3]["latency_ms"] = 20.0, 30.0, 40.0
    summary = ev.aggregate(rows)
    assert set(ev.METRICS) <= set(summary)
    assert summary["n"] == 4
    assert summary["hit@1"] == 0.5
    assert summary["hit@5"] == 1.0
    assert summary["mrr@10"] == pytest.approx((1 + 1 / 3) / 2)
    assert summary["recall@5"] == 1.0
    assert summary["refusal_accuracy"] == 0.5
    assert summary["false_refusal_rate"] == 0.5
    assert summary["citation_precision"] == 1.0  # only the answer that cites something counts
    assert summary["citation_recall"] == 0.5
    assert summary["answer_f1"] == pytest.approx(0.5)  # 1.0 and 0.0 over the answerable two
    assert summary["latency_ms_p50"] == 25.0
    by_type = ev.by_type(rows)
    assert list(by_type) == ["single", "unanswerable"]
    assert by_type["unanswerable"]["hit@5"] is None
    assert by_type["single"]["refusal_accuracy"] is None


# -- question files --------------------------------------------------------------------------------
def test_malformed_lines_warn_with_line_number_and_the_rest_loads(tmp_path: Path) -> None:
    good = DEV_QUESTIONS.read_text().splitlines()[:2]
    path = tmp_path / "q.jsonl"
    path.write_text("\n".join([good[0], "{not json", "", '{"id": "x"}', good[1], "[1, 2]"]) + "\n")
    loaded = ev.load_questions(path)
    assert [q["id"] for q in loaded.questions] == [json.loads(g)["id"] for g in good]
    assert len(loaded.warnings) == 3
    assert ":2:" in loaded.warnings[0]
    assert "JSON" in loaded.warnings[0]
    assert ":4:" in loaded.warnings[1]
    assert ":6:" in loaded.warnings[2]


def test_malformed_line_in_a_run_still_evaluates_the_rest(pipeline, tmp_path: Path, capsys) -> None:
    good = DEV_QUESTIONS.read_text().splitlines()[:3]
    path = tmp_path / "q.jsonl"
    path.write_text("\n".join([good[0], '{"id": "broken", "question": ', good[1], good[2]]))
    report = ev.run(path, tmp_path / "out", retrieval_only=True, pipeline=pipeline, progress=False)
    assert report["summary"]["n"] == 3
    assert "line 2" in capsys.readouterr().err.replace(":2:", "line 2")
    assert (tmp_path / "out" / "report.json").is_file()


# -- end to end --------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def compare_report(seeds_index, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`rag eval eval/dev_questions.jsonl --out DIR --compare` over the session index."""
    from rag.cli import main

    out = tmp_path_factory.mktemp("eval") / "dev"
    assert main(["eval", str(DEV_QUESTIONS), "--out", str(out), "--compare"]) == 0
    return out


def test_compare_writes_reports_that_parse(compare_report: Path) -> None:
    report = json.loads((compare_report / "report.json").read_text())
    assert {"summary", "by_type", "questions", "systems"} <= set(report)
    assert set(report["systems"]) == {"ours", "bm25", "dense"}
    for result in report["systems"].values():
        assert set(ev.METRICS) <= set(result["summary"])
        for values in result["by_type"].values():
            assert set(ev.METRICS) <= set(values)
    assert report["summary"]["n"] == 40
    row = report["questions"][0]
    for key in ("id", "type", "question", "retrieved", "cited", "refused", "answer", "latency_ms", "first_gold_rank"):
        assert key in row
    # baselines never refuse and write no answer
    assert report["systems"]["bm25"]["summary"]["false_refusal_rate"] == 0.0
    assert report["systems"]["bm25"]["summary"]["answer_f1"] is None
    md = (compare_report / "report.md").read_text()
    assert "| system | n | hit@1 | hit@5 |" in md
    assert "| bm25 |" in md
    assert "| dense |" in md
    page = (compare_report / "report.html").read_text()
    assert page.count("<img") == 3
    assert "data:image/png;base64," in page


def test_dev_set_hit_at_5_regression(compare_report: Path) -> None:
    """Fails if retrieval quality of the pipeline drops on the dev set."""
    summary = json.loads((compare_report / "report.json").read_text())["systems"]["ours"]["summary"]
    assert summary["hit@5"] >= 0.9, summary
    assert summary["refusal_accuracy"] is not None


def test_jsonl_streams_one_line_per_question(seeds_index, tmp_path: Path, capsys) -> None:
    from rag.cli import main

    questions = tmp_path / "q.jsonl"
    questions.write_text("\n".join(DEV_QUESTIONS.read_text().splitlines()[:4]))
    assert main(["eval", str(questions), "--out", str(tmp_path / "o"), "--baseline", "bm25", "--jsonl"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 4
    assert all(json.loads(line)["system"] == "bm25" for line in lines)


def test_missing_question_file(tmp_path: Path, capsys) -> None:
    from rag.cli import main

    assert main(["eval", str(tmp_path / "nope.jsonl"), "--out", str(tmp_path / "o")]) == 2
    assert "no question file" in capsys.readouterr().err


def test_judge_without_llm_endpoint_warns_and_runs(pipeline, tmp_path: Path, capsys) -> None:
    questions = tmp_path / "q.jsonl"
    questions.write_text("\n".join(DEV_QUESTIONS.read_text().splitlines()[:2]))
    report = ev.run(questions, tmp_path / "o", pipeline=pipeline, judge=True, progress=False)
    assert "--judge needs an LLM endpoint" in capsys.readouterr().err
    assert report["summary"]["n"] == 2
    assert "faithfulness" not in report["summary"]


def test_bad_k_is_refused_before_any_work(tmp_path: Path, capsys) -> None:
    from rag.cli import main

    assert main(["eval", str(DEV_QUESTIONS), "--out", str(tmp_path / "o"), "--k", "0"]) == 2
    assert "--k must be from 1 to 20" in capsys.readouterr().err
    with pytest.raises(ValueError, match="k must be"):
        ev.run(DEV_QUESTIONS, tmp_path / "o", k=99)
    assert not (tmp_path / "o").exists()


def test_report_json_is_a_typed_report_with_the_settings_and_no_key(pipeline, tmp_path: Path) -> None:

    from rag import evaluate as ev
    from tests.conftest import DEV_QUESTIONS

    questions = tmp_path / "q.jsonl"
    questions.write_text("\n".join(DEV_QUESTIONS.read_text().splitlines()[:2]))
    keyed = type(pipeline)(
        pipeline.settings.model_copy(update={"openai_api_key": "sk-test-SECRET123"}), pipeline.retriever
    )
    ev.run(questions, tmp_path / "o", pipeline=keyed, progress=False, retrieval_only=True)
    text = (tmp_path / "o" / "report.json").read_text()
    report = ev.EvalReport.model_validate_json(text)
    assert report.settings["top_k"] == pipeline.settings.top_k
    assert report.settings["collection"] == pipeline.settings.collection
    assert "openai_api_key" not in report.settings
    assert "SECRET123" not in text


def test_gold_shown_counts_a_refusal_that_lists_the_gold_title() -> None:
    from rag.evaluate.metrics import aggregate, score_row

    base = {"question": "q", "type": "single", "gold_titles": ["Pointer Networks"], "retrieved": ["Pointer Networks"]}
    rows = [
        {**base, "answer": "x [1]", "cited": ["Pointer Networks"], "refused": False},  # answered, gold cited
        {**base, "answer": "no", "cited": [], "refused": True, "closest": ["Other", "Pointer Networks"]},
        {**base, "answer": "no", "cited": [], "refused": True, "closest": ["Other"]},
        {**base, "answer": "x [1]", "cited": ["Other"], "refused": False},  # answered, wrong paper
    ]
    scored = [score_row(r) for r in rows]
    assert [s["gold_shown"] for s in scored] == [1.0, 1.0, 0.0, 0.0]
    assert [s["answered_with_gold"] for s in scored] == [1.0, 0.0, 0.0, 0.0]
    assert aggregate([{**r, **s} for r, s in zip(rows, scored, strict=True)])["gold_shown"] == 0.5


# -- measures by question form (issue 20) -------------------------------------------------------------
ABSTRACT_A = (
    "Sparse autoencoders are popular in interpretability. "
    "We propose MP-SAE, which unrolls the encoder into residual-guided matching pursuit steps. "
    "Code is available at https://example.org/mp-sae."
)
ABSTRACT_B = (
    "Existing training lacks guarantees. "
    "We introduce bias adaptation, which adjusts biases to reach the right sparsity and provably recovers features. "
    "Experiments use models with up to 1.5 billion parameters."
)
ABSTRACT_C = "Slots bind to objects through competitive attention. It generalises to unseen compositions."
KEY_A = "We propose MP-SAE, which unrolls the encoder into residual-guided matching pursuit steps."
KEY_B = "We introduce bias adaptation, which adjusts biases to reach the right sparsity and provably recovers features."
REFERENCE = (
    "MP-SAE unrolls the encoder into matching pursuit steps; bias adaptation adjusts biases and recovers features."
)


def _paper(title: str, abstract: str):
    from rag.models import Paper

    return Paper(id=title.lower().replace(" ", "-"), title=title, abstract=abstract)


def _answer(quotes: list[tuple[str, str]], sources: list[str], refused: bool = False):
    """A hand-made Answer: numbered sources, and one checked citation per (title, quote)."""
    from rag.models import Answer, Citation, Source

    abstracts = {A: ABSTRACT_A, B: ABSTRACT_B, C: ABSTRACT_C, D: "Unrelated work on other things."}
    numbered = [Source(n=i, paper=_paper(t, abstracts[t]), chunks=[], score=1.0) for i, t in enumerate(sources, 1)]
    number = {t: i for i, t in enumerate(sources, 1)}
    citations = [Citation(n=number[t], paper_id=t, title=t, quote=q) for t, q in quotes]
    text = " ".join(f"{q} [{number[t]}]" for t, q in quotes) or "Not in the collection."
    return Answer(question="q", text=text, citations=citations, sources=numbered, refused=refused)


def _scored(form: str, gold: list[str], answer, reference: str = REFERENCE) -> dict:
    from rag.evaluate.run import answer_fields

    abstracts = {A: ABSTRACT_A, B: ABSTRACT_B, C: ABSTRACT_C}
    row = {
        "id": form,
        "question": "q",
        "type": "multi" if len(gold) > 1 else "single",
        "form": form,
        "gold_titles": gold,
        "reference_answer": reference,
        "retrieved": [s.paper.title for s in answer.sources],
        "gold_abstracts": {t: abstracts[t] for t in gold},
        **answer_fields(answer),
    }
    row.update(ev.score_row(row))
    return row


def test_split_sentences_and_key_sentence() -> None:
    assert ev.split_sentences(ABSTRACT_A) == [
        "Sparse autoencoders are popular in interpretability.",
        KEY_A,
        "Code is available at https://example.org/mp-sae.",
    ]
    assert ev.split_sentences("We use e.g. pixels. Then more.") == ["We use e.g. pixels.", "Then more."]
    assert ev.key_sentence(ABSTRACT_A, REFERENCE) == KEY_A  # not the first sentence, not the link
    assert ev.key_sentence(ABSTRACT_B, REFERENCE) == KEY_B
    assert ev.key_sentence(ABSTRACT_A, "") is None


def test_quote_coverage_is_positional_in_the_abstract() -> None:
    assert ev.quote_coverage(KEY_A, KEY_A, ABSTRACT_A) == 1.0
    # a quote of another sentence covers none of the key sentence, though it shares the word "encoder"-ish tokens
    other = "Sparse autoencoders are popular in interpretability."
    assert ev.quote_coverage(other, "Sparse autoencoders are popular, we propose MP-SAE.", None) > 0  # bag fallback
    assert ev.quote_coverage(other, KEY_A, ABSTRACT_A) == 0.0
    # the first half of the key sentence's words, and the same quote with its spaces changed
    words = KEY_A.split()
    half = " ".join(words[: len(words) // 2])
    assert ev.quote_coverage(half, KEY_A, ABSTRACT_A) == pytest.approx((len(words) // 2) / len(words))
    assert ev.quote_coverage(half.replace(" ", "\n  "), KEY_A, ABSTRACT_A) == pytest.approx(
        (len(words) // 2) / len(words)
    )


def test_key_sentence_counts_retrieved_gold_papers_whose_key_sentence_is_quoted() -> None:
    # A's key sentence quoted; B retrieved but quoted only for its background line; C gold but not retrieved
    answer = _answer([(A, KEY_A), (B, "Existing training lacks guarantees.")], sources=[A, B, D])
    row = _scored("set", [A, B, C], answer)
    assert row["key_sentence"] == 0.5  # of the two retrieved gold papers, one
    # quoting B's key sentence too makes it 1.0; C, never retrieved, does not lower it
    both = _answer([(A, KEY_A), (B, KEY_B)], sources=[A, B, D])
    assert _scored("set", [A, B, C], both)["key_sentence"] == 1.0
    # the key sentence of A quoted but attributed to D does not count for A
    wrong = _answer([(D, KEY_A)], sources=[A, D])
    assert _scored("single", [A], wrong)["key_sentence"] == 0.0
    # no gold paper among the sources: nothing to measure
    assert (
        _scored("single", [C], _answer([(D, "Unrelated work on other things.")], sources=[D]))["key_sentence"] is None
    )


def test_key_sentence_threshold_is_half_of_its_words() -> None:
    words = KEY_A.split()  # 12 words
    just_under = " ".join(words[: len(words) // 2 - 1])
    half = " ".join(words[: len(words) // 2])
    assert ev.key_sentence_recall([(A, half)], {A: ABSTRACT_A}, REFERENCE) == 1.0
    assert ev.key_sentence_recall([(A, just_under)], {A: ABSTRACT_A}, REFERENCE) == 0.0


def test_comparison_both_sides_cited_and_set_recall_by_form() -> None:
    rows = [
        _scored("comparison", [A, B], _answer([(A, KEY_A), (B, KEY_B)], sources=[A, B])),
        _scored("comparison", [A, B], _answer([(A, KEY_A), (D, "Unrelated work on other things.")], sources=[A, D])),
        _scored("set", [A, B, C], _answer([(A, KEY_A), (B, KEY_B)], sources=[A, B, C])),
        _scored("summary", [C], _answer([(C, "It generalises to unseen compositions.")], sources=[C])),
    ]
    assert [r["all_gold_cited"] for r in rows] == [1.0, 0.0, 0.0, 1.0]
    forms = ev.by_form(rows)
    assert list(forms) == ["set", "comparison", "summary"]  # the FORMS order
    assert forms["comparison"]["both_sides_cited"] == 0.5
    assert forms["comparison"]["citation_precision"] == 0.75  # 1.0 and 0.5
    assert forms["set"]["citation_recall"] == pytest.approx(2 / 3)
    assert forms["set"]["both_sides_cited"] is None  # only comparisons have sides
    assert ev.aggregate(rows)["both_sides_cited"] == 0.5  # the summary covers the comparisons only
    assert forms["set"]["n_answered"] == 1
    assert ev.by_form([{**r, "form": None} for r in rows]) == {}  # a file without forms: no table


def test_a_refused_answer_cites_no_side() -> None:
    refused = _scored("comparison", [A, B], _answer([], sources=[A, B], refused=True))
    assert refused["all_gold_cited"] == 0.0
    assert refused["citation_recall"] == 0.0
    assert refused["key_sentence"] == 0.0  # both retrieved, neither key sentence quoted


def test_oracle_picks_the_best_two_gold_sentences() -> None:
    f1, key = ev.oracle_answer({A: ABSTRACT_A, B: ABSTRACT_B}, REFERENCE)
    assert f1 == pytest.approx(ev.token_f1(f"{KEY_A} {KEY_B}", REFERENCE))
    assert key == 1.0  # the two best sentences are the two key sentences
    # with one sentence allowed, only one paper's key sentence can be in it
    f1_one, key_one = ev.oracle_answer({A: ABSTRACT_A, B: ABSTRACT_B}, REFERENCE, n=1)
    assert f1_one < f1
    assert key_one == 0.5
    assert ev.oracle_answer({A: ABSTRACT_A}, "") == (None, None)


def test_form_is_optional_in_question_files(pipeline, tmp_path: Path) -> None:
    forms_file = ROOT_EVAL / "questions_forms_test.jsonl"
    lines = forms_file.read_text().splitlines()
    picked = [next(line for line in lines if json.loads(line)["form"] == f) for f in ("set", "comparison", "number")]
    with_form = tmp_path / "forms.jsonl"
    with_form.write_text("\n".join(picked))
    without = tmp_path / "plain.jsonl"
    without.write_text("\n".join(json.dumps({k: v for k, v in json.loads(x).items() if k != "form"}) for x in picked))
    assert [q.get("form") for q in ev.load_questions(with_form).questions] == ["set", "comparison", "number"]
    assert all("form" not in q for q in ev.load_questions(without).questions)

    report = ev.run(with_form, tmp_path / "a", pipeline=pipeline, progress=False)
    assert list(report["by_form"]) == ["set", "comparison", "number"]
    for values in report["by_form"].values():
        assert set(ev.FORM_METRICS) <= set(values)
        assert values["oracle_answer_f1"] is not None
    row = report["questions"][1]
    assert {"sources", "quotes", "gold_abstracts", "key_sentence", "all_gold_cited"} <= set(row)
    assert "## By question form: ours" in (tmp_path / "a" / "report.md").read_text()
    assert "By question form" in (tmp_path / "a" / "report.html").read_text()
    assert ev.EvalReport.model_validate_json((tmp_path / "a" / "report.json").read_text()).by_form

    plain = ev.run(without, tmp_path / "b", pipeline=pipeline, progress=False)
    assert "by_form" not in plain
    assert plain["summary"]["n"] == 3
    assert "By question form" not in (tmp_path / "b" / "report.md").read_text()
