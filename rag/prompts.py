"""Prompt templates (plain files in `prompts/`, read at run time) and the fenced source block.

The templates live outside the code so they can be tuned without a release. Abstracts are
untrusted text: each is fenced as `<source n="…">…</source>`, and any tag inside one that
could close or open a fence is defused, so an abstract cannot step outside its fence.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from rag.models import Source

SYSTEM_FILE = "system.txt"
QUESTION_FILE = "question_answer.txt"
REFUSAL_FILE = "not_in_corpus.txt"
COMPLETION_FILE = "completion.txt"
CONDENSE_FILE = "condense.txt"
REWRITE_FILE = "rewrite.txt"  # optional: the passage a matching abstract would contain (RAG_QUERY_REWRITE)
FORM_FILE = "question_form.txt"  # optional: the question turn that states the question's form
FORM_INSTRUCTIONS_FILE = "form_instructions.txt"  # optional: "form: instruction" lines
PLACEHOLDER = re.compile(r"\{(question|sources|refusal|history|instruction|count)\}")
FENCE_TAG = re.compile(r"<(\s*/?\s*source)", re.IGNORECASE)
SENTENCE_STOP = re.compile(r"[.!?](?=\s)")


class PromptError(RuntimeError):
    """A prompt file is missing or lacks a placeholder it needs; the message names the file."""


@dataclass(frozen=True)
class Prompts:
    """The three templates: system rules, the question turn, and the fixed refusal sentence."""

    system: str
    question_answer: str
    refusal: str
    completion: str = ""
    condense: str = ""
    question_form: str = ""
    form_instructions: tuple[tuple[str, str], ...] = ()
    rewrite: str = ""

    @classmethod
    def load(cls, directory: Path) -> Prompts:
        """Read the templates from `directory`; fail early with a message naming what is wrong."""
        texts = {}
        for name in (SYSTEM_FILE, QUESTION_FILE, REFUSAL_FILE):
            path = Path(directory) / name
            try:
                texts[name] = path.read_text(encoding="utf-8").strip()
            except OSError as exc:
                raise PromptError(f"cannot read prompt file {path}: {exc.strerror or exc}") from exc
        for placeholder in ("{question}", "{sources}"):
            if placeholder not in texts[QUESTION_FILE]:
                raise PromptError(f"{Path(directory) / QUESTION_FILE} lacks the {placeholder} placeholder")
        refusal = " ".join(texts[REFUSAL_FILE].split())
        if not refusal:
            raise PromptError(f"{Path(directory) / REFUSAL_FILE} is empty")
        optional = {}
        for name in (COMPLETION_FILE, CONDENSE_FILE):
            path = Path(directory) / name
            optional[name] = path.read_text(encoding="utf-8").strip() if path.exists() else ""
        rewrite_path = Path(directory) / REWRITE_FILE
        rewrite = rewrite_path.read_text(encoding="utf-8").strip() if rewrite_path.exists() else ""
        if rewrite and "{question}" not in rewrite:
            raise PromptError(f"{rewrite_path} lacks the {{question}} placeholder")
        form_path = Path(directory) / FORM_FILE
        question_form = form_path.read_text(encoding="utf-8").strip() if form_path.exists() else ""
        if question_form and not all(p in question_form for p in ("{question}", "{sources}", "{instruction}")):
            raise PromptError(f"{form_path} lacks one of the {{question}}, {{sources}}, {{instruction}} placeholders")
        instructions_path = Path(directory) / FORM_INSTRUCTIONS_FILE
        instructions: list[tuple[str, str]] = []
        if instructions_path.exists():
            for line in instructions_path.read_text(encoding="utf-8").splitlines():
                form, sep, text = line.partition(":")
                if sep and not line.lstrip().startswith("#") and form.strip().isidentifier():
                    instructions.append((form.strip(), text.strip()))
        return cls(
            texts[SYSTEM_FILE],
            texts[QUESTION_FILE],
            refusal,
            optional[COMPLETION_FILE],
            optional[CONDENSE_FILE],
            question_form,
            tuple(instructions),
            rewrite,
        )

    def render_system(self) -> str:
        return fill(self.system, refusal=self.refusal)

    def render_question(self, question: str, sources: list[Source], abstract_chars: int = 0) -> str:
        return fill(
            self.question_answer,
            question=defuse(question),
            sources=format_sources(sources, abstract_chars),
            refusal=self.refusal,
        )

    def render_form(self, question: str, sources: list[Source], form: str, abstract_chars: int = 0) -> str:
        """The question turn that says what form the answer takes (one item per paper for a set question).

        Falls back to the plain question turn when the form template or the form's instruction is absent.
        """
        instruction = dict(self.form_instructions).get(form, "")
        if not self.question_form or not instruction:
            return self.render_question(question, sources, abstract_chars)
        return fill(
            self.question_form,
            question=defuse(question),
            sources=format_sources(sources, abstract_chars),
            refusal=self.refusal,
            instruction=fill(instruction, count=str(len(sources))),
        )

    def render_completion(self, question: str, sources: list[Source], abstract_chars: int = 0) -> str:
        """One prompt for a base model: the rules, a worked example, the fenced sources, the question."""
        if not self.completion:
            raise PromptError(f"{COMPLETION_FILE} is missing from the prompts directory (RAG_LLM_API=completions)")
        return fill(
            self.completion,
            question=defuse(question),
            sources=format_sources(sources, abstract_chars),
            refusal=self.refusal,
        )

    def render_condense(self, question: str, history: str) -> str:
        """The prompt that restates a follow-up as a standalone question (conversation as data)."""
        if not self.condense:
            raise PromptError(f"{CONDENSE_FILE} is missing from the prompts directory")
        return fill(self.condense, question=defuse(question), history=defuse(history))

    def render_rewrite(self, question: str) -> str:
        """The prompt that asks for the passage an answering abstract would contain (the question as data)."""
        if not self.rewrite:
            raise PromptError(f"{REWRITE_FILE} is missing from the prompts directory (RAG_QUERY_REWRITE)")
        return fill(self.rewrite, question=defuse(question))


def fill(template: str, **values: str) -> str:
    """Substitute `{question}`, `{sources}`, `{refusal}`, `{history}` in one pass (values are never re-scanned,
    and other braces, common in LaTeX debris, are left alone)."""
    return PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), template)


def defuse(text: str) -> str:
    """Make `<source` / `</source` inside untrusted text harmless (it cannot close the fence)."""
    return FENCE_TAG.sub(lambda m: "‹" + m.group(1), text)


def truncate(text: str, limit: int) -> str:
    """`text` cut to at most `limit` characters, at a sentence end when one is in the back half."""
    if limit <= 0 or len(text) <= limit:
        return text
    head = text[:limit]
    stops = [m.end() for m in SENTENCE_STOP.finditer(head + " ")]
    if stops and stops[-1] >= limit // 2:
        return head[: stops[-1]] + " …"
    return head.rsplit(" ", 1)[0] + " …"


def format_sources(sources: list[Source], abstract_chars: int = 0) -> str:
    """Numbered, fenced sources: `<source n="1">Title: …\\nAbstract: …</source>`."""
    blocks = []
    for source in sources:
        title = defuse(" ".join(source.paper.title.split()))
        abstract = defuse(truncate(source.paper.abstract.strip(), abstract_chars))
        blocks.append(f'<source n="{source.n}">\nTitle: {title}\nAbstract: {abstract}\n</source>')
    return "\n".join(blocks)
