"""Split a question (or conversation) set once into a tune half and a test half, stratified by style.

    .venv/bin/python scripts/split_questions.py ALL.jsonl eval/questions   # -> *_tune.jsonl, *_test.jsonl

Deterministic: within each style, items are ordered by the SHA-1 of their id and
alternate tune, test, tune, ... so every style is split evenly and re-running gives the
same halves. The halves are committed; this script is kept to show how they were made.
"""

from __future__ import annotations

import hashlib
import json
import sys
from collections import defaultdict
from pathlib import Path


def split(items: list[dict]) -> tuple[list[dict], list[dict]]:
    by_style: dict[str, list[dict]] = defaultdict(list)
    for item in items:
        by_style[item.get("style") or item.get("type", "")].append(item)
    tune, test = [], []
    for style in sorted(by_style):
        ordered = sorted(by_style[style], key=lambda q: hashlib.sha1(q["id"].encode()).hexdigest())
        for i, item in enumerate(ordered):
            (tune if i % 2 == 0 else test).append(item)
    return tune, test


def main() -> int:
    source, prefix = Path(sys.argv[1]), sys.argv[2]
    items = [json.loads(line) for line in source.read_text(encoding="utf-8").splitlines() if line.strip()]
    for name, half in zip(("tune", "test"), split(items), strict=True):
        path = Path(f"{prefix}_{name}.jsonl")
        path.write_text("".join(json.dumps(q, ensure_ascii=False) + "\n" for q in half), encoding="utf-8")
        print(f"{path}: {len(half)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
