"""Added cost of the rerank per query: interleaved A/B on one Retriever (default profile).

    RAG_DATA_DIR=DIR PYTHONPATH=$PWD .venv/bin/python scripts/bench_rerank.py

Every tune question is retrieved once untimed (query and paper vectors then cached, as for a
warm server), then with the rerank off and on in alternating order; CPU time of the process
(all threads) and wall time per retrieve, and the rerank's own `rerank_ms`.
"""

from __future__ import annotations

import copy
import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rag.search import Retriever  # noqa: E402


def main() -> None:
    on = Retriever()
    if on.reranker is None:
        raise SystemExit("the rerank is off here (RAG_RERANK, or no paper-level vectors)")
    off = copy.copy(on)
    off.reranker = None
    lines = (ROOT / "eval" / "questions_tune.jsonl").read_text().splitlines()
    questions = [json.loads(x)["question"] for x in lines if x.strip()]
    for q in questions:
        on.retrieve(q)
    cpu: dict[str, list[float]] = {"off": [], "on": []}
    wall: dict[str, list[float]] = {"off": [], "on": []}
    own: list[float] = []
    for i, q in enumerate(questions):
        order = [("off", off), ("on", on)] if i % 2 == 0 else [("on", on), ("off", off)]
        for name, r in order:
            c, w = time.process_time(), time.perf_counter()
            got = r.retrieve(q)
            cpu[name].append((time.process_time() - c) * 1e3)
            wall[name].append((time.perf_counter() - w) * 1e3)
            if name == "on" and "rerank_ms" in got.timings:
                own.append(got.timings["rerank_ms"])
    diff = [a - b for a, b in zip(cpu["on"], cpu["off"], strict=True)]
    print(f"n={len(questions)} load {os.getloadavg()[0]:.1f}")
    for name in ("off", "on"):
        print(f"{name}: CPU p50 {statistics.median(cpu[name]):.2f} ms, wall p50 {statistics.median(wall[name]):.2f} ms")
    print(f"added CPU per query: median {statistics.median(diff):.2f} ms, mean {statistics.mean(diff):.2f} ms")
    print(f"rerank_ms (wall, {len(own)} reranked): p50 {statistics.median(own):.2f}, max {max(own):.2f}")


if __name__ == "__main__":
    main()
