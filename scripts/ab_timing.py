"""Interleaved A/B timing of two Retrievers over the tune questions (shared by the bench_* scripts).

Every question is retrieved once untimed (query and paper vectors then cached, as for a warm
server), then by both retrievers in alternating order, so load drifts hit both sides alike.
"""

from __future__ import annotations

import json
import os
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class ABTimes:
    """Per-question CPU (all threads) and wall milliseconds of each side, and the "on" side's results."""

    cpu: dict[str, list[float]] = field(default_factory=lambda: {"off": [], "on": []})
    wall: dict[str, list[float]] = field(default_factory=lambda: {"off": [], "on": []})
    on_results: list[Any] = field(default_factory=list)

    def print_summary(self) -> None:
        """The table both scripts print: p50 of each side and the added CPU per query."""
        diff = [a - b for a, b in zip(self.cpu["on"], self.cpu["off"], strict=True)]
        print(f"n={len(diff)} load {os.getloadavg()[0]:.1f}")
        for name in ("off", "on"):
            cpu, wall = statistics.median(self.cpu[name]), statistics.median(self.wall[name])
            print(f"{name}: CPU p50 {cpu:.2f} ms, wall p50 {wall:.2f} ms")
        print(f"added CPU per query: median {statistics.median(diff):.2f} ms, mean {statistics.mean(diff):.2f} ms")


def tune_questions() -> list[str]:
    lines = (ROOT / "eval" / "questions_tune.jsonl").read_text().splitlines()
    return [json.loads(x)["question"] for x in lines if x.strip()]


def time_ab(off: Any, on: Any, questions: list[str]) -> ABTimes:
    """Retrieve every question with `off` and `on` (objects with `.retrieve(q)`), order alternating."""
    for q in questions:
        on.retrieve(q)
    times = ABTimes()
    for i, q in enumerate(questions):
        order = [("off", off), ("on", on)] if i % 2 == 0 else [("on", on), ("off", off)]
        for name, retriever in order:
            c, w = time.process_time(), time.perf_counter()
            got = retriever.retrieve(q)
            times.cpu[name].append((time.process_time() - c) * 1e3)
            times.wall[name].append((time.perf_counter() - w) * 1e3)
            if name == "on":
                times.on_results.append(got)
    return times
