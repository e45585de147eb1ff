"""The query rewrite's worth, one LLM call per question: hit@1 / hit@5 / MRR@10 off and at several weights.

    RAG_DATA_DIR=data RAG_LLM_BASE_URL=http://127.0.0.1:8093/v1 RAG_LLM_MODEL=gemma3-270m \\
        RAG_LLM_API=completions PYTHONPATH=$PWD .venv/bin/python scripts/rewrite_sweep.py \\
        out/hard_tune.jsonl out/hard_test.jsonl --out out/sweep.json

Each question is rewritten once (the rewriter's cache serves the other weights), so the weights
compare on the very same passages; `--reuse` searches the passages of an earlier run again (another
embedder, other weights). `rag eval` with RAG_QUERY_REWRITE=true gives the figure of one setting.
Also the wall time of each rewrite (the LLM's, on whatever load the machine has).
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import statistics
import time
from pathlib import Path

from rag.config import Settings
from rag.corpus import normalize_title
from rag.evaluate.metrics import RANK_DEPTH
from rag.rewrite import QueryRewriter
from rag.search import Retriever


def rank_of_gold(retrieval, gold: set[str]) -> int | None:
    for rank, source in enumerate(retrieval.sources, start=1):
        if normalize_title(source.paper.title) in gold:
            return rank
    return None


def figures(ranks: list[int | None]) -> dict[str, float]:
    n = len(ranks)
    return {
        "n": n,
        "hit@1": sum(r == 1 for r in ranks) / n,
        "hit@5": sum(r is not None and r <= 5 for r in ranks) / n,
        "mrr@10": sum(1 / r for r in ranks if r is not None and r <= 10) / n,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("questions", nargs="+")
    parser.add_argument("--out", required=True)
    parser.add_argument("--weights", default="0.5,1,2")
    parser.add_argument("--reuse", help="an earlier --out file: search its passages again, no LLM call")
    args = parser.parse_args()
    settings = Settings(query_rewrite=True, query_rewrite_timeout=120)  # measure the model, not the timeout
    base = Retriever(settings.model_copy(update={"query_rewrite": False}))
    rewriter = QueryRewriter(settings)
    if args.reuse:  # the same passages under another embedder or weight (temperature 0: the model would repeat them)
        for result in json.loads(Path(args.reuse).read_text())["sets"].values():
            for detail in result["questions"]:
                if detail["passage"]:
                    rewriter._cache[detail["question"]] = detail["passage"]
    weights = [float(w) for w in args.weights.split(",")]
    variants = {"off": base}
    for weight in weights:
        clone = copy.copy(base)
        clone.settings = settings.model_copy(update={"query_rewrite_weight": weight})
        clone.rewriter = rewriter
        variants[f"w={weight:g}"] = clone
    report: dict = {"load_before": os.getloadavg(), "sets": {}}
    for path in args.questions:
        rows = [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]
        ranks: dict[str, list[int | None]] = {name: [] for name in variants}
        details = []
        for row in rows:
            gold = {normalize_title(t) for t in row["gold_titles"]}
            started = time.perf_counter()
            rewrite = rewriter.rewrite(row["question"])
            wall = (time.perf_counter() - started) * 1e3
            detail = {"id": row["id"], "question": row["question"], "passage": rewrite.passage,
                      "skipped": rewrite.skipped, "rewrite_ms": wall}  # fmt: skip
            for name, retriever in variants.items():
                rank = rank_of_gold(retriever.retrieve(row["question"], RANK_DEPTH), gold)
                ranks[name].append(rank)
                detail[name] = rank
            details.append(detail)
            print(json.dumps({k: detail[k] for k in ("id", *variants, "rewrite_ms")}), flush=True)
        asked = [d["rewrite_ms"] for d in details if d["passage"] or d["skipped"] != "the question names its paper"]
        report["sets"][path] = {
            "figures": {name: figures(r) for name, r in ranks.items()},
            "rewritten": sum(bool(d["passage"]) for d in details),
            "skipped": [d["skipped"] for d in details if d["skipped"]],
            "rewrite_ms_p50": statistics.median(asked) if asked else None,
            "rewrite_ms_p95": sorted(asked)[int(0.95 * (len(asked) - 1))] if asked else None,
            "questions": details,
        }
    report["load_after"] = os.getloadavg()
    Path(args.out).write_text(json.dumps(report, indent=1))
    for path, result in report["sets"].items():
        print(path, json.dumps(result["figures"]), "rewritten", result["rewritten"], "p50 ms", result["rewrite_ms_p50"])


if __name__ == "__main__":
    main()
