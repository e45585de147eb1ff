"""The web chat: `rendering` (pure: answers in, escaped HTML out) and `app` (the Gradio app and serving).

Importing this package sets GRADIO_ANALYTICS_ENABLED=False before gradio can load.
"""

import os

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

from rag.ui.app import Backend, build_app, index_message, launch, parse_auth, serve, theme
from rag.ui.rendering import (
    CSS,
    EXAMPLES_FILE,
    INGEST_HINT,
    anchor,
    answer_footer,
    answer_json,
    answer_markdown,
    answer_message,
    escape_text,
    example_questions,
    highlight,
    history_of,
    link_citations,
    paper_matches,
    papers_html,
    quote_spans,
    search_refusal,
    source_card,
    sources_block,
    sources_panel,
    warning_text,
)

__all__ = [
    "CSS",
    "EXAMPLES_FILE",
    "INGEST_HINT",
    "Backend",
    "anchor",
    "answer_footer",
    "answer_json",
    "answer_markdown",
    "answer_message",
    "build_app",
    "escape_text",
    "example_questions",
    "highlight",
    "history_of",
    "index_message",
    "launch",
    "link_citations",
    "paper_matches",
    "papers_html",
    "parse_auth",
    "quote_spans",
    "search_refusal",
    "serve",
    "source_card",
    "sources_block",
    "sources_panel",
    "theme",
    "warning_text",
]
