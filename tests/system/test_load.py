"""16 threads asking at once get exactly the answers a single thread gets (about 10 s, so not `slow`)."""

from __future__ import annotations

import statistics
import time
from concurrent.futures import ThreadPoolExecutor

THREADS, REPEATS = 16, 8


def fingerprint(answer) -> tuple:
    return (
        answer.text,
        answer.refused,
        tuple((c.n, c.paper_id, c.quote, c.start, c.end) for c in answer.citations),
        tuple((s.n, s.paper.id, s.score) for s in answer.sources),
    )


def test_16_threads_answer_like_one(pipeline, dev_questions):
    questions = [q["question"] for q in dev_questions]
    expected = {q: fingerprint(pipeline.ask(q)) for q in questions}
    work = [q for _ in range(REPEATS) for q in questions]

    def timed(question: str) -> tuple[str, tuple, float]:
        started = time.perf_counter()
        answer = pipeline.ask(question)
        return question, fingerprint(answer), (time.perf_counter() - started) * 1e3

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        results = list(pool.map(timed, work))
    wall = time.perf_counter() - started

    assert len(results) == len(work) == 40 * REPEATS
    mismatched = [q for q, got, _ in results if got != expected[q]]
    assert not mismatched, f"{len(mismatched)} answers differ under load, e.g. {mismatched[:3]}"
    latencies = sorted(ms for _, _, ms in results)
    p50 = statistics.median(latencies)
    p95 = latencies[int(0.95 * (len(latencies) - 1))]
    print(
        f"\n{len(work)} questions on {THREADS} threads in {wall:.1f} s "
        f"({len(work) / wall:.1f} q/s): latency p50 {p50:.0f} ms, p95 {p95:.0f} ms"
    )
