"""Query embedding with all-mpnet-base-v2: latency of one question under several graphs and session setups, and quality.

    python bench/embed_query.py [--rounds 2] [--limit 60] [--busy]

Workload: the questions of eval/questions_tune.jsonl, one at a time (as `rag ask` embeds
them). Every variant embeds every question, interleaved (the order of the variants
rotates per question), so a machine whose load changes during the run affects them
alike; the load average before and after is printed. `--busy` runs a busy loop on one core
for the whole run (a machine under load ~1 more). Variants:

- `fp32 (graph v1)`: the fp32 graph and the session rag used before graph version 2 (intra-op
  threads = cores, spinning off, ORT_ENABLE_ALL);
- `w8 (rag now)`: rag's session options over the graph it builds now (`MPNetEmbedder`: 8-bit
  weight-only MatMulNBits, blocks of 32, int8 compute), no query cache;
- `... 1 thread` / `... spin`: one intra-op thread, or two with spin-waiting on (idle workers
  spin and take the core the other one needs on a busy machine);
- `w8 block 128`: the same graph with blocks of 128 (fewer scales: faster, further from fp32);
- `int8 attn`: `RAG_EMBED_INT8=true` (dynamic int8 attention projections, per-tensor weights);
- `cache hit`: the LRU cache of query vectors (rag.embeddings.OnnxEmbedder.embed_query) on a
  repeated question.

`CPU p50 ms` is the CPU time of all this process's threads per question: on a busy machine
the wall time includes waiting for a core, the CPU time does not (for one intra-op thread it
estimates the wall time on an idle core; for two it adds both threads' work and spinning).

Quality against fp32: cosine of the question vectors, and paper-level retrieval over the
shipped paper vectors (rag/paper-vectors-mpnet.npz, made with rag's graph): hit@1 / hit@5 / MRR on
the tune set's answerable questions.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
from common import ROOT, percentile, save, table

TUNE = ROOT / "eval" / "questions_tune.jsonl"
MODELS = ROOT / ".cache" / "models"  # the mpnet graph and folder, built once per machine


def session(path: Path, threads: int, spin: bool = True) -> Any:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.log_severity_level = 3
    options.add_session_config_entry("session.intra_op.allow_spinning", "1" if spin else "0")
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2, help="passes over the questions (first pass warms up)")
    parser.add_argument("--limit", type=int, default=0, help="only the first n questions (a quick look)")
    parser.add_argument("--busy", action="store_true", help="a busy loop on one core during the run")
    parser.add_argument("--only", nargs="*", default=None, help="time only these variants (names as in the table)")
    args = parser.parse_args()

    from rag.corpus import load_corpus, normalize_title
    from rag.embeddings import MPNetEmbedder, build_mpnet_onnx, cached_model, mpnet_model_dir, weight_only_int8
    from rag.index import paper_text
    from rag.paper_vectors import shipped

    rows_q = [json.loads(line) for line in TUNE.read_text().splitlines() if line.strip()]
    rows_q = rows_q[: args.limit or None]
    questions = [q["question"] for q in rows_q]

    embedder = MPNetEmbedder(cache_dir=MODELS)  # as rag uses it now (for `cache hit`)
    weights = mpnet_model_dir(MODELS)
    graph = partial(cached_model, weights, MODELS, build=build_mpnet_onnx, prefix="mpnet")
    fp32 = graph(version="1")  # graph version 2 only changed the weights to 8-bit: the same fp32 graph
    work = MODELS / "bench"
    work.mkdir(exist_ok=True)
    w8_128 = work / "mpnet-w8-block128.onnx"
    if not w8_128.exists():
        weight_only_int8(fp32, w8_128, block_size=128)
    layers = 12
    int8_attn = graph(
        version="1", quantize=True, keep_fp32=tuple(f"l{i}.{n}" for i in range(layers) for n in ("inter_mm", "out_mm"))
    )
    tok = embedder.tokenizer
    cores = os.cpu_count() or 1
    loads: dict[str, float] = {}
    # Not `embedder.session`: that one embeds each question just before (the `cache hit` fill), and a
    # session that has just run the same input shape is faster (it made `w8 (rag now)` look 1.5x
    # faster than `w8 1 thread`).
    sessions: dict[str, Any] = {}
    setups: dict[str, tuple[Path, int, bool]] = {
        "w8 (rag now)": (embedder.path, cores, False),
        "fp32 (graph v1)": (fp32, cores, False),
        "fp32 1 thread": (fp32, 1, False),
        "fp32 spin": (fp32, cores, True),
        "w8 1 thread": (embedder.path, 1, False),
        "w8 spin": (embedder.path, cores, True),
        "w8 block 128": (w8_128, cores, False),
        "int8 attn": (int8_attn, cores, False),
    }
    if args.only is not None:
        setups = {name: setup for name, setup in setups.items() if name in args.only or name == "fp32 (graph v1)"}
    for name, (path, threads, spin) in setups.items():
        t = time.perf_counter()
        sessions[name] = session(path, threads, spin)
        loads[name] = time.perf_counter() - t
    busy = subprocess.Popen([sys.executable, "-c", "while True: pass"]) if args.busy else None
    load_before = os.getloadavg()

    def feed(text: str) -> dict[str, np.ndarray]:
        ids = np.array([tok.encode(text).ids], dtype=np.int64)
        return {"input_ids": ids, "attention_mask": np.ones_like(ids)}

    def runner(name: str) -> Callable[[str], np.ndarray]:
        sess = sessions[name]
        return lambda text: sess.run(None, feed(text))[0][0]

    variants: dict[str, Callable[[str], np.ndarray]] = {name: runner(name) for name in sessions}
    embedder.embed_query(questions[0])
    if args.only is None or "cache hit" in args.only:
        variants["cache hit"] = embedder.embed_query  # warmed below: every timed call is a repeat

    times: dict[str, list[float]] = {name: [] for name in variants}
    cpu_times: dict[str, list[float]] = {name: [] for name in variants}  # all threads of this process
    outputs: dict[str, list[np.ndarray]] = {name: [] for name in variants}
    names = list(variants)
    for round_no in range(args.rounds):
        for qi, text in enumerate(questions):
            embedder.embed_query(text)  # fills the cache for `cache hit`
            shift = (qi + round_no) % len(names)
            for name in names[shift:] + names[:shift]:
                t, cpu = time.perf_counter(), time.process_time()
                vec = variants[name](text)
                elapsed = (time.perf_counter() - t) * 1000
                if round_no == args.rounds - 1 or args.rounds == 1:
                    times[name].append(elapsed)
                    cpu_times[name].append((time.process_time() - cpu) * 1000)
                    outputs[name].append(np.asarray(vec, dtype=np.float32))
    load_after = os.getloadavg()
    if busy is not None:
        busy.kill()
        busy.wait()

    # Quality against fp32: cosine of question vectors, and paper-level retrieval over the shipped vectors.
    papers = load_corpus(ROOT / "seeds").papers
    vectors = shipped("mpnet")
    matrix = None
    if vectors is not None and vectors.digest == embedder.digest:
        matrix = np.stack([vectors.get(paper_text(p), embedder.digest) for p in papers])
    else:
        print("(no shipped mpnet paper vectors for this model: run scripts/ship_paper_vectors.py; skipping hit@k)")
    by_title = {normalize_title(p.title): i for i, p in enumerate(papers)}
    answerable = [
        (i, {by_title[normalize_title(t)] for t in q["gold_titles"] if normalize_title(t) in by_title})
        for i, q in enumerate(rows_q)
        if q.get("type") != "unanswerable" and q.get("gold_titles")
    ]
    reference = np.stack(outputs["fp32 (graph v1)"])

    def quality(name: str) -> dict[str, Any]:
        out = np.stack(outputs[name])
        cos = np.sum(out * reference, axis=1)
        result: dict[str, Any] = {"cos_min": float(cos.min()), "cos_mean": float(cos.mean())}
        if matrix is not None:
            ranks = np.argsort(-(out @ matrix.T), axis=1)
            hits1 = [bool(set(ranks[i, :1]) & gold) for i, gold in answerable]
            hits5 = [bool(set(ranks[i, :5]) & gold) for i, gold in answerable]
            rr = [1.0 / (1 + min(list(ranks[i]).index(g) for g in gold)) for i, gold in answerable]
            result |= {
                "hit@1": float(np.mean(hits1)),
                "hit@5": float(np.mean(hits5)),
                "mrr": float(np.mean(rr)),
                "n": len(answerable),
            }
        return result

    lengths = [len(tok.encode(q).ids) for q in questions]
    busy_note = "; a busy loop on one core" if busy else ""
    print(
        f"{len(questions)} questions of {TUNE.relative_to(ROOT)} ({np.median(lengths):.0f} tokens median, "
        f"max {max(lengths)}); {cores} cores{busy_note}; "
        f"load average before {load_before[0]:.1f}/{load_before[1]:.1f}, "
        f"after {load_after[0]:.1f}/{load_after[1]:.1f} (1/5 min)\n"
    )
    rows, results = [], {}
    for name in names:
        ms = times[name]
        q = quality(name) if name != "cache hit" else {}
        results[name] = {
            "n": len(ms),
            "p50_ms": round(percentile(ms, 50), 2),
            "p95_ms": round(percentile(ms, 95), 2),
            "cpu_p50_ms": round(percentile(cpu_times[name], 50), 2),
            "load_s": round(loads.get(name, 0.0), 2),
            **q,
        }
        rows.append(
            [
                name,
                len(ms),
                f"{percentile(ms, 50):.1f}",
                f"{percentile(ms, 95):.1f}",
                f"{percentile(cpu_times[name], 50):.1f}",
                f"{loads[name]:.1f}" if name in loads else "",
                f"{q['cos_min']:.4f} / {q['cos_mean']:.4f}" if q else "",
                f"{q['hit@1']:.3f}" if "hit@1" in q else "",
                f"{q['hit@5']:.3f}" if "hit@5" in q else "",
                f"{q['mrr']:.3f}" if "mrr" in q else "",
            ]
        )
    header = [
        "variant",
        "n",
        "p50 ms",
        "p95 ms",
        "CPU p50 ms",
        "load s",
        "cos vs fp32 min/mean",
        "hit@1",
        "hit@5",
        "MRR",
    ]
    print(table(header, rows))
    if answerable:
        print(f"\nhit@k: paper-level mpnet alone, {len(answerable)} answerable tune questions")
    save(
        "embed_query",
        {
            "load_average_before": load_before,
            "load_average_after": load_after,
            "busy_loop": bool(busy),
            "variants": results,
        },
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
