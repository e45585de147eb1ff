"""Start to ready and warm asks over an existing index, each case in a fresh process.

    python bench/startup.py --data /path/to/data        # e.g. a corpus kept by bench/scale.py --keep

Cases: `store` builds retrieval state from Chroma (a first start, or a new corpus version),
`snapshot` loads what the first start saved (rag/snapshot.py). Each reports seconds from
process start to the first answer, peak RSS, and warm extractive ask and retrieval
p50/p95/p99 over the dev questions (3 rounds), plus dev hit@5 inside that corpus.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

from common import ROOT, save, table

CHILD = r"""
import json, sys, time
started = time.perf_counter()
sys.path.insert(0, {bench!r})
from common import dev_questions, make_settings, peak_rss_mb, stats_ms
from rag.pipeline import Pipeline
from rag import evaluate as ev
settings = make_settings(__import__("pathlib").Path({data!r}))
pipeline = Pipeline(settings)
questions = dev_questions()
pipeline.ask(questions[0]["question"])
ready = time.perf_counter() - started
asks, retrievals, hits = [], [], []
for _ in range(3):
    for q in questions:
        t0 = time.perf_counter()
        got = pipeline.retriever.retrieve(q["question"])
        retrievals.append((time.perf_counter() - t0) * 1e3)
        t0 = time.perf_counter()
        pipeline.ask(q["question"])
        asks.append((time.perf_counter() - t0) * 1e3)
        if ev.is_answerable(q):
            hits.append(ev.hit_at([s.paper.title for s in got.sources], q["gold_titles"], 5))
print(json.dumps({{"ready_s": round(ready, 2), "papers": pipeline.paper_count, "chunks": len(pipeline.retriever.chunks),
    "retrieval_ms": stats_ms(retrievals), "ask_ms": stats_ms(asks), "dev_hit@5": round(sum(hits) / len(hits), 3),
    "peak_rss_mb": peak_rss_mb()}}))
"""


def run_case(data: Path) -> dict:
    code = CHILD.format(bench=str(ROOT / "bench"), data=str(data))
    started = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    result["wall_s"] = round(time.perf_counter() - started, 2)
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="a data dir holding an ingested index")
    args = parser.parse_args()
    cache = args.data / "cache"
    for old in cache.glob("retrieval-*.pkl"):
        old.unlink()  # the first case must build from the store
    results = {"store": run_case(args.data), "snapshot": run_case(args.data)}
    rows = [
        [case, r["papers"], r["chunks"], r["ready_s"], r["peak_rss_mb"], r["retrieval_ms"]["p50"],
         r["retrieval_ms"]["p95"], r["retrieval_ms"]["p99"], r["ask_ms"]["p50"], r["ask_ms"]["p95"],
         r["ask_ms"]["p99"], r["dev_hit@5"]]
        for case, r in results.items()
    ]  # fmt: skip
    header = ["start from", "papers", "chunks", "ready s", "peak RSS MB", "retrieval p50", "p95", "p99",
              "ask p50 ms", "p95", "p99", "dev hit@5"]  # fmt: skip
    print(table(header, rows))
    save(f"startup-{args.data.parent.name or 'data'}", {"data": str(args.data), "cases": results})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
