"""The regression floors of every question set, in one place.

Each floor sits a little below the figure measured in docs/evaluation.md (the comment beside it),
so a change that loses ground fails a test; when a change raises a figure, raise its floor here.
`FLOORS[set][metric]` is a minimum, `CEILINGS[set][metric]` a maximum.
"""

from __future__ import annotations

FLOORS: dict[str, dict[str, float]] = {
    # measured: hit@5 0.992, mrr@10 0.952, refusal_accuracy 0.972, answered_with_gold 0.946, citation_precision 0.919
    "questions_test.jsonl": {
        "hit@5": 0.97,
        "mrr@10": 0.93,
        "refusal_accuracy": 0.93,
        "answered_with_gold": 0.92,
        "citation_precision": 0.91,
    },
    # measured: hit@5 1.000, mrr@10 1.000, refusal_accuracy 0.810
    "questions_fresh.jsonl": {"hit@5": 0.97, "mrr@10": 0.95, "refusal_accuracy": 0.76},
    # measured: hit@5 0.969, mrr@10 0.805, gold_shown 0.750
    "questions_blind.jsonl": {"hit@5": 0.93, "mrr@10": 0.77, "gold_shown": 0.70},
    # measured: refusal_accuracy 0.984 over 435 asks
    "questions_famous.jsonl": {"refusal_accuracy": 0.96},
    # retrieval alone over the dev set (tests/unit/test_retrieve.py); measured hit@5 1.000, mrr@10 0.93
    "dev_questions.jsonl": {"hit@5": 0.95, "mrr@10": 0.85},
}

CEILINGS: dict[str, dict[str, float]] = {
    "questions_test.jsonl": {"false_refusal_rate": 0.04, "named_false_refusal_rate": 0.05},  # measured 0.008 and 0
    "questions_fresh.jsonl": {"false_refusal_rate": 0.03},  # measured 0.000
    "questions_blind.jsonl": {"false_refusal_rate": 0.07},  # measured 0.031
}
