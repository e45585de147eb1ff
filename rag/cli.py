"""`rag ingest | ask | chat | eval | serve | papers`: the command line over the pipeline."""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import signal
import sys
import threading
from pathlib import Path
from typing import Any

os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")


def _settings():
    from rag.config import get_settings

    return get_settings()


def _arg_text(value: str) -> str:
    """argv arrives as str with surrogate escapes for non-UTF-8 bytes: make them visible, not fatal."""
    return value.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def cmd_ingest(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from rag.index import ingest

    settings = _settings()
    seeds = Path(args.seeds) if args.seeds else settings.seeds_dir
    bars: dict[str, tqdm] = {}

    def bar_for(desc: str):
        def progress(done: int, total: int) -> None:
            if _STOP.is_set():  # a Ctrl-C whose KeyboardInterrupt something swallowed: stop between batches
                raise KeyboardInterrupt
            bar = bars.get(desc)
            if bar is None:
                bar = bars[desc] = tqdm(total=total, unit="paper", desc=desc, disable=args.quiet or None)
            bar.total = total
            bar.n = done
            bar.refresh()

        return progress

    report = ingest(
        seeds_dir=seeds,
        rebuild=args.rebuild,
        settings=settings,
        progress=bar_for("embedding chunks"),
        paper_progress=bar_for(f"embedding papers ({settings.paper_embedder})"),
    )
    for bar in bars.values():
        bar.close()
    for error in report.errors:
        print(f"warning: skipped seed file {error}", file=sys.stderr)
    print(
        f"{report.papers} papers from {report.records} records in {seeds}: "
        f"{report.added} added, {report.updated} updated, {report.deleted} deleted, "
        f"{report.unchanged} unchanged, {report.relabelled} relabelled ({report.chunks_written} chunks"
        + (f", {report.papers_embedded} papers" if report.papers_embedded else "")
        + f" embedded) in {report.seconds:.1f}s"
    )
    _prepare_retrieval(settings, args.quiet)
    return 0


def _prepare_retrieval(settings: Any, quiet: bool) -> None:
    """Build the retrieval snapshot of the new corpus version now, so the app's first start reads it.

    Otherwise the first `rag serve` after an ingest reads every chunk back from Chroma and builds
    BM25 itself (47.6 s at 100x instead of 5.8 s; rag/snapshot.py). Best effort: a failure here
    costs the next start its speed, never the ingest.
    """
    import time as _time

    from rag.search import Retriever

    started = _time.perf_counter()
    try:
        Retriever(settings)
    except Exception as exc:
        print(f"warning: could not prepare the retrieval snapshot ({exc}); the app will build it", file=sys.stderr)
        return
    if not quiet:
        print(f"retrieval snapshot ready in {_time.perf_counter() - started:.1f}s")


def _print_answer(answer) -> None:
    from rag.answer import LOW_CONFIDENCE

    print(answer.text)
    if answer.low_confidence:
        print(f"\nnote: {LOW_CONFIDENCE}")
    if answer.notice:
        print(f"\nnote: {answer.notice}")
    if answer.refused and answer.closest:
        print("\nClosest papers (not judged to answer it):")
        for title in answer.closest:
            print(f"  - {title}")
    cited = {c.n for c in answer.citations}
    if answer.sources:
        print("\nSources:")
        for source in answer.sources:
            mark = "*" if source.n in cited else " "
            print(f" {mark}[{source.n}] {source.paper.title}")


def cmd_ask(args: argparse.Namespace) -> int:
    from rag.pipeline import InvalidQuestion, Pipeline, check_k, clean_question

    if args.question == ["-"]:
        question = sys.stdin.buffer.read().decode("utf-8", "replace")  # bad bytes become U+FFFD, not a crash
    else:
        question = _arg_text(" ".join(args.question))
    try:
        clean_question(question, _settings().max_question_chars)  # bad input fails before the index loads
        if args.k is not None:
            check_k(args.k)
        answer = Pipeline().ask(question, k=args.k, mode=args.mode)
    except InvalidQuestion as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.json:  # the same record as the web app's /ask API
        from rag.models import answer_record

        print(json.dumps(answer_record(answer), indent=2, ensure_ascii=False))
    else:
        _print_answer(answer)
    return 0


CHAT_HELP = "Ask about the papers; follow-ups understand earlier answers. /new starts over, /sources lists the \
last answer's papers, /help, Ctrl-D leaves."


def cmd_chat(args: argparse.Namespace) -> int:
    """An interactive conversation: each answer sees the earlier turns (readline editing on a terminal)."""
    from rag.pipeline import InvalidQuestion, Pipeline, check_k

    with contextlib.suppress(ImportError):  # not on every platform; plain input() still works
        import readline  # noqa: F401  (line editing and history for input())
    if args.k is not None:
        check_k(args.k)
    pipeline = Pipeline()
    history: list[tuple[str, object]] = []
    interactive = sys.stdin.isatty()
    print(f"paperchat: {pipeline.paper_count} papers. {CHAT_HELP}")
    while True:
        try:
            line = input("you> " if interactive else "")
        except EOFError:
            print()
            return 0
        except KeyboardInterrupt:  # Ctrl-C drops the line, not the conversation
            print()
            continue
        text = _arg_text(line).strip()
        if not text:
            continue
        command = text.lower()
        if command in ("/quit", "/exit"):
            return 0
        if command == "/help":
            print(CHAT_HELP)
            continue
        if command == "/new":
            history.clear()
            print("(new conversation)")
            continue
        if command == "/sources":
            last = history[-1][1] if history else None
            if last is None or not last.sources:  # type: ignore[attr-defined]
                print("(no sources yet)")
            for source in last.sources if last is not None else []:  # type: ignore[attr-defined]
                print(f" [{source.n}] {source.paper.title}")
            continue
        try:
            answer = pipeline.ask(text, k=args.k, mode=args.mode, history=history)
        except InvalidQuestion as exc:
            print(f"error: {exc}", file=sys.stderr)
            continue
        if answer.standalone_question and answer.standalone_question != answer.question:
            print(f"(searched for: {answer.standalone_question})")
        _print_answer(answer)
        print()
        history.append((text, answer))


def cmd_papers(args: argparse.Namespace) -> int:
    from rag.corpus import load_corpus

    settings = _settings()
    report = load_corpus(Path(args.seeds) if args.seeds else settings.seeds_dir)
    for error in report.errors:
        print(f"warning: skipped seed file {error}", file=sys.stderr)
    if args.json:
        print(json.dumps([p.model_dump() for p in report.papers], indent=2, ensure_ascii=False))
        return 0
    for paper in report.papers:
        print(f"{paper.id}  {paper.title}  ({', '.join(paper.seed_files)})")
    print(f"{len(report.papers)} papers ({report.records} records)", file=sys.stderr)
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    from rag import evaluate

    return evaluate.main(args)


def cmd_serve(args: argparse.Namespace) -> int:
    from rag.ui import serve

    serve(host=args.host, port=args.port)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rag", description="Cited answers over research-paper abstracts.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log what happens")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("ingest", help="parse the seeds and (re-)embed new or changed papers")
    p.add_argument("--seeds", help="seed directory (default: RAG_SEEDS_DIR or ./seeds)")
    p.add_argument("--rebuild", action="store_true", help="drop the index and embed everything again")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_ingest)

    p = sub.add_parser("ask", help="answer a question (use - to read it from stdin)")
    p.add_argument("question", nargs="+")
    p.add_argument("--k", type=int, default=None, help="papers to retrieve (1-20)")
    p.add_argument("--mode", choices=["auto", "extractive", "llm"], default="auto")
    p.add_argument("--json", action="store_true", help="print the Answer as JSON")
    p.set_defaults(func=cmd_ask)

    p = sub.add_parser("chat", help="a conversation in the terminal (/new, /sources, Ctrl-D to leave)")
    p.add_argument("--k", type=int, default=None, help="papers to retrieve (1-20)")
    p.add_argument("--mode", choices=["auto", "extractive", "llm"], default="auto")
    p.set_defaults(func=cmd_chat)

    p = sub.add_parser("papers", help="list the papers the seeds contain")
    p.add_argument("--seeds")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_papers)

    p = sub.add_parser("eval", help="evaluate over a question set (JSONL)")
    p.add_argument("questions")
    p.add_argument("--out", required=True)
    p.add_argument("--k", type=int, default=5)
    p.add_argument("--retrieval-only", action="store_true", help="rank papers only; no answers")
    p.add_argument(
        "--baseline", choices=["ours", "bm25", "dense"], default="ours", help="system to evaluate (default: ours)"
    )
    p.add_argument("--compare", action="store_true", help="run ours, bm25 and dense; write a comparison table")
    p.add_argument("--jsonl", action="store_true", help="stream per-question results to stdout as JSON lines")
    p.add_argument("--judge", action="store_true", help="LLM-judged faithfulness (needs an LLM endpoint)")
    p.set_defaults(func=cmd_eval)

    p = sub.add_parser("serve", help="the web chat (Gradio)")
    p.add_argument("--host", default=None)
    p.add_argument("--port", type=int, default=None)
    p.set_defaults(func=cmd_serve)
    return parser


_STOP = threading.Event()


def _terminate(signum: int, frame: object) -> None:
    """SIGINT and SIGTERM unwind: the current Chroma write finishes, the rest waits for the next run.

    The flag is for a KeyboardInterrupt that lands inside a finaliser (where Python swallows it,
    seen once under load): ingest checks it after every batch, so the stop still happens.
    """
    _STOP.set()
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(message)s")
    _STOP.clear()
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _terminate)
        signal.signal(signal.SIGINT, _terminate)
    from pydantic import ValidationError

    from rag.index import PaperIndexError

    try:
        return int(args.func(args) or 0)
    except PaperIndexError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 3
    except KeyboardInterrupt:
        again = " (papers stored so far are kept; run `rag ingest` again to finish)" if args.command == "ingest" else ""
        print(f"\ninterrupted{again}", file=sys.stderr)
        return 130
    except ValidationError as exc:  # a bad setting: name the environment variable and what it must be
        for error in exc.errors():
            field = ".".join(str(part) for part in error["loc"])
            where = f"setting RAG_{field.upper()}" if field else "settings"
            print(f"error: invalid {where}: {error['msg']}", file=sys.stderr)
        return 2
    except (OSError, ValueError) as exc:  # missing files, unreadable input: a message, not a traceback
        if args.verbose:
            logging.exception("failed")
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
