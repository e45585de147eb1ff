"""Service benchmark: what the OpenAI API adds to a warm ask, and 20 concurrent API clients.

    python bench/service.py [--data-dir DIR] [--repeat 3] [--clients 20] [--per-client 10] [--deadline 300]

Serves the app as `rag serve` does (Gradio chat plus /v1) on a free 127.0.0.1 port in this
process, over the index in --data-dir (default ./data; ingested first if missing or stale).
Overhead: each dev question is asked directly (`Pipeline.ask`) and through
`POST /v1/chat/completions` (plain and streamed) back to back, with one keep-alive client; the
overhead is the median of the per-question differences. Load: `--clients` threads, each its
own HTTP client, send `--per-client` questions each (bounded count and `--deadline` seconds);
every reply must equal the single-client reply to the same question.
"""

from __future__ import annotations

import argparse
import statistics
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from common import ROOT, Timer, dev_questions, make_settings, save, stats_ms, table

TARGET_MS = 5.0


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def body(question: str, stream: bool = False) -> dict[str, Any]:
    return {"model": "paperchat", "stream": stream, "messages": [{"role": "user", "content": question}]}


def api_reply(client: Any, url: str, question: str, stream: bool = False) -> str:
    """The reply text, read to the end (plain JSON or the whole SSE stream)."""
    import json

    if not stream:
        response = client.post(url, json=body(question))
        response.raise_for_status()
        return str(response.json()["choices"][0]["message"]["content"])
    text = []
    with client.stream("POST", url, json=body(question, stream=True)) as response:
        response.raise_for_status()
        for line in response.iter_lines():
            if line.startswith("data: ") and line != "data: [DONE]":
                text.append(json.loads(line[6:])["choices"][0]["delta"].get("content") or "")
    return "".join(text)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=ROOT / "data")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--per-client", type=int, default=10)
    parser.add_argument("--deadline", type=float, default=300.0, help="seconds the load test may take at most")
    args = parser.parse_args()

    import os

    os.environ["RAG_DATA_DIR"] = str(args.data_dir)
    from rag.config import get_settings

    get_settings.cache_clear()
    settings = make_settings(args.data_dir)
    import httpx

    from rag.index import ingest
    from rag.pipeline import Pipeline
    from rag.service.reply import reply_text
    from rag.ui import build_app, launch

    report = ingest(settings=settings)
    print(f"index: {report.papers} papers")
    pipeline = Pipeline(settings)
    app = build_app(pipeline)
    port = free_port()
    launch(app, settings, host="127.0.0.1", port=port, block=False, quiet=True)
    url = f"http://127.0.0.1:{port}/v1/chat/completions"
    questions = [q["question"] for q in dev_questions()]
    try:
        with httpx.Client(timeout=120) as client:
            expected = {q: reply_text(pipeline.ask(q)) for q in questions}  # warm-up, and the reference replies
            for q in questions:
                assert api_reply(client, url, q) == expected[q], f"API reply differs for {q!r}"
            direct, plain, streamed = [], [], []
            for _ in range(args.repeat):
                for q in questions:
                    t0 = time.perf_counter()
                    pipeline.ask(q)
                    t1 = time.perf_counter()
                    api_reply(client, url, q)
                    t2 = time.perf_counter()
                    api_reply(client, url, q, stream=True)
                    t3 = time.perf_counter()
                    direct.append((t1 - t0) * 1e3)
                    plain.append((t2 - t1) * 1e3)
                    streamed.append((t3 - t2) * 1e3)
        over_plain = statistics.median(p - d for p, d in zip(plain, direct, strict=True))
        over_stream = statistics.median(s - d for s, d in zip(streamed, direct, strict=True))
        rows = [
            ["Pipeline.ask (direct)", *stats_ms(direct).values(), "-"],
            ["POST /v1/chat/completions", *stats_ms(plain).values(), f"{over_plain:+.2f}"],
            ["... stream=true (to [DONE])", *stats_ms(streamed).values(), f"{over_stream:+.2f}"],
        ]
        print(f"\nWarm ask vs the API ({len(direct)} asks each, one keep-alive client, loopback)\n")
        print(table(["path", "n", "p50 ms", "p95 ms", "p99 ms", "mean ms", "overhead p50 ms"], rows))
        verdict = "meets" if max(over_plain, over_stream) < TARGET_MS else "MISSES"
        print(f"\nAPI overhead {over_plain:.2f} ms plain, {over_stream:.2f} ms streamed: {verdict} the {TARGET_MS} ms")

        # -- load: N clients at once, bounded count and time ------------------------------------
        deadline = time.monotonic() + args.deadline
        latencies: list[float] = []
        failures: list[str] = []
        lock = threading.Lock()

        def one_client(index: int) -> None:
            with httpx.Client(timeout=120) as own:
                for i in range(args.per_client):
                    if time.monotonic() > deadline:
                        with lock:
                            failures.append(f"client {index}: deadline passed after {i} questions")
                        return
                    q = questions[(index * args.per_client + i) % len(questions)]
                    t0 = time.perf_counter()
                    try:
                        got = api_reply(own, url, q, stream=bool(i % 2))
                    except httpx.HTTPError as exc:
                        got = f"error: {exc!r}"
                    ms = (time.perf_counter() - t0) * 1e3
                    with lock:
                        latencies.append(ms)
                        if got != expected[q]:
                            failures.append(f"client {index}: {q!r}: {got[:120]!r}")

        with Timer() as wall, ThreadPoolExecutor(max_workers=args.clients) as pool:
            list(pool.map(one_client, range(args.clients)))
        total = args.clients * args.per_client
        load = stats_ms(latencies)
        print(f"\n{args.clients} concurrent API clients x {args.per_client} questions (half streamed)\n")
        print(
            table(
                ["clients", "requests", "ok", "wrong/failed", "wall s", "req/s", "p50 ms", "p95 ms", "p99 ms"],
                [
                    [
                        args.clients,
                        total,
                        len(latencies) - len(failures),
                        len(failures),
                        f"{wall.seconds:.1f}",
                        f"{len(latencies) / wall.seconds:.1f}",
                        load["p50"],
                        load["p95"],
                        load["p99"],
                    ]
                ],
            )
        )
        for failure in failures[:5]:
            print(f"  {failure}")
        save(
            "service",
            {
                "overhead_ms": {"plain": round(over_plain, 3), "stream": round(over_stream, 3)},
                "latency": {"direct": stats_ms(direct), "api": stats_ms(plain), "api_stream": stats_ms(streamed)},
                "load": {"clients": args.clients, "requests": total, "failures": len(failures),
                         "wall_s": round(wall.seconds, 2), **load},
            },
        )  # fmt: skip
        return 1 if failures else 0
    finally:
        app.close()


if __name__ == "__main__":
    raise SystemExit(main())
