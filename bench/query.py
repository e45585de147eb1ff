"""Query benchmark: warm retrieval and extractive-ask latency, and throughput by thread count.

    python bench/query.py [--data-dir DIR] [--repeat 3]

Uses the index in --data-dir (default ./data; ingested first if missing or stale).
Every dev question is asked once to warm up, then `--repeat` times per measurement.
"""

from __future__ import annotations

import argparse
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from common import ROOT, Timer, dev_questions, make_settings, save, stats_ms, table

READY = """
import time
t0 = time.perf_counter()
{imports}
from rag import ask
answer = ask("Which paper introduced pointer networks?")
assert answer.text
print(time.perf_counter() - t0)
"""


def time_to_first_answer(data_dir: Path, with_ui: bool) -> float:
    """Fresh interpreter: imports (gradio too when `with_ui`) + index load + first answer, in seconds."""
    import os
    import subprocess
    import sys

    # with the UI: gradio imported and the Blocks app built (rag.ui imports gradio lazily)
    code = READY.format(imports="import rag.ui\nrag.ui.build_app()" if with_ui else "")
    env = {**os.environ, "RAG_DATA_DIR": str(data_dir)}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=ROOT / "data")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 4, 16])
    args = parser.parse_args()

    import os

    os.environ["RAG_DATA_DIR"] = str(args.data_dir)
    from rag.config import get_settings

    get_settings.cache_clear()
    settings = make_settings(args.data_dir)
    from rag.index import ingest
    from rag.pipeline import Pipeline

    with Timer() as t_ingest:
        report = ingest(settings=settings)
    print(f"index: {report.papers} papers ({report.added + report.updated} embedded now, {t_ingest.seconds:.1f} s)")
    with Timer() as t_load:
        pipeline = Pipeline(settings)
    questions = [q["question"] for q in dev_questions()]
    for q in questions:  # warm-up: caches, lazy imports, ONNX arena
        pipeline.ask(q, mode="extractive")

    retrieval, asks = [], []
    for _ in range(args.repeat):
        for q in questions:
            t0 = time.perf_counter()
            pipeline.retriever.retrieve(q, settings.top_k)
            t1 = time.perf_counter()
            pipeline.ask(q, mode="extractive")
            t2 = time.perf_counter()
            retrieval.append((t1 - t0) * 1e3)
            asks.append((t2 - t1) * 1e3)
    latency = {"retrieval": stats_ms(retrieval), "ask (extractive)": stats_ms(asks)}

    throughput = {}
    work = questions * args.repeat
    for threads in args.threads:
        with ThreadPoolExecutor(threads) as pool, Timer() as t:
            list(pool.map(lambda q: pipeline.ask(q, mode="extractive"), work))
        throughput[threads] = round(len(work) / t.seconds, 1)

    ready = {
        "import rag + first answer": round(time_to_first_answer(args.data_dir, False), 2),
        "import rag.ui + build_app() (gradio) + first answer": round(time_to_first_answer(args.data_dir, True), 2),
    }
    print(f"pipeline load: {t_load.seconds:.2f} s; {len(questions)} dev questions x {args.repeat}\n")
    print(
        table(
            ["what", "n", "p50 ms", "p95 ms", "p99 ms", "mean ms"],
            [[name, s["n"], s["p50"], s["p95"], s["p99"], s["mean"]] for name, s in latency.items()],
        )
    )
    print()
    print(table(["threads", "asks/s"], [[n, qps] for n, qps in throughput.items()]))
    print()
    print(table(["app ready (fresh process)", "seconds"], [[k, v] for k, v in ready.items()]))
    save(
        "query",
        {
            "papers": report.papers,
            "pipeline_load_s": round(t_load.seconds, 3),
            "latency_ms": latency,
            "asks_per_s_by_threads": throughput,
            "ready_s": ready,
        },
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
