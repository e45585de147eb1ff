"""Scale benchmark: ingest time and retrieval latency as the corpus grows to 10x (and 100x) the seeds.

    python bench/scale.py                 # 1x and 10x
    python bench/scale.py --factors 1 10 100 --int8   # 100x: ~50k papers, long (see docs)

Synthetic papers recombine real abstracts: each gets a new title (words of two real
titles plus a number) and an abstract of shuffled sentences drawn from three real
abstracts. The real 505 papers stay in every corpus, so dev-set hit@5 is measured too.
Every corpus is embedded from scratch (embedding cost included) into a temp data dir.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import tempfile
import time
from pathlib import Path

from common import Timer, dev_questions, make_settings, peak_rss_mb, percentile, save, stats_ms, table, use_model_cache

SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z])")


def synthetic_papers(real: list, count: int, seed: int = 7) -> list:
    """`count` new papers recombined from the real ones (deterministic for a seed)."""
    from rag.corpus import paper_id
    from rag.models import Paper

    rng = random.Random(seed)
    sentences = [s for p in real for s in SENTENCE.split(p.abstract) if len(s) > 40]
    words = [w for p in real for w in p.title.split() if len(w) > 3]
    out = []
    for i in range(count):
        title = " ".join(rng.sample(words, 6)).strip(":,") + f" {i}"
        picked = rng.sample(sentences, rng.randint(4, 8))
        out.append(Paper(id=paper_id(title), title=title, abstract=" ".join(picked), seed_files=["synthetic"]))
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--factors", type=int, nargs="+", default=[1, 10])
    parser.add_argument("--int8", action="store_true", help="int8-quantised embedding model (faster ingest)")
    parser.add_argument(
        "--keep", type=Path, help="ingest into KEEP/<factor>x and keep it; a kept corpus is not ingested again"
    )
    args = parser.parse_args()
    use_model_cache()
    from rag import evaluate as ev
    from rag.corpus import load_papers
    from rag.index import ingest
    from rag.pipeline import Pipeline
    from rag.search import Retriever

    real = load_papers()
    questions = dev_questions()
    rows, results = [], {}
    for factor in args.factors:
        papers = real + synthetic_papers(real, len(real) * (factor - 1))
        with tempfile.TemporaryDirectory(prefix=f"bench-scale-{factor}x-") as tmp:
            root = args.keep / f"{factor}x" if args.keep else Path(tmp)
            settings = make_settings(root / "data", embed_int8=args.int8)
            done = root / "ingest.json"
            if done.exists():  # kept from an earlier run: its ingest time stands
                t_ingest = Timer()
                t_ingest.seconds = json.loads(done.read_text())["ingest_s"]
            else:
                with Timer() as t_ingest:
                    ingest(papers=papers, settings=settings)
                if args.keep:
                    done.write_text(json.dumps({"ingest_s": t_ingest.seconds, "papers": len(papers)}))
            with Timer() as t_load:
                pipeline = Pipeline(settings, Retriever(settings))
            for q in questions:
                pipeline.retriever.retrieve(q["question"], 10)  # warm-up
            latencies, hits = [], []
            parts: dict[str, list[float]] = {"dense_ms": [], "bm25_ms": [], "fuse_ms": []}
            for _ in range(3):
                for q in questions:
                    t0 = time.perf_counter()
                    got = pipeline.retriever.retrieve(q["question"], 10)
                    latencies.append((time.perf_counter() - t0) * 1e3)
                    for key, values in parts.items():
                        values.append(got.timings[key])
                    if ev.is_answerable(q):
                        hits.append(ev.hit_at([s.paper.title for s in got.sources], q["gold_titles"], 5))
            s = stats_ms(latencies)
            hit5 = sum(hits) / len(hits)
            chunks = len(pipeline.retriever.chunks)
            results[f"{factor}x"] = {
                "papers": len(papers),
                "chunks": chunks,
                "ingest_s": round(t_ingest.seconds, 2),
                "papers_per_s": round(len(papers) / t_ingest.seconds, 1),
                "index_load_s": round(t_load.seconds, 2),
                "retrieval_ms": s,
                "parts_p50_ms": {key: round(percentile(values, 50), 2) for key, values in parts.items()},
                "dev_hit@5": round(hit5, 3),
                "peak_rss_mb": peak_rss_mb(),
                "int8": args.int8,
            }
            rows.append(
                [f"{factor}x", len(papers), chunks, f"{t_ingest.seconds:.1f}", f"{len(papers) / t_ingest.seconds:.1f}",
                 f"{t_load.seconds:.1f}", s["p50"], s["p95"],
                 round(percentile(parts["dense_ms"], 50), 1), round(percentile(parts["bm25_ms"], 50), 1),
                 f"{hit5:.3f}", peak_rss_mb()]
            )  # fmt: skip
            print(table(["corpus", "papers", "chunks", "ingest s", "papers/s", "load s", "p50 ms", "p95 ms",
                         "dense p50", "bm25 p50", "dev hit@5", "peak RSS MB"], rows[-1:]))  # fmt: skip
            del pipeline
    print()
    header = ["corpus", "papers", "chunks", "ingest s", "papers/s", "load s", "retrieval p50 ms", "retrieval p95 ms"]
    print(table([*header, "dense p50 ms", "bm25 p50 ms", "dev hit@5", "peak RSS MB"], rows))
    save("scale-int8" if args.int8 else "scale", {"int8": args.int8, "corpora": results})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
