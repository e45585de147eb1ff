"""Split the 48 'across-paper' questions once into a tune half and a test half.

    .venv/bin/python scripts/split_across.py   # scripts/across_unsplit.jsonl -> eval/questions_across_*.jsonl

An across-paper question asks what several papers of the collection say about one aspect of a topic
(aspect: limitation, how, result or data; 12 questions each), e.g. "what results do the sheaf-based
graph models in the collection report?". The questions were written from the seed titles and abstracts
only, without running the question-answering system (scripts/across_unsplit.jsonl, in writing order,
without ids). Each gold list holds every paper on the topic whose abstract says something about the
asked aspect; the regular expressions that searched all abstracts for the topic are kept in
"checked_with", and the hits read and left out in "considered_not_gold".
Deterministic: random.Random(20261208).shuffle of that list; the first 24 are the tune half
(ids xa-001..024), the other 24 the test half (ids xb-001..024). The halves are committed; this
script is kept to show how they were made (tests/unit/test_across_data.py re-runs it in memory).
"""

from __future__ import annotations

import json
import random
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "scripts" / "across_unsplit.jsonl"
SEED = 20261208
HALVES = (("tune", "xa"), ("test", "xb"))


def split(items: list[dict]) -> tuple[list[dict], list[dict]]:
    """Shuffle with the fixed seed, cut in two, number each half; ids lead each record."""
    order = list(items)
    random.Random(SEED).shuffle(order)
    half = len(order) // 2
    parts = (order[:half], order[half:])
    return tuple(
        [{"id": f"{prefix}-{i:03d}", **item} for i, item in enumerate(part, start=1)]
        for part, (_, prefix) in zip(parts, HALVES, strict=True)
    )  # type: ignore[return-value]


def read(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def main() -> int:
    for (name, _), part in zip(HALVES, split(read(SOURCE)), strict=True):
        path = ROOT / "eval" / f"questions_across_{name}.jsonl"
        path.write_text("".join(json.dumps(q, ensure_ascii=False) + "\n" for q in part), encoding="utf-8")
        print(f"{path.relative_to(ROOT)}: {len(part)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
