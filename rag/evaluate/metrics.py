"""The metrics, pure: lists of titles and answers in, numbers out (tested on hand-made cases).

Definitions: docs/evaluation.md, "Metric definitions". Choices the standard set leaves open:
- Ranked metrics of `ours` use the retriever's ranking (top 10 for mrr@10) even when the
  pipeline then refuses; a refusal of an answerable question counts in false_refusal_rate.
- citation_precision is averaged over answerable questions that cite something (it is
  undefined for an answer citing nothing); citation_recall counts such answers as 0.
- answer_f1 covers answerable questions (an unanswerable one is scored by refusal_accuracy).
- A metric with no question to average over is null in JSON and "–" in the tables.
"""

from __future__ import annotations

import math
import re
import string
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

from rag.corpus import normalize_title

SYSTEMS = ("ours", "bm25", "dense")
TYPES = ("single", "detail", "multi", "unanswerable")
METRICS = (
    "n",
    "hit@1",
    "hit@5",
    "recall@5",
    "mrr@10",
    "refusal_accuracy",
    "false_refusal_rate",
    "citation_precision",
    "citation_recall",
    "answer_f1",
    "answered_with_gold",
    "gold_shown",
    "low_confidence_rate",
    "stale_citation_rate",
    "made_up_citation_rate",
    "latency_ms_p50",
    "latency_ms_p95",
)
RANK_DEPTH = 10  # papers ranked per question: enough for mrr@10


# -- pure metric functions ---------------------------------------------------------------------
def distinct_titles(titles: Iterable[str]) -> list[str]:
    """Titles in first-seen order, duplicates (by normalised title) dropped: ranks count papers."""
    seen: set[str] = set()
    out = []
    for title in titles:
        key = normalize_title(title)
        if key not in seen:
            seen.add(key)
            out.append(title)
    return out


def _gold_keys(gold: Iterable[str]) -> set[str]:
    return {normalize_title(g) for g in gold}


def first_gold_rank(retrieved: Sequence[str], gold: Iterable[str]) -> int | None:
    """1-based rank of the first gold paper among the distinct retrieved papers, None if absent."""
    keys = _gold_keys(gold)
    for rank, title in enumerate(distinct_titles(retrieved), start=1):
        if normalize_title(title) in keys:
            return rank
    return None


def hit_at(retrieved: Sequence[str], gold: Iterable[str], k: int) -> float:
    """1.0 if any gold paper is among the top-k distinct retrieved papers."""
    rank = first_gold_rank(retrieved, gold)
    return float(rank is not None and rank <= k)


def recall_at(retrieved: Sequence[str], gold: Iterable[str], k: int) -> float | None:
    """Share of the (distinct) gold papers among the top-k distinct retrieved papers; None without gold."""
    keys = _gold_keys(gold)
    if not keys:
        return None
    top = {normalize_title(t) for t in distinct_titles(retrieved)[:k]}
    return len(keys & top) / len(keys)


def reciprocal_rank(retrieved: Sequence[str], gold: Iterable[str], cutoff: int = 10) -> float:
    """1/rank of the first gold paper; 0 past `cutoff` or when absent."""
    rank = first_gold_rank(retrieved, gold)
    return 1.0 / rank if rank is not None and rank <= cutoff else 0.0


def citation_precision(cited: Sequence[str], gold: Iterable[str]) -> float | None:
    """Share of the distinct cited papers that are gold; None when nothing is cited."""
    cited_keys = {normalize_title(t) for t in cited}
    if not cited_keys:
        return None
    return len(cited_keys & _gold_keys(gold)) / len(cited_keys)


def citation_recall(cited: Sequence[str], gold: Iterable[str]) -> float | None:
    """Share of the gold papers cited; None without gold."""
    keys = _gold_keys(gold)
    if not keys:
        return None
    return len(keys & {normalize_title(t) for t in cited}) / len(keys)


_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCT = str.maketrans("", "", string.punctuation)


def answer_tokens(text: str) -> list[str]:
    """SQuAD normalisation: lower case, no punctuation, no articles, whitespace split."""
    text = _ARTICLES.sub(" ", text.lower().translate(_PUNCT))
    return text.split()


def token_f1(prediction: str, reference: str) -> float:
    """SQuAD-style token F1 (bag of tokens, with multiplicity)."""
    pred, ref = answer_tokens(prediction), answer_tokens(reference)
    if not pred or not ref:
        return float(pred == ref)
    common = sum((Counter(pred) & Counter(ref)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(pred), common / len(ref)
    return 2 * precision * recall / (precision + recall)


def percentile(values: Sequence[float], p: float) -> float | None:
    """Linear-interpolated percentile (numpy's default), None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    pos = (len(ordered) - 1) * p / 100
    lo, hi = math.floor(pos), math.ceil(pos)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def mean(values: Iterable[float | None]) -> float | None:
    """Mean of the defined values; None when there are none."""
    defined = [v for v in values if v is not None]
    return sum(defined) / len(defined) if defined else None


def is_answerable(question: dict[str, Any]) -> bool:
    return question.get("type") != "unanswerable" and bool(question.get("gold_titles"))


def score_row(row: dict[str, Any], k: int = 5) -> dict[str, Any]:
    """Per-question metric values from a row's retrieved/cited titles and answer."""
    gold = row.get("gold_titles") or []
    answerable = is_answerable(row)
    retrieved = row.get("retrieved") or []
    scores: dict[str, Any] = {"answerable": answerable, "first_gold_rank": first_gold_rank(retrieved, gold)}
    if answerable:
        scores.update(
            {
                "hit@1": hit_at(retrieved, gold, 1),
                f"hit@{k}": hit_at(retrieved, gold, k),
                "hit@5": hit_at(retrieved, gold, 5),
                "recall@5": recall_at(retrieved, gold, 5),
                "mrr@10": reciprocal_rank(retrieved, gold, 10),
            }
        )
        if row.get("answer") is not None:
            cited = row.get("cited") or []
            scores["citation_precision"] = citation_precision(cited, gold)
            scores["citation_recall"] = citation_recall(cited, gold)
            scores["answer_f1"] = token_f1(row["answer"], row.get("reference_answer") or "")
        if row.get("previous_gold") and row.get("answer") is not None:
            # a later turn citing an earlier turn's paper that is not gold now (a topic switch dragging it in)
            stale = {normalize_title(t) for t in row["previous_gold"]} - _gold_keys(gold)
            scores["stale_citation"] = float(bool(stale & {normalize_title(t) for t in row.get("cited") or []}))
        if row.get("refused") is not None:
            # the user's view of "it worked": an answer (not a refusal) that cites a gold paper
            cited_gold = _gold_keys(gold) & {normalize_title(t) for t in row.get("cited") or []}
            scores["answered_with_gold"] = float(not row["refused"] and bool(cited_gold))
            # or, refused, a gold paper among the closest titles the refusal lists: the user still finds it
            shown_gold = _gold_keys(gold) & {normalize_title(t) for t in row.get("closest") or []}
            scores["gold_shown"] = float(bool(cited_gold) if not row["refused"] else bool(shown_gold))
    return scores


def aggregate(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The standard metric set (docs/evaluation.md) over scored rows (None where no question applies)."""
    answerable = [r for r in rows if r["answerable"]]
    unanswerable = [r for r in rows if not r["answerable"]]
    answered = [r for r in rows if r.get("answer") is not None]

    def avg(key: str, subset: Sequence[dict[str, Any]]) -> float | None:
        return mean(r.get(key) for r in subset)

    latencies = [r["latency_ms"] for r in rows if r.get("latency_ms") is not None]
    out: dict[str, Any] = {"n": len(rows)}
    for key in ("hit@1", "hit@5", "recall@5", "mrr@10"):
        out[key] = avg(key, answerable)
    judged = [r for r in rows if r.get("refused") is not None]
    out["refusal_accuracy"] = mean(float(r["refused"]) for r in judged if not r["answerable"]) if unanswerable else None
    out["false_refusal_rate"] = mean(float(r["refused"]) for r in judged if r["answerable"]) if answerable else None
    answered_answerable = [r for r in answered if r["answerable"]]
    out["citation_precision"] = avg("citation_precision", answered_answerable)
    out["citation_recall"] = avg("citation_recall", answered_answerable)
    out["answer_f1"] = avg("answer_f1", answered_answerable)
    out["answered_with_gold"] = avg("answered_with_gold", answerable)
    out["gold_shown"] = avg("gold_shown", answerable)
    # answers whose text had a [n] naming no retrieved source (removed before the user saw it)
    with_text = [r for r in answered if "made_up_citations" in r and not r.get("refused")]
    out["made_up_citation_rate"] = mean(float(r["made_up_citations"] > 0) for r in with_text) if with_text else None
    out["low_confidence_rate"] = (
        mean(float(r["low_confidence"]) for r in judged if "low_confidence" in r) if judged else None
    )
    out["latency_ms_p50"] = percentile(latencies, 50)
    out["latency_ms_p95"] = percentile(latencies, 95)
    # conversations only: a later turn citing an earlier turn's paper that is not gold now
    out["stale_citation_rate"] = avg("stale_citation", [r for r in rows if "stale_citation" in r])
    if any(r.get("faithfulness") is not None for r in rows):
        out["faithfulness"] = avg("faithfulness", rows)
    return out


def by_type(rows: Sequence[dict[str, Any]], key: str = "type") -> dict[str, dict[str, Any]]:
    """Metrics per question type (or per `style`, the finer label of the tuning sets)."""
    types = [t for t in TYPES if any(r.get(key) == t for r in rows)]
    types += sorted({str(r.get(key)) for r in rows} - set(types))
    return {t: aggregate([r for r in rows if str(r.get(key)) == t]) for t in types}


# -- reading questions -------------------------------------------------------------------------


__all__ = [
    "METRICS",
    "RANK_DEPTH",
    "SYSTEMS",
    "TYPES",
    "_ARTICLES",
    "_PUNCT",
    "_gold_keys",
    "aggregate",
    "answer_tokens",
    "by_type",
    "citation_precision",
    "citation_recall",
    "distinct_titles",
    "first_gold_rank",
    "hit_at",
    "is_answerable",
    "mean",
    "percentile",
    "recall_at",
    "reciprocal_rank",
    "score_row",
    "token_f1",
]
