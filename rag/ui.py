"""Gradio chat over the pipeline: it renders what `Pipeline.stream` yields, nothing more."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")


def render(answer_text: str, sources: list[Any]) -> str:
    lines = [answer_text]
    if sources:
        lines.append("\n\n**Sources**")
        lines += [f"\n[{s.n}] {s.paper.title}" for s in sources]
    return "".join(lines)


def build_app(pipeline: Any = None) -> Any:
    import gradio as gr

    from rag.pipeline import InvalidQuestion, Pipeline

    pipeline = pipeline or Pipeline()

    def respond(message: str, history: list[Any]) -> Iterator[str]:
        text, sources = "", []
        try:
            for event in pipeline.stream(message):
                if event.kind == "sources":
                    sources = event.sources
                elif event.kind == "delta":
                    text += event.text
                    yield render(text, sources)
                elif event.kind == "answer" and event.answer is not None:
                    yield render(event.answer.text, event.answer.sources)
        except InvalidQuestion as exc:
            yield str(exc)

    return gr.ChatInterface(respond, title="paperchat", description=f"Ask about {pipeline.paper_count} papers.")


def serve(host: str | None = None, port: int | None = None) -> None:
    from rag.config import get_settings

    settings = get_settings()
    app = build_app()
    app.queue(default_concurrency_limit=settings.concurrency).launch(
        server_name=host or settings.host, server_port=port or settings.port
    )
