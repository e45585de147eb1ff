"""Fit which part of a sentence the extractive answer quotes (rag/answer/spans.py) on the tune files.

    PYTHONPATH=$PWD .venv/bin/python scripts/fit_spans.py            # prints the choice
    PYTHONPATH=$PWD .venv/bin/python scripts/fit_spans.py --write    # also writes rag/spans.json

Every answerable tune question is retrieved and planned once, as the pipeline does; then the
extractive writer writes it under each span choice, and the answer is scored as `rag eval` scores it
(answer_f1, key sentence; `scripts/fit_sentences.py`'s `Item`). Steps, each keeping the tune key
sentence at or above whole sentences' (`KEY_FLOOR_SLACK`) and gaining at least `MIN_GAIN` answer_f1:
1. each lead and tail rule on its own, against whole sentences; the rules that gain are switched on;
2. the word model: over the words of every sentence the tune answers quote, a logistic regression of
   "this word is one of the reference answer's tokens" on `WORD_FEATURES` (L2 `--l2`, Newton steps);
3. then `keep_odds` x `min_keep`, the pair with the best tune answer_f1.
The report files are written with the chosen choice and printed beside tune; nothing is fitted on them.
"""

from __future__ import annotations

import statistics
import sys
import time
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from fit_sentences import REPORT, TUNE, Item, fit_parser  # noqa: E402

from rag.answer import extractive  # noqa: E402
from rag.answer.spans import (  # noqa: E402
    DEFAULT_SPANS_FILE,
    LEAD_RULES,
    TAIL_RULES,
    WORD_FEATURES,
    Asked,
    Span,
    SpanChoice,
    word_rows,
)
from rag.evaluate.metrics import answer_tokens  # noqa: E402
from rag.evaluate.run import load_questions  # noqa: E402

KEEP_ODDS = (0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4)
MIN_KEEP = (0.5, 0.6, 0.7)
MIN_GAIN = 0.001  # a rule or the word model must gain this much tune answer_f1 to be switched on
KEY_FLOOR_SLACK = 0.0  # nor may it lower the tune key sentence below whole sentences'


WHOLE = SpanChoice()  # no rule on and no word model: every quote is its whole sentence


def score(items: list[Item], pipeline: Any, choice: SpanChoice) -> tuple[float, float, float]:
    """(answer_f1, key sentence, CPU ms per answer written and checked) of the items' written answers."""
    pipeline.extractive.spans = choice
    started = time.process_time()
    results = [r for r in (i.written(pipeline) for i in items) if r is not None]
    cpu = (time.process_time() - started) * 1000 / max(len(results), 1)
    keys = [k for _, k in results if k is not None]
    return statistics.mean(f for f, _ in results), statistics.mean(keys), cpu


def word_data(items: list[Item], pipeline: Any, choice: SpanChoice) -> tuple[np.ndarray, np.ndarray]:
    """Features and labels (one of the reference's tokens?) of every word of every sentence the answers quote."""
    seen: list[tuple[str, Asked]] = []
    original = extractive.choose_span

    def record(sentence: str, chosen: SpanChoice, asked: Asked | None = None) -> Span:
        asked = asked or Asked()
        seen.append((sentence, replace(asked, said=Counter(asked.said))))
        return original(sentence, chosen, asked)

    x, y = [], []
    extractive.choose_span = record
    try:
        pipeline.extractive.spans = choice
        for item in items:
            seen.clear()
            if item.written(pipeline) is None:
                continue
            reference = Counter(answer_tokens(item.reference))
            for sentence, asked in seen:
                for _, _, word, features in word_rows(sentence, 0, len(sentence), asked):
                    x.append(features)
                    y.append(
                        float(reference[word] > asked.said[word])
                    )  # token F1 counts a word as often as the reference has it
    finally:
        extractive.choose_span = original
    return np.array(x), np.array(y)


def logistic(x: np.ndarray, y: np.ndarray, l2: float, iterations: int = 50) -> np.ndarray:
    """Logistic regression by Newton's method (L2 on every weight but the bias)."""
    w = np.zeros(x.shape[1])
    penalty = l2 * np.eye(x.shape[1])
    penalty[0, 0] = 0.0
    for _ in range(iterations):
        p = 1 / (1 + np.exp(-(x @ w)))
        gradient = x.T @ (y - p) - penalty @ w
        hessian = -(x * (p * (1 - p))[:, None]).T @ x - penalty
        step = np.linalg.solve(hessian, gradient)
        w -= step
        if np.abs(step).max() < 1e-8:
            break
    return w


def main() -> int:
    args = fit_parser(__doc__ or "", "rag/spans.json").parse_args()

    from rag.config import Settings
    from rag.pipeline import Pipeline

    pipeline = Pipeline(Settings())
    tune_files = args.tune or TUNE

    def items_of(path: Path) -> list[Item]:
        questions = [q for q in load_questions(path).questions if q.get("gold_titles") and q["type"] != "unanswerable"]
        return [Item(pipeline, q) for q in questions]

    tune = [i for path in tune_files for i in items_of(path)]
    none = SpanChoice()
    base_f1, base_key, _ = score(tune, pipeline, WHOLE)
    print(f"whole sentences: tune answer_f1 {base_f1:.4f} key {base_key:.4f} (n={len(tune)})")
    floor = base_key - KEY_FLOOR_SLACK
    lead: list[str] = []
    tail: list[str] = []
    for rule in LEAD_RULES + TAIL_RULES:
        is_lead = rule in LEAD_RULES
        alone = none.model_copy(update={"lead": (rule.name,)} if is_lead else {"tail": (rule.name,)})
        f1, key, _ = score(tune, pipeline, alone)
        on = f1 >= base_f1 + MIN_GAIN and key >= floor
        kind = "lead" if is_lead else "tail"
        print(f"{kind} {rule.name:14s} alone: answer_f1 {f1:.4f} key {key:.4f} {'ON' if on else ''}")
        if on:
            (lead if is_lead else tail).append(rule.name)
    choice = none.model_copy(update={"lead": tuple(lead), "tail": tuple(tail)})
    best_f1, best_key, _ = score(tune, pipeline, choice)
    print(f"rules on {choice.lead} {choice.tail}: answer_f1 {best_f1:.4f} key {best_key:.4f}")
    x, y = word_data(tune, pipeline, choice)
    w = logistic(x, y, args.l2)
    print(
        f"word model on {len(y)} words ({y.mean():.3f} in the reference): "
        + ", ".join(f"{n} {v:+.3f}" for n, v in zip(WORD_FEATURES, w, strict=True))
    )
    coef = tuple(round(float(v), 5) for v in w)
    for odds in KEEP_ODDS:
        for keep in MIN_KEEP:
            variant = choice.model_copy(update={"coef": coef, "keep_odds": odds, "min_keep": keep})
            f1, key, _ = score(tune, pipeline, variant)
            better = f1 >= best_f1 + MIN_GAIN and key >= floor
            print(f"keep_odds {odds} min_keep {keep}: answer_f1 {f1:.4f} key {key:.4f} {'BEST' if better else ''}")
            if better:
                choice, best_f1, best_key = variant, f1, key
    fitted_on = ", ".join(str(p.relative_to(ROOT) if p.is_relative_to(ROOT) else p) for p in tune_files)
    choice = choice.model_copy(
        update={"fitted_on": fitted_on, "notes": {"l2": args.l2, "words": len(y), "tune_answers": len(tune)}}
    )
    print(f"chosen: {choice}")
    print(f"{'file':32s} {'n':>4s} {'whole f1':>9s} {'key':>6s} {'span f1':>8s} {'key':>6s} {'ms':>5s} {'ms':>5s}")
    for path in list(tune_files) + (args.report or REPORT):
        items = items_of(path)
        f0, k0, ms0 = score(items, pipeline, WHOLE)
        f1, k1, ms1 = score(items, pipeline, choice)
        print(f"{path.name:32s} {len(items):4d} {f0:9.3f} {k0:6.3f} {f1:8.3f} {k1:6.3f} {ms0:5.1f} {ms1:5.1f}")
    if args.write:
        choice.save(DEFAULT_SPANS_FILE)
        print(f"wrote {DEFAULT_SPANS_FILE}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
