"""Are two `rag eval` reports the same figures? For refactors that must not change behaviour.

    .venv/bin/rag eval eval/questions_test.jsonl --out /tmp/before   # on the old code
    .venv/bin/rag eval eval/questions_test.jsonl --out /tmp/after    # on the new code
    .venv/bin/python scripts/same_figures.py /tmp/before /tmp/after

Compares the summary, every by-type/style/turn table and every question's record, leaving out
timings and latencies (they differ run to run). Exit 0 when identical, 1 with the differences.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any


def _figures(value: Any) -> Any:
    """The report without anything timed."""
    if isinstance(value, dict):
        return {k: _figures(v) for k, v in value.items() if not (k == "timings" or "latency" in k or k.endswith("_ms"))}
    if isinstance(value, list):
        return [_figures(v) for v in value]
    return value


def differences(before: Any, after: Any, where: str = "") -> list[str]:
    if isinstance(before, dict) and isinstance(after, dict):
        keys = sorted(set(before) | set(after))
        return [d for k in keys for d in differences(before.get(k), after.get(k), f"{where}.{k}")]
    if isinstance(before, list) and isinstance(after, list) and len(before) == len(after):
        pairs = enumerate(zip(before, after, strict=True))
        return [d for i, (a, b) in pairs for d in differences(a, b, f"{where}[{i}]")]
    return [] if before == after else [f"{where}: {before!r} -> {after!r}"]


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    before, after = (json.loads((Path(p) / "report.json").read_text(encoding="utf-8")) for p in argv)
    keys = ("summary", "by_type", "by_style", "by_turn", "questions")
    found = differences(*({k: _figures(r.get(k)) for k in keys} for r in (before, after)))
    for line in found[:50]:
        print(line)
    print("identical figures" if not found else f"{len(found)} differences", file=sys.stderr)
    return 1 if found else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
