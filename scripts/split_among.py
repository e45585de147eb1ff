"""Split the 36 'among' conversations once into a tune half and a test half.

    .venv/bin/python scripts/split_among.py   # scripts/among_unsplit.jsonl -> eval/conversations_among_*.jsonl

An 'among' conversation asks a set question, then a follow-up that picks among the papers of
that answer ("which of them ...", "the one that ..."). The conversations were written from the
seed titles and abstracts only (scripts/among_unsplit.jsonl, in writing order, without ids).
Deterministic: random.Random(20261207).shuffle of that list; the first 18 are the tune half
(ids ma-001..018), the other 18 the test half (ids mb-001..018). The halves are committed; this
script is kept to show how they were made (tests/unit/test_among_data.py re-runs it in memory).
"""

from __future__ import annotations

import json
import random
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "scripts" / "among_unsplit.jsonl"
SEED = 20261207
HALVES = (("tune", "ma"), ("test", "mb"))


def split(
    items: list[dict], seed: int = SEED, halves: tuple[tuple[str, str], ...] = HALVES
) -> tuple[list[dict], list[dict]]:
    """Shuffle with the fixed seed, cut in two, number each half; ids lead each record (scripts/split_across.py
    splits its questions the same way, with its own seed and id prefixes)."""
    order = list(items)
    random.Random(seed).shuffle(order)
    half = len(order) // 2
    parts = (order[:half], order[half:])
    return tuple(
        [{"id": f"{prefix}-{i:03d}", **item} for i, item in enumerate(part, start=1)]
        for part, (_, prefix) in zip(parts, halves, strict=True)
    )  # type: ignore[return-value]


def read(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def write(parts: tuple[list[dict], list[dict]], halves: tuple[tuple[str, str], ...], file_name: str) -> None:
    """Each half to eval/<file_name with {half}>, a record a line."""
    for (name, _), part in zip(halves, parts, strict=True):
        path = ROOT / "eval" / file_name.format(half=name)
        path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in part), encoding="utf-8")
        print(f"{path.relative_to(ROOT)}: {len(part)}")


def main() -> int:
    write(split(read(SOURCE)), HALVES, "conversations_among_{half}.jsonl")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
