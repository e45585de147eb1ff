"""Added cost of pseudo-relevance feedback per query: interleaved A/B on one Retriever (mpnet profile).

    RAG_DATA_DIR=data-mpnet RAG_PROFILE=mpnet PYTHONPATH=$PWD .venv/bin/python scripts/bench_feedback.py

Every tune question is retrieved once untimed (the query vectors are then cached, as for a
warm server), then with feedback off and on in alternating order; CPU time of the process
(all threads) and wall time per retrieve.
"""

from __future__ import annotations

import copy
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rag.search import Retriever  # noqa: E402
from scripts.ab_timing import time_ab, tune_questions  # noqa: E402


def main() -> None:
    on = Retriever()
    off = copy.copy(on)
    off.settings = on.settings.model_copy(update={"feedback_weight": 0.0})
    time_ab(off, on, tune_questions()).print_summary()


if __name__ == "__main__":
    main()
