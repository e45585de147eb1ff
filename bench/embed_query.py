"""Query embedding with all-mpnet-base-v2: latency of one question under several session setups, and int8 quality.

    python bench/embed_query.py [--rounds 2] [--pad-every 8]

Workload: the questions of eval/questions_tune.jsonl, one at a time (as `rag ask` embeds
them). Every variant embeds every question, interleaved (the order of the variants
rotates per question), so a machine whose load changes during the run affects them
alike; the load average before and after is printed. Variants:

- `today`: the session as rag.embeddings built it before this benchmark (intra-op threads =
  cores, spinning on, ORT_ENABLE_ALL at every load, no cache), dynamic sequence length;
- `pad 384`: the same session fed the question padded to 384 tokens (what dynamic length
  saves), on every `--pad-every`-th question only;
- `1 thread` / `2 threads no spin`: intra-op threads and spin-waiting (idle workers spin
  on a busy machine and steal the core the other one needs);
- `saved graph`: the ORT_ENABLE_ALL graph written once and loaded with optimisation off
  (load time; run time should not change);
- `int8 attn` / `int8 attn+ffn-in /ch` / `int8 all /ch`: dynamic int8 MatMuls
  (onnxruntime.quantization): the attention projections with per-tensor weights (rag's
  `embed_int8`), plus the first feed-forward MatMul, or all, with per-channel weights (per
  tensor, the first kept 0.984 mean cosine to fp32 and all 0.73; per channel 0.992 and 0.90);
- `cache hit`: the LRU cache of query vectors (rag.embeddings.OnnxEmbedder.embed_query) on a
  repeated question.

`CPU p50 ms` is the CPU time of all this process's threads per question: on a busy machine
the wall time includes waiting for a core, the CPU time does not (for one intra-op thread it
estimates the wall time on an idle core; for two it adds both threads' work and spinning).

Quality of each int8 graph against fp32: cosine of the question vectors, and paper-level
retrieval over the shipped fp32 paper vectors (rag/paper-vectors-mpnet.npz): hit@1 / hit@5 on
the tune set's answerable questions.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from common import ROOT, percentile, save, table

TUNE = ROOT / "eval" / "questions_tune.jsonl"
MODELS = ROOT / ".cache" / "models"  # the mpnet graph and folder, built once per machine


def session(path: Path, threads: int, spin: bool = True, opt: str = "all", save_to: Path | None = None) -> Any:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.graph_optimization_level = {
        "all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL,
        "none": ort.GraphOptimizationLevel.ORT_DISABLE_ALL,
    }[opt]
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.log_severity_level = 3
    if not spin:
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    if save_to is not None:
        options.optimized_model_filepath = str(save_to)
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def quantized(fp32: Path, keep_fp32: list[str], out: Path, per_channel: bool = False) -> Path:
    """Dynamic int8 MatMuls (weights per tensor or per output channel, activations per call), built once."""
    if not out.exists():
        from onnxruntime.quantization import QuantType, quantize_dynamic

        tmp = out.with_name(out.stem + ".tmp.onnx")
        quantize_dynamic(
            str(fp32),
            str(tmp),
            weight_type=QuantType.QInt8,
            op_types_to_quantize=["MatMul"],
            nodes_to_exclude=keep_fp32,
            per_channel=per_channel,
        )
        tmp.replace(out)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2, help="passes over the questions (first pass warms up)")
    parser.add_argument("--limit", type=int, default=0, help="only the first n questions (a quick look)")
    parser.add_argument("--pad-every", type=int, default=8, help="time `pad 384` on every n-th question")
    args = parser.parse_args()

    from rag.corpus import load_corpus, normalize_title
    from rag.embeddings import MPNetEmbedder
    from rag.index import paper_text
    from rag.paper_vectors import shipped

    load_before = os.getloadavg()
    rows_q = [json.loads(line) for line in TUNE.read_text().splitlines() if line.strip()]
    rows_q = rows_q[: args.limit or None]
    questions = [q["question"] for q in rows_q]

    embedder = MPNetEmbedder(cache_dir=MODELS)  # as rag uses it now (for `cache hit`)
    fp32 = embedder.path
    started = time.perf_counter()
    today = session(fp32, os.cpu_count() or 1)  # rag.embeddings' session before this benchmark
    load_today = time.perf_counter() - started
    tok = embedder.tokenizer
    layers = 12
    work = MODELS / "bench"
    work.mkdir(exist_ok=True)
    int8_models = {
        "int8 attn": quantized(
            fp32, [f"l{i}.{n}" for i in range(layers) for n in ("inter_mm", "out_mm")], work / "mpnet-int8-attn.onnx"
        ),
        "int8 attn+ffn-in /ch": quantized(
            fp32, [f"l{i}.out_mm" for i in range(layers)], work / "mpnet-int8-ffnin-pc.onnx", per_channel=True
        ),
        "int8 all /ch": quantized(fp32, [], work / "mpnet-int8-all-pc.onnx", per_channel=True),
    }
    cores = os.cpu_count() or 1
    saved = work / "mpnet-fp32-optimised.onnx"
    if not saved.exists():
        session(fp32, 1, save_to=saved)
    loads: dict[str, float] = {"today": load_today}
    sessions: dict[str, Any] = {"today": today}
    setups: dict[str, tuple[Path, int, bool, str]] = {
        "1 thread": (fp32, 1, True, "all"),
        "2 threads no spin": (fp32, cores, False, "all"),
        "1 thread saved graph": (saved, 1, True, "none"),
        **{name: (path, 1, True, "all") for name, path in int8_models.items()},
    }
    for name, (path, threads, spin, opt) in setups.items():
        t = time.perf_counter()
        sessions[name] = session(path, threads, spin, opt)
        loads[name] = time.perf_counter() - t

    def feed(text: str, pad_to: int | None = None) -> dict[str, np.ndarray]:
        ids = tok.encode(text).ids
        width = pad_to or len(ids)
        arr = np.ones((1, width), dtype=np.int64)  # <pad> is 1
        mask = np.zeros((1, width), dtype=np.int64)
        arr[0, : len(ids)] = ids
        mask[0, : len(ids)] = 1
        return {"input_ids": arr, "attention_mask": mask}

    def runner(name: str, pad_to: int | None = None) -> Callable[[str], np.ndarray]:
        sess = sessions[name]
        return lambda text: sess.run(None, feed(text, pad_to))[0][0]

    variants: dict[str, Callable[[str], np.ndarray]] = {name: runner(name) for name in sessions}
    variants["pad 384"] = runner("today", 384)
    embedder.embed_query(questions[0])
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
                if name == "pad 384" and qi % args.pad_every:
                    continue
                t, cpu = time.perf_counter(), time.process_time()
                vec = variants[name](text)
                elapsed = (time.perf_counter() - t) * 1000
                if round_no == args.rounds - 1 or args.rounds == 1:
                    times[name].append(elapsed)
                    cpu_times[name].append((time.process_time() - cpu) * 1000)
                    if name != "pad 384":
                        outputs[name].append(np.asarray(vec, dtype=np.float32))
    load_after = os.getloadavg()

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
    reference = np.stack(outputs["1 thread"])

    def quality(name: str) -> dict[str, Any]:
        out = np.stack(outputs[name])
        cos = np.sum(out * reference, axis=1)
        result: dict[str, Any] = {"cos_min": float(cos.min()), "cos_mean": float(cos.mean())}
        if matrix is not None:
            ranks = np.argsort(-(out @ matrix.T), axis=1)
            hits1 = [bool(set(ranks[i, :1]) & gold) for i, gold in answerable]
            hits5 = [bool(set(ranks[i, :5]) & gold) for i, gold in answerable]
            result |= {"hit@1": float(np.mean(hits1)), "hit@5": float(np.mean(hits5)), "n": len(answerable)}
        return result

    lengths = [len(tok.encode(q).ids) for q in questions]
    print(
        f"{len(questions)} questions of {TUNE.relative_to(ROOT)} ({np.median(lengths):.0f} tokens median, "
        f"max {max(lengths)}); {cores} cores; load average before {load_before[0]:.1f}/{load_before[1]:.1f}, "
        f"after {load_after[0]:.1f}/{load_after[1]:.1f} (1/5 min)\n"
    )
    rows, results = [], {}
    for name in names:
        ms = times[name]
        q = quality(name) if name.startswith(("int8", "1 thread", "today")) else {}
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
            ]
        )
    header = ["variant", "n", "p50 ms", "p95 ms", "CPU p50 ms", "load s", "cos vs fp32 min/mean", "hit@1", "hit@5"]
    print(table(header, rows))
    if answerable:
        print(f"\nhit@k: paper-level mpnet alone, {len(answerable)} answerable tune questions")
    save(
        "embed_query",
        {"load_average_before": load_before, "load_average_after": load_after, "variants": results},
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
