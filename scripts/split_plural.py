"""Split the 36 'plural' conversations once into a tune half and a test half.

    .venv/bin/python scripts/split_plural.py   # scripts/plural_unsplit.jsonl -> eval/conversations_plural_*.jsonl

A 'plural' conversation asks a set question ("Which papers ...?", with its complete gold list and the
searches that checked it), then a follow-up on what THOSE papers, all of them, say about one aspect
(limitation, how, result or data; 9 conversations each), e.g. "what results do they report?". The
follow-up's gold is the turn-1 papers whose abstract speaks to that aspect. The conversations were
written from the seed titles and abstracts only, without running the question-answering system
(scripts/plural_unsplit.jsonl, in writing order, without ids).
Deterministic: random.Random(20261209).shuffle of that list; the first 18 are the tune half
(ids pa-001..018), the other 18 the test half (ids pb-001..018). The halves are committed; this
script is kept to show how they were made (tests/unit/test_plural_data.py re-runs it in memory).
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import split_among

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "scripts" / "plural_unsplit.jsonl"
SEED = 20261209
HALVES = (("tune", "pa"), ("test", "pb"))
read = split_among.read


def split(items: list[dict]) -> tuple[list[dict], list[dict]]:
    """split_among's shuffle and cut, with this file's seed and id prefixes."""
    return split_among.split(items, SEED, HALVES)


def main() -> int:
    split_among.write(split(read(SOURCE)), HALVES, "conversations_plural_{half}.jsonl")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
