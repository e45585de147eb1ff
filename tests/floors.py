"""The regression floors of every question set, in one place.

Each floor sits a little below the figure measured in docs/evaluation.md (the comment beside it),
so a change that loses ground fails a test; when a change raises a figure, raise its floor here.
`FLOORS[set][metric]` is a minimum, `CEILINGS[set][metric]` a maximum.
"""

from __future__ import annotations

FLOORS: dict[str, dict[str, float]] = {
    # measured (default: mpnet, feedback, refit selection): hit@5 0.992, mrr@10 0.971, refusal_accuracy 0.972,
    # answered_with_gold 0.962, citation_precision 0.933 (0.937 before across questions were chosen as sets, 0.952
    # before the set model) (the small profile: 0.992, 0.952, 0.972, 0.946, 0.919)
    "questions_test.jsonl": {
        "hit@5": 0.97,
        "mrr@10": 0.95,
        "refusal_accuracy": 0.93,
        "answered_with_gold": 0.94,
        "citation_precision": 0.92,
    },
    # measured: citation_recall 0.642, citation_precision 0.720 (before the across choice: 0.331, 0.739)
    "questions_across_test.jsonl": {"citation_recall": 0.58, "citation_precision": 0.66},
    # both turns: citation_recall 0.792, answered_with_gold 0.917 (follow-ups alone 0.736, 0.889; before the plural
    # reading 0.616, 0.778)
    "conversations_plural_test.jsonl": {"citation_recall": 0.74, "answered_with_gold": 0.86},
    # measured: hit@5 1.000, mrr@10 0.988, refusal_accuracy 0.810
    "questions_fresh.jsonl": {"hit@5": 0.97, "mrr@10": 0.95, "refusal_accuracy": 0.76},
    # measured (default): hit@5 1.000, mrr@10 0.901, gold_shown 0.875 (small: 0.969, 0.805, 0.812)
    "questions_blind.jsonl": {"hit@5": 0.96, "mrr@10": 0.87, "gold_shown": 0.83},
    # measured: refusal_accuracy 0.984 over 435 asks
    "questions_famous.jsonl": {"refusal_accuracy": 0.96},
    # retrieval alone over the dev set (tests/unit/test_retrieve.py); measured hit@5 1.000, mrr@10 0.944 (eval)
    "dev_questions.jsonl": {"hit@5": 0.95, "mrr@10": 0.90},
}

CEILINGS: dict[str, dict[str, float]] = {
    "questions_test.jsonl": {"false_refusal_rate": 0.04, "named_false_refusal_rate": 0.05},  # measured 0.015 and 0
    "questions_fresh.jsonl": {"false_refusal_rate": 0.03},  # measured 0.000
    "questions_blind.jsonl": {"false_refusal_rate": 0.07},  # measured 0.062 (2/32; small profile 1/32)
    "questions_across_test.jsonl": {"false_refusal_rate": 0.09},  # measured 0.042 (1/24)
    "conversations_plural_test.jsonl": {"false_refusal_rate": 0.09},  # measured 0.056 (2 of 36 turns)
}
