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

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import split_among

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "scripts" / "across_unsplit.jsonl"
SEED = 20261208
HALVES = (("tune", "xa"), ("test", "xb"))
read = split_among.read


def split(items: list[dict]) -> tuple[list[dict], list[dict]]:
    """split_among's shuffle and cut, with this file's seed and id prefixes."""
    return split_among.split(items, SEED, HALVES)


def main() -> int:
    split_among.write(split(read(SOURCE)), HALVES, "questions_across_{half}.jsonl")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
