"""Questions nobody tuned for: named papers, acronyms, near misses, and the test half's figures.

The quoted questions come from the issue that reported them (refused before); the
figures are the test half of eval/questions_*.jsonl, which no setting was fitted on.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.floors import CEILINGS, FLOORS

ROOT = Path(__file__).resolve().parents[2]

REPORTED = [
    ("Tell me about SoFar.", "SoFar: Language-Grounded Orientation Bridges Spatial Reasoning and Object Manipulation"),
    ("What is HYPO?", "HYPO: Hyperspherical Out-of-Distribution Generalization"),
    (
        "what problem does ADDP solve",
        "ADDP: Learning General Representations for Image Recognition and Generation with Alternating "
        "Denoising Diffusion Process",
    ),
    (
        "What does the SoFar paper propose?",
        "SoFar: Language-Grounded Orientation Bridges Spatial Reasoning and Object Manipulation",
    ),
    ("How does MIGA-Conv do on CSI300?", "MIGA: Mixture-of-Experts with Group Aggregation for Stock Market Prediction"),
    (
        "Which paper proposes pointer networks that output positions of the input sequence, tested on convex hulls "
        "and TSP?",
        "Pointer Networks",
    ),
    ("what does CALM do", "LLM Augmented LLMs: Expanding Capabilities through Composition"),  # test half
    ("Which paper organises an LLM's long-term memory as a tree?", None),  # gold looked up by name below
]
NEAR_MISSES = [
    "What does the BERT paper propose for pre-training?",
    "How does DETR use a set-based loss for object detection?",
    "What learning rate schedule did the original Adam paper recommend?",
    "Which paper introduced GraphSAGE for inductive node embeddings?",
    "How does MusicLM generate music from text descriptions?",
    # from eval/questions_fresh.jsonl: famous works the famous-papers list does not hold
    "How does HuggingGPT use ChatGPT as a controller to pick Hugging Face models?",
    "What is PatchTST and why do patches help transformer time series forecasting?",
    # short asks for what no candidate paper is (eval/questions_famous.jsonl, test half)
    "Which paper introduced capsule networks?",
    "What is Deep Sets?",
    "explain layer normalization",
]


def _titles(answer) -> set[str]:
    return {c.title for c in answer.citations}


@pytest.mark.parametrize(("question", "title"), [r for r in REPORTED if r[1]])
def test_reported_questions_cite_the_right_paper(pipeline, question, title):
    answer = pipeline.ask(question)
    assert not answer.refused, answer.text
    assert title in _titles(answer), (_titles(answer), answer.text)


def test_memtree_question_is_answered_from_memtree(pipeline):
    answer = pipeline.ask("Which paper organises an LLM's long-term memory as a tree?")
    assert not answer.refused
    memtree = "From Isolated Conversations to Hierarchical Schemas: Dynamic Tree Memory Representation for LLMs"
    assert answer.sources[0].paper.title == memtree, [s.paper.title for s in answer.sources]
    assert memtree in _titles(answer), _titles(answer)


@pytest.mark.parametrize("question", NEAR_MISSES)
def test_off_corpus_near_misses_are_refused(pipeline, question):
    answer = pipeline.ask(question)
    assert answer.refused, (answer.text, answer.confidence)


def _load(name: str) -> list[dict]:
    path = ROOT / "eval" / name
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def test_the_test_half_holds_its_measured_figures(pipeline, tmp_path):
    """Regression guard, set a little below what docs/evaluation.md reports for the test half."""
    from rag.evaluate import run

    report = run(ROOT / "eval" / "questions_test.jsonl", tmp_path, pipeline=pipeline, progress=False)
    summary = report["summary"]
    floors = FLOORS["questions_test.jsonl"]
    for metric, floor in floors.items():
        assert summary[metric] >= floor, f"{metric} {summary[metric]:.3f} fell below {floor}"
    ceilings = CEILINGS["questions_test.jsonl"]
    assert summary["false_refusal_rate"] <= ceilings["false_refusal_rate"], summary["false_refusal_rate"]
    named = report["by_style"]["named"]
    assert named["false_refusal_rate"] <= ceilings["named_false_refusal_rate"], named["false_refusal_rate"]


@pytest.mark.parametrize(
    "name",
    [
        "questions_fresh.jsonl",
        "questions_blind.jsonl",
        "questions_across_test.jsonl",
        "conversations_plural_test.jsonl",
    ],
)
def test_the_fresh_and_blind_sets_hold_their_measured_figures(pipeline, tmp_path, name):
    """Regression guard on the sets written after the last fit (nothing was fitted on them), and the test halves
    of the across questions and the plural follow-ups."""
    from rag.evaluate import run

    summary = run(ROOT / "eval" / name, tmp_path, pipeline=pipeline, progress=False)["summary"]
    ceiling = CEILINGS[name]["false_refusal_rate"]
    for metric, floor in FLOORS[name].items():
        assert summary[metric] >= floor, f"{name}: {metric} {summary[metric]:.3f} fell below {floor}"
    assert summary["false_refusal_rate"] <= ceiling, f"{name}: false_refusal_rate {summary['false_refusal_rate']:.3f}"


_ANSWERED_SETS = ("questions_tune.jsonl", "dev_questions.jsonl", "questions_fresh.jsonl", "questions_blind.jsonl")
_REFUSED_SETS = ("questions_tune.jsonl", "dev_questions.jsonl", "questions_fresh.jsonl", "questions_famous.jsonl")
_BASELINES: dict[str, list] = {}  # each sweep's unperturbed questions, asked once for all its variants


def _answered_as_asked(pipeline) -> list[tuple[str, set[str]]]:
    """The answerable questions of `_ANSWERED_SETS` that are answered from a gold paper as written."""
    if "answered" not in _BASELINES:
        kept = []
        for name in _ANSWERED_SETS:
            for q in _load(name):
                if q.get("type") == "unanswerable" or not q.get("gold_titles"):
                    continue
                answer = pipeline.ask(q["question"])
                gold = set(q["gold_titles"])
                if not answer.refused and gold & _titles(answer):
                    kept.append((q["question"], gold))
        _BASELINES["answered"] = kept
    return _BASELINES["answered"]


def _refused_as_asked(pipeline) -> list[str]:
    """The off-corpus questions of `_REFUSED_SETS` that are refused as written."""
    if "refused" not in _BASELINES:
        questions = [
            q["question"]
            for name in _REFUSED_SETS
            for q in _load(name)
            if not (q.get("gold_titles") and q.get("type") != "unanswerable")
        ]
        _BASELINES["refused"] = [q for q in questions if pipeline.ask(q).refused]
    return _BASELINES["refused"]


def _sweep(pipeline, asks) -> tuple[int, list[tuple[str, bool]]]:
    """Ask each (question, titles): how many were asked, and those refused or citing none of the titles."""
    asked, failures = 0, []
    for question, titles in asks:
        answer = pipeline.ask(question)
        asked += 1
        if answer.refused or not titles & _titles(answer):
            failures.append((question, answer.refused))
    return asked, failures


def _name_as_spelled(name: str, title: str) -> str:
    """The title's own spelling of a lower-cased title name ("sofar" -> "SoFar")."""
    match = re.search(re.escape(name), title, re.IGNORECASE)
    return match.group() if match else name


@pytest.mark.slow  # a sweep over the corpus: make test runs it, test-quick does not
def test_every_title_name_asked_briefly_is_answered_from_its_paper(pipeline):
    """Each paper a title names ("SoFar", "HYPO"), asked in the short ways users ask: never refused.

    The issue's 30 such questions were refused 13 times; this asks all the corpus's names.
    """
    retriever = pipeline.retriever
    asks = []
    for name, paper_ids in retriever.analyzer.names.title_names.items():
        titles = {retriever.papers[pid].title for pid in paper_ids}
        if name in {t.lower().rstrip("?!.") for t in titles}:
            continue  # a whole title is not how users name a paper in a short question
        spelled = _name_as_spelled(name, next(iter(titles)))
        for template in ("Tell me about {}.", "what problem does {} solve", "How well does {} work?"):
            asks.append((template.format(spelled), titles))
    asked, failures = _sweep(pipeline, asks)
    assert asked > 300
    assert not failures, failures  # measured: 0 of 621 (1 cited a neighbour before a name-only question led with it)


@pytest.mark.slow  # a sweep over the corpus: make test runs it, test-quick does not
def test_a_coined_name_typed_in_lower_case_is_answered_from_its_paper(pipeline):
    """ "how does pcme work?": an abstract's coined name (PCME, KiloGram) typed in lower case."""
    from rag.question import MAX_NAME_DF

    retriever = pipeline.retriever
    analyzer = retriever.analyzer
    asks = []
    for name, paper_ids in analyzer.names.abstract_names.items():
        if name in analyzer.names.title_names or not name.isalnum() or len(name) < 3:
            continue
        if retriever.bm25.vocab_df.get(name, 0) > MAX_NAME_DF:  # an everyday word of the abstracts ("attention")
            continue
        titles = {retriever.papers[pid].title for pid in paper_ids}
        asks += [(template.format(name), titles) for template in ("how does {} work?", "what is {}")]
    asked, failures = _sweep(pipeline, asks)
    assert asked > 200
    assert not failures, failures  # measured: 0 of 444 (before: 223 refused or not citing it)


@pytest.mark.slow  # a sweep over the corpus: make test runs it, test-quick does not
def test_famous_work_outside_the_collection_is_refused(pipeline, tmp_path):
    """eval/questions_famous.jsonl: 145 famous works that no abstract names and the famous-papers
    list does not hold, asked three short ways ("What is capsule networks?"). Measured 0.984
    (0.851 before short questions about a lower-case topic needed a paper about it; 0.920 with
    the lower refusal threshold before a short ask for what no candidate paper is was refused)."""
    from rag.evaluate import run

    summary = run(ROOT / "eval" / "questions_famous.jsonl", tmp_path, pipeline=pipeline, progress=False)["summary"]
    assert summary["n"] == 435
    floor = FLOORS["questions_famous.jsonl"]["refusal_accuracy"]
    assert summary["refusal_accuracy"] >= floor, f"refusal_accuracy {summary['refusal_accuracy']:.3f}"


def test_a_misspelt_paper_name_is_answered_from_the_paper_with_a_notice(pipeline):
    answer = pipeline.ask("What is SPALDE?")
    assert not answer.refused, answer.text
    assert any(t.startswith("SPLADE") for t in _titles(answer)), _titles(answer)
    assert "splade" in answer.notice, answer.notice


def test_an_english_word_is_never_respelt_into_a_paper_name(pipeline):
    """ "money" is one edit from the corpus's Monet, "earning" from a "LEarning" an abstract spells out."""
    analyzer = pipeline.retriever.analyzer
    assert analyzer.speller.misspelt_names("How much money and earning does it save?") == {}


@pytest.mark.slow  # a sweep over the corpus: make test runs it, test-quick does not
def test_every_title_name_with_two_letters_swapped_is_answered_from_its_paper(pipeline):
    """ "What is ALEBRT?": one adjacent transposition in each one-word title name of 5+ letters.
    Measured: 0 of 124 asks fail (116 refused or uncited before names were respelt)."""
    retriever = pipeline.retriever
    asks = []
    for name, paper_ids in retriever.analyzer.names.title_names.items():
        if " " in name or len(name) < 5 or not name.isalpha():
            continue
        titles = {retriever.papers[pid].title for pid in paper_ids}
        spelled = _name_as_spelled(name, next(iter(titles)))
        middle = len(spelled) // 2
        typo = spelled[: middle - 1] + spelled[middle] + spelled[middle - 1] + spelled[middle + 1 :]
        asks += [(template.format(typo), titles) for template in ("What is {}?", "tell me about {}")]
    asked, failures = _sweep(pipeline, asks)
    assert asked > 100
    assert len(failures) <= asked // 50, (len(failures), asked, failures[:5])


@pytest.mark.slow  # a sweep over the corpus: make test runs it, test-quick does not
def test_the_spelled_out_acronyms_of_the_papers_are_answered(pipeline):
    """ "What is maximum inner product search?": each long form an abstract abbreviates for a name
    it coins (MIPS, PCME), asked two short ways. The topic check must not refuse what the papers
    discuss: measured 10 of 316 refused (9 with no topic check; 46 when only the top 5 papers were
    searched and abbreviations did not count; 6 before such short asks were refused outright)
    and 264 cite the defining paper (267 with no check). Since answers cite one paper unless a
    second is about as strong (issue 20's per-paper decision), 252 cite it: the 12 lost were cited
    as the second of two papers, and the ceiling below was lowered to match, knowingly. With mpnet by
    default (and its selection model) 246 cite it: a generic "What is X?" now and then cites another
    paper about X first; the floor went from 0.78 to 0.77, knowingly."""
    from rag.question import mine_acronyms

    retriever = pipeline.retriever
    analyzer = retriever.analyzer
    asked = refused = cited = 0
    for paper_id, paper in retriever.papers.items():
        for short, long in mine_acronyms([paper.abstract]).items():
            owners = analyzer.names.abstract_names.get(short) or analyzer.names.title_names.get(short)
            if not owners or paper_id not in owners:
                continue
            titles = {retriever.papers[pid].title for pid in owners}
            for question in (f"What is {long}?", f"how does {long} work"):
                answer = pipeline.ask(question)
                asked += 1
                refused += answer.refused
                cited += bool(titles & _titles(answer))
    assert asked > 250
    assert refused / asked <= 0.05, (refused, asked)
    assert cited / asked >= 0.77, (cited, asked)


def _scare_quoted(question: str) -> str | None:
    """The question with its first two adjacent lower-case content words in quotes ("the 'test error'")."""
    words = question.split()
    for i in range(1, len(words) - 1):
        pair = words[i : i + 2]
        if all(w.isalpha() and w.islower() and len(w) > 3 for w in pair):
            return " ".join([*words[:i], f"'{pair[0]}", f"{pair[1]}'", *words[i + 2 :]])
    return None


def _slipped(question: str) -> str | None:
    """The question with two middle letters of its longest lower-case word swapped ("reasoinng")."""
    words = question.split()
    candidates = [w for w in words if w.isalpha() and w.islower() and len(w) >= 7]
    if not candidates:
        return None
    word = max(candidates, key=len)
    middle = len(word) // 2
    typo = word[: middle - 1] + word[middle] + word[middle - 1] + word[middle + 1 :]
    return " ".join(typo if w == word else w for w in words)


def _title_cased(question: str) -> str | None:
    """ "How Does Meru Compare to Clip?": every word of 4+ letters capitalised, as some people type."""
    return " ".join(w[:1].upper() + w[1:] if len(w) > 3 and w.islower() else w for w in question.split())


def _thanked(question: str) -> str | None:
    return f"{question} Thanks!"


def _shouted(question: str) -> str | None:
    return question.upper()


def _in_bold(question: str) -> str | None:
    return f"**{question}**"


def _compared_with_bert(question: str) -> str | None:
    """ "What is FACT, compared with BERT?": a famous reference point the abstract need not name."""
    return f"{question.rstrip('?.! ')}, compared with BERT?"


def _led_by(lead: str, lower: bool = False) -> Callable[[str], str]:
    """The question after `lead` ("hey,"), its first letter lower-cased if `lower`."""

    def perturb(question: str) -> str:
        first = question[:1].lower() if lower else question[:1]
        return f"{lead} {first}{question[1:]}"

    perturb.__name__ = f"led by {lead!r}"  # the test's id
    return perturb


@pytest.mark.slow  # a sweep over four question sets: make test runs it, test-quick does not
@pytest.mark.parametrize(
    ("perturb", "most"),
    [
        # measured: 3 of 190 refused or losing the paper (before: 17, quoted words were a name to find)
        (_scare_quoted, 5),
        # measured: 3 of 189 (before: 17, a typo'd everyday word counted as unknown to the corpus)
        (_slipped, 5),
        # measured: 1 of 217 (before: 34, each capitalised word was a name the papers lacked)
        (_title_cased, 5),
        # measured: 0 of 217 (before: 9, "Thanks" was a name and short-question patterns failed)
        (_thanked, 3),
        # measured: 0 of 217 (before: 10)
        (_led_by("I need a paper about this:"), 3),
        # measured: 0 of 217 (before: 39, "PhD" was a name and short-question patterns failed)
        (_led_by("I'm a PhD student working on my thesis."), 3),
        # measured: 0 of 217 (before: 15, BERT was a missing name and its landmark matched better)
        (_compared_with_bert, 3),
        # measured: 2 of 217 (before: 38, every shouted word was a name)
        (_shouted, 5),
        # measured: 0 of 217 (before: 6)
        (_in_bold, 3),
    ],
)
def test_an_answered_question_stays_answered_when_typed_loosely(pipeline, perturb, most):
    """Answered questions of the tune, dev, fresh and blind sets (not the test half), each asked
    again with scare quotes or one slip of the keys: still answered from the same paper."""
    asks = [(variant, gold) for question, gold in _answered_as_asked(pipeline) if (variant := perturb(question))]
    asked, failures = _sweep(pipeline, asks)
    assert asked > 100
    assert len(failures) <= most, (len(failures), asked, failures)


@pytest.mark.parametrize(
    ("question", "absent"),
    [
        ("how does Coconut reasoning work", 0.0),  # "we introduce a new paradigm Coconut": its paper's name
        ("What's special about VanillaNet?", 0.0),  # a named paper is the topic, not "special about VanillaNet"
        ("In the multi-hop query paper, what share of wrong answers can back-patching fix?", 0.0),  # a description
        ("what are Kolmogorov-Arnold Networks (KANs)?", 1.0),  # "Kolmogorov Complexity" in a title is no KAN
        ("Which paper introduced Progressive GAN?", 1.0),  # a name of several words
        ("What does the BERT paper propose?", 1.0),  # many abstracts use BERT: none is its paper
    ],
)
def test_a_name_asked_for_is_absent_only_when_no_retrieved_paper_goes_by_it(pipeline, question, absent):
    """The `asked_name_absent` evidence: measured on the tune, test, dev and blind sets it fires
    for no answerable question now (3 of tune's 130 and 2 of test's before) and for 18 and 19 of
    their 36 off-corpus ones."""
    assert pipeline.retriever.retrieve(question).evidence["asked_name_absent"] == absent


def _with_an_emoji(question: str) -> str | None:
    return f"{question} \U0001f64f"


def _topic_quoted(question: str) -> str | None:
    """ "What is 'capsule networks'?": the asked-about words in quotes."""
    match = re.match(r"^(What is |How does |Which paper introduced )([^,]+?)( work)?\?$", question)
    if not match or len(match.group(2).split()) > 4:
        return None
    return f"{match.group(1)}'{match.group(2)}'{match.group(3) or ''}?"


@pytest.mark.slow  # a sweep over the off-corpus questions of four sets: make test runs it, test-quick does not
@pytest.mark.parametrize(
    ("perturb", "most"),
    [
        # measured: 0 of 457 answered (before plain_question: 70)
        (_led_by("hey,", lower=True), 3),
        # measured: 0 of 457 (before: 70)
        (_led_by("Could you tell me", lower=True), 3),
        # measured: 0 of 457 (before: 48)
        (_with_an_emoji, 3),
        # measured: 3 of 402 (before: 55; left: a quoted lower-case name with a capital, "'neural ODE'")
        (_topic_quoted, 6),
        # measured: 0 of 486 (before: 63 answered: the added words made short asks escape their checks)
        (_compared_with_bert, 3),
        # measured: 13 of 485 with mpnet by default (the small profile: 9 of 486; before: 33)
        (_shouted, 16),
        # measured: 0 of 486 (before: 82: "**" hid the start of "what is X?")
        (_in_bold, 3),
    ],
)
def test_a_refused_question_stays_refused_when_typed_loosely(pipeline, perturb, most):
    """Off-corpus questions of the tune, dev and fresh sets and the famous-works set that are
    refused, asked again with a greeting, politely, with an emoji, or with the topic in quotes:
    still refused (before plain_question, "hey, what is capsule networks?" escaped the checks
    that refuse "what is capsule networks?")."""
    asks = [variant for question in _refused_as_asked(pipeline) if (variant := perturb(question))]
    answered = [question for question in asks if not pipeline.ask(question).refused]
    assert len(asks) > 100
    assert len(answered) <= most, (len(answered), len(asks), answered[:5])
