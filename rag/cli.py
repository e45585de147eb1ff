"""`rag ingest | ask | chat | eval | serve | mcp | papers`: the command line over the pipeline."""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import signal
import sys
import threading
import unicodedata
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


# Bidirectional overrides and isolates: they reorder what a terminal shows (format characters, Cf).
BIDI_CONTROLS = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def shown(text: object, keep_newlines: bool = False) -> str:
    """`text` from the corpus, a question or an LLM reply, safe to print to a terminal.

    Control characters (ESC sequences that retitle the window or clear the screen, BEL, C1
    controls such as CSI \\x9b, U+2028/U+2029) and bidi overrides are written out as `\\x1b` /
    `\\u202e` instead of being obeyed; `keep_newlines` leaves \\n for multi-line answers.
    """
    out = []
    for char in str(text):
        if (char == "\n" and keep_newlines) or not (
            unicodedata.category(char) in ("Cc", "Zl", "Zp") or char in BIDI_CONTROLS
        ):
            out.append(char)
        elif ord(char) < 0x100:
            out.append(f"\\x{ord(char):02x}")
        else:
            out.append(f"\\u{ord(char):04x}")
    return "".join(out)


def shown_json(value: object) -> str:
    """JSON for the terminal: C0 controls are escaped by json itself, C1 and bidi ones here (still valid JSON)."""
    text = json.dumps(value, indent=2, ensure_ascii=False)
    return "".join(
        f"\\u{ord(c):04x}" if (0x7F <= ord(c) < 0xA0 or c in BIDI_CONTROLS or c in "\u2028\u2029") else c for c in text
    )


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
        sentence_progress=bar_for("embedding abstract sentences"),
    )
    for bar in bars.values():
        bar.close()
    for error in report.errors:
        print(f"warning: skipped seed file {shown(error)}", file=sys.stderr)
    print(
        f"{report.papers} papers from {report.records} records in {seeds}: "
        f"{report.added} added, {report.updated} updated, {report.deleted} deleted, "
        f"{report.unchanged} unchanged, {report.relabelled} relabelled ({report.chunks_written} chunks"
        + (f", {report.papers_embedded} papers" if report.papers_embedded else "")
        + (f", sentences of {report.sentences_embedded} papers" if report.sentences_embedded else "")
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

    print(shown(answer.text, keep_newlines=True))
    if answer.low_confidence:
        print(f"\nnote: {LOW_CONFIDENCE}")
    if answer.notice:
        print(f"\nnote: {shown(answer.notice)}")
    if answer.refused and answer.closest:
        print("\nClosest papers (not judged to answer it):")
        for title in answer.closest:
            print(f"  - {shown(title)}")
    cited = {c.n for c in answer.citations}
    if answer.sources:
        print("\nSources:")
        for source in answer.sources:
            mark = "*" if source.n in cited else " "
            print(f" {mark}[{source.n}] {shown(source.paper.title)}")


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

        print(shown_json(answer_record(answer)))
    else:
        _print_answer(answer)
    return 0


CHAT_HELP = "Ask about the papers; follow-ups understand earlier answers. /new starts over, /sources lists the \
last answer's papers, /help, Ctrl-D leaves."


def cmd_chat(args: argparse.Namespace) -> int:
    """An interactive conversation: each answer sees the earlier turns (readline editing on a terminal)."""
    from rag.models import MAX_HISTORY_TURNS
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
                print(f" [{source.n}] {shown(source.paper.title)}")
            continue
        try:
            answer = pipeline.ask(text, k=args.k, mode=args.mode, history=history[-MAX_HISTORY_TURNS:])
        except InvalidQuestion as exc:
            print(f"error: {exc}", file=sys.stderr)
            continue
        if answer.standalone_question and answer.standalone_question != answer.question:
            print(f"(searched for: {shown(answer.standalone_question)})")
        _print_answer(answer)
        print()
        history.append((text, answer))


def cmd_papers(args: argparse.Namespace) -> int:
    from rag.corpus import load_corpus

    settings = _settings()
    report = load_corpus(Path(args.seeds) if args.seeds else settings.seeds_dir)
    for error in report.errors:
        print(f"warning: skipped seed file {shown(error)}", file=sys.stderr)
    if args.json:
        print(shown_json([p.model_dump() for p in report.papers]))
        return 0
    for paper in report.papers:
        print(f"{paper.id}  {shown(paper.title)}  ({shown(', '.join(paper.seed_files))})")
    print(f"{len(report.papers)} papers ({report.records} records)", file=sys.stderr)
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    from rag import evaluate

    return evaluate.main(args)


def cmd_serve(args: argparse.Namespace) -> int:
    from rag.ui import serve

    serve(host=args.host, port=args.port)
    return 0


def cmd_mcp(args: argparse.Namespace) -> int:
    """The MCP server over stdio: stdout is the protocol's, so everything else goes to stderr."""
    from rag.service.mcp_server import main as serve_mcp

    serve_mcp()
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

    p = sub.add_parser("serve", help="the web chat (Gradio) and the OpenAI chat API under /v1")
    p.add_argument("--host", default=None)
    p.add_argument("--port", type=int, default=None)
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("mcp", help="an MCP server over stdio (tools: ask, search_papers, get_paper, list_papers)")
    p.set_defaults(func=cmd_mcp)
    return parser


_STOP = threading.Event()


def setting_name(loc: tuple[int | str, ...]) -> str:
    """The environment variable a settings error is about: a field (`top_k` -> RAG_TOP_K), or the
    variable itself when the field reads an alias (`RAG_PORT`, `GRADIO_SERVER_PORT`, `OPENAI_API_KEY`)."""
    field = ".".join(str(part) for part in loc)
    if not field:
        return "settings"
    if field.isupper():  # an alias, already a variable's name: the one of its choices that is set
        from rag.config import Settings

        for info in Settings.model_fields.values():
            choices = getattr(info.validation_alias, "choices", ())
            if field in choices:
                field = next((str(c) for c in choices if str(c) in os.environ), field)
        return f"setting {field}"
    return f"setting RAG_{field.upper()}"


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
            print(f"error: invalid {setting_name(error['loc'])}: {error['msg']}", file=sys.stderr)
        return 2
    except (OSError, ValueError) as exc:  # missing files, unreadable input: a message, not a traceback
        if args.verbose:
            logging.exception("failed")
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
