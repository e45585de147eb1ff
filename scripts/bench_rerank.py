"""Added cost of the rerank per query: interleaved A/B on one Retriever (default profile).

    RAG_DATA_DIR=DIR PYTHONPATH=$PWD .venv/bin/python scripts/bench_rerank.py

Every tune question is retrieved once untimed (query and paper vectors then cached, as for a
warm server), then with the rerank off and on in alternating order; CPU time of the process
(all threads) and wall time per retrieve, and the rerank's own `rerank_ms`.
"""

from __future__ import annotations

import copy
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rag.search import Retriever  # noqa: E402
from scripts.ab_timing import time_ab, tune_questions  # noqa: E402


def main() -> None:
    on = Retriever()
    if on.reranker is None:
        raise SystemExit("the rerank is off here (RAG_RERANK, or no paper-level vectors)")
    off = copy.copy(on)
    off.reranker = None
    times = time_ab(off, on, tune_questions())
    times.print_summary()
    own = [got.timings["rerank_ms"] for got in times.on_results if "rerank_ms" in got.timings]
    print(f"rerank_ms (wall, {len(own)} reranked): p50 {statistics.median(own):.2f}, max {max(own):.2f}")


if __name__ == "__main__":
    main()
