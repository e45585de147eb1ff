"""report.json (a typed `EvalReport`), report.md and report.html from a run's results."""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from rag.evaluate.metrics import (
    FORM_METRICS,
    METRICS,
    RANK_DEPTH,
)


# -- reports -----------------------------------------------------------------------------------
def fmt(value: Any, key: str = "") -> str:
    if value is None:
        return "–"
    if key == "n" or key.startswith("n_") or isinstance(value, int):
        return str(value)
    if key.startswith("latency"):
        return f"{value:.1f}"
    return f"{value:.3f}"


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def summary_table(report: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    """Rows = systems (or the one system), columns = metrics."""
    systems = report.get("systems") or {report["config"]["system"]: report}
    header = ["system", *METRICS]
    rows = [[name, *(fmt(result["summary"].get(m), m) for m in METRICS)] for name, result in systems.items()]
    return header, rows


def type_table(
    result: dict[str, Any], key: str = "by_type", metrics: Sequence[str] = METRICS
) -> tuple[list[str], list[list[str]]]:
    header = [key.removeprefix("by_"), *metrics]
    rows = [[t, *(fmt(values.get(m), m) for m in metrics)] for t, values in (result.get(key) or {}).items()]
    rows.append(["all", *(fmt(result["summary"].get(m), m) for m in metrics)])
    return header, rows


def form_table(result: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    """Per question form: citations, both sides, key sentence, answer F1 and the oracle ceiling.

    The comparison row's all_gold_cited is "both sides cited"; the n_* columns give how many
    questions each figure averages over.
    """
    return type_table(result, "by_form", FORM_METRICS)


def question_table(result: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    header = ["id", "type", "rank of first gold", "refused", "cited", "latency ms", "question"]
    rows = [
        [
            r["id"],
            r["type"],
            str(r["first_gold_rank"] or "–"),
            "–" if r.get("refused") is None else ("yes" if r["refused"] else "no"),
            str(len(r.get("cited") or [])),
            fmt(r.get("latency_ms"), "latency"),
            r["question"][:90],
        ]
        for r in result["questions"]
    ]
    return header, rows


def render_markdown(report: dict[str, Any]) -> str:
    cfg = report["config"]
    parts = [
        "# Evaluation report",
        "",
        f"{cfg['questions_file']}: {report['summary']['n']} questions, k={cfg['k']}, mode {cfg['mode']}, "
        f"{cfg['papers']} papers, {cfg['seconds']} s.",
        "",
        "## Summary",
        "",
        markdown_table(*summary_table(report)),
    ]
    systems = report.get("systems") or {cfg["system"]: report}
    for name, result in systems.items():
        parts += ["", f"## By question type: {name}", "", markdown_table(*type_table(result))]
        if _has_styles(result):
            parts += ["", f"## By question style: {name}", "", markdown_table(*type_table(result, "by_style"))]
        if result.get("by_turn"):
            parts += ["", f"## First turns and follow-ups: {name}", "", markdown_table(*type_table(result, "by_turn"))]
        if result.get("by_form"):
            parts += ["", f"## By question form: {name}", "", markdown_table(*form_table(result))]
    parts += ["", f"## Questions: {cfg['system']}", "", markdown_table(*question_table(report))]
    if cfg["warnings"]:
        parts += ["", "## Warnings", "", *(f"- {w}" for w in cfg["warnings"])]
    return "\n".join(parts) + "\n"


def _has_styles(result: dict[str, Any]) -> bool:
    """A style table only when the set has styles finer than its types."""
    return set(result.get("by_style") or {}) != set(result.get("by_type") or {})


def _png(fig: Any) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def plots(report: dict[str, Any]) -> list[tuple[str, str]]:
    """(caption, base64 PNG): metric by question type, latency histogram, rank of first gold paper."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    systems = report.get("systems") or {report["config"]["system"]: report}
    out = []
    types = [t for t in report["by_type"] if t != "unanswerable"]
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.5))
    for ax, metric in zip(axes, ("hit@5", "mrr@10"), strict=True):
        width = 0.8 / len(systems)
        for i, (name, result) in enumerate(systems.items()):
            values = [result["by_type"].get(t, {}).get(metric) or 0.0 for t in types]
            ax.bar([x + i * width for x in range(len(types))], values, width, label=name)
        ax.set_xticks([x + width * (len(systems) - 1) / 2 for x in range(len(types))], types)
        ax.set_ylim(0, 1.05)
        ax.set_title(f"{metric} by question type")
        ax.legend(fontsize=8)
    out.append(("Ranked metrics by question type (answerable questions)", _png(fig)))
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(6, 3.5))
    for name, result in systems.items():
        values = [r["latency_ms"] for r in result["questions"] if r.get("latency_ms") is not None]
        if values:
            ax.hist(values, bins=20, alpha=0.6, label=name)
    out.append(_finish_plot(fig, ax, "latency (ms)", "Latency per question", "Latency histogram"))

    fig, ax = plt.subplots(figsize=(6, 3.5))
    labels = [str(i) for i in range(1, RANK_DEPTH + 1)] + ["none"]
    width = 0.8 / len(systems)
    for i, (name, result) in enumerate(systems.items()):
        ranks = [r["first_gold_rank"] for r in result["questions"] if r["answerable"]]
        counts = [sum(1 for x in ranks if x == j) for j in range(1, RANK_DEPTH + 1)]
        counts.append(sum(1 for x in ranks if x is None or x > RANK_DEPTH))
        ax.bar([x + i * width for x in range(len(labels))], counts, width, label=name)
    ax.set_xticks([x + width * (len(systems) - 1) / 2 for x in range(len(labels))], labels)
    out.append(
        _finish_plot(
            fig,
            ax,
            "rank of the first gold paper",
            "Rank of first gold paper",
            "Rank of the first gold paper (answerable questions)",
        )
    )
    return out


def _finish_plot(fig: Any, ax: Any, xlabel: str, title: str, caption: str) -> tuple[str, str]:
    """Label a per-question count plot, render it to PNG and free the figure."""
    import matplotlib.pyplot as plt

    ax.set_xlabel(xlabel)
    ax.set_ylabel("questions")
    ax.set_title(title)
    ax.legend(fontsize=8)
    png = _png(fig)
    plt.close(fig)
    return caption, png


def _html_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def render_html(report: dict[str, Any]) -> str:
    cfg = report["config"]
    systems = report.get("systems") or {cfg["system"]: report}
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'><title>paperchat evaluation</title>",
        "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;margin:1em 0}"
        "td,th{border:1px solid #ccc;padding:3px 6px;font-size:13px}th{background:#eee}</style></head><body>",
        "<h1>Evaluation report</h1>",
        f"<p>{html.escape(cfg['questions_file'])}: {report['summary']['n']} questions, k={cfg['k']}, "
        f"mode {html.escape(cfg['mode'])}, {cfg['papers']} papers, {cfg['seconds']} s.</p>",
        "<h2>Summary</h2>",
        _html_table(*summary_table(report)),
    ]
    for name, result in systems.items():
        parts += [f"<h2>By question type: {html.escape(name)}</h2>", _html_table(*type_table(result))]
        if _has_styles(result):
            parts += [f"<h2>By question style: {html.escape(name)}</h2>", _html_table(*type_table(result, "by_style"))]
        if result.get("by_form"):
            parts += [f"<h2>By question form: {html.escape(name)}</h2>", _html_table(*form_table(result))]
    parts.append("<h2>Plots</h2>")
    for caption, png in plots(report):
        parts.append(
            f"<figure><img alt='{html.escape(caption)}' src='data:image/png;base64,{png}'>"
            f"<figcaption>{html.escape(caption)}</figcaption></figure>"
        )
    parts += [f"<h2>Questions: {html.escape(cfg['system'])}</h2>", _html_table(*question_table(report))]
    if cfg["warnings"]:
        parts += ["<h2>Warnings</h2><ul>", *(f"<li>{html.escape(w)}</li>" for w in cfg["warnings"]), "</ul>"]
    parts.append("</body></html>")
    return "\n".join(parts)


class EvalReport(BaseModel):
    """report.json: what `rag eval` measured, per question and aggregated, and how it ran.

    Other tools read this file (DESIGN.md): the model is its schema, checked before writing.
    """

    model_config = ConfigDict(extra="forbid")

    summary: dict[str, Any] = Field(description="The metric set over every question (null where none applies).")
    by_type: dict[str, dict[str, Any]] = Field(description="The same metrics per question type.")
    by_style: dict[str, dict[str, Any]] = Field(default_factory=dict, description="Per style (tuning sets).")
    by_turn: dict[str, dict[str, Any]] | None = Field(None, description="First turns and follow-ups apart.")
    by_form: dict[str, dict[str, Any]] | None = Field(
        None, description="Per question form (set, comparison, summary, ...) when the questions carry one."
    )
    questions: list[dict[str, Any]] = Field(description="One scored row per question (or conversation turn).")
    config: dict[str, Any] = Field(description="The run: question file, k, system, mode, papers, seconds, warnings.")
    settings: dict[str, Any] = Field(default_factory=dict, description="The Settings it ran with, secrets left out.")
    systems: dict[str, Any] | None = Field(None, description="With --compare: each system's results.")


def settings_record(settings: Any) -> dict[str, Any]:
    """The settings a run used, for the report: JSON values, the API key never included."""
    return settings.model_dump(mode="json", exclude={"openai_api_key"})


def write_reports(report: dict[str, Any], out_dir: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    checked = EvalReport.model_validate(report)
    (out_dir / "report.json").write_text(checked.model_dump_json(indent=2, exclude_none=True), encoding="utf-8")
    (out_dir / "report.md").write_text(render_markdown(report), encoding="utf-8")
    (out_dir / "report.html").write_text(render_html(report), encoding="utf-8")


__all__ = [
    "EvalReport",
    "_finish_plot",
    "_has_styles",
    "_html_table",
    "_png",
    "fmt",
    "form_table",
    "markdown_table",
    "plots",
    "question_table",
    "render_html",
    "render_markdown",
    "settings_record",
    "summary_table",
    "type_table",
    "write_reports",
]
