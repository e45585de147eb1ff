"""The metrics, pure: lists of titles and answers in, numbers out (tested on hand-made cases).

Definitions follow DESIGN.md, "Interfaces that other tools rely on". Choices it leaves open:
- Ranked metrics of `ours` use the retriever's ranking (top 10 for mrr@10) even when the
  pipeline then refuses; a refusal of an answerable question counts in false_refusal_rate.
- citation_precision is averaged over answerable questions that cite something (it is
  undefined for an answer citing nothing); citation_recall counts such answers as 0.
- answer_f1 covers answerable questions (an unanswerable one is scored by refusal_accuracy).
- A metric with no question to average over is null in JSON and "–" in the tables.

Measures by question form (issue 20; docs/evaluation-forms.md):
- all_gold_cited: 1 when every gold paper is cited; over comparisons it is "both sides cited".
- key_sentence: for each gold paper among the answer's sources, its key sentence is the
  abstract sentence with the highest token F1 against the reference answer; the score is
  the share of those papers whose key sentence a quote of that paper covers (at least
  KEY_SENTENCE_OVERLAP of the sentence's words). Undefined when no gold paper was a source.
- oracle_answer_f1 / oracle_key_sentence: what quoting the best ORACLE_SENTENCES sentences
  of the gold abstracts would score: the ceiling of an extractive answer.
"""

from __future__ import annotations

import itertools
import math
import re
import string
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
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
FORMS = ("set", "comparison", "summary", "single", "number", "how", "limitation")
FORM_METRICS = (
    "n",
    "n_answered",
    "citation_precision",
    "n_citing",
    "citation_recall",
    "all_gold_cited",
    "both_sides_cited",
    "key_sentence",
    "n_key_sentence",
    "answer_f1",
    "oracle_key_sentence",
    "oracle_answer_f1",
    "answered_with_gold",
    "false_refusal_rate",
    "recall@5",
    "recall@10",
)
KEY_SENTENCE_OVERLAP = 0.5  # share of the key sentence's words a quote must cover to count
ORACLE_SENTENCES = 2  # the ceiling quotes this many sentences of the gold abstracts


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


_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(\[])")
_WORD = re.compile(r"\S+")
_QUOTE_TRIM = " \t\n\"'“”‘’…."


def split_sentences(text: str) -> list[str]:
    """Sentences of an abstract: a break after . ! ? followed by space and a capital, digit or bracket.

    Deliberately simple and independent of the answerer's own splitter, so the measure
    does not move when the answerer changes how it cuts sentences.
    """
    return [part.strip() for part in _SENTENCE_END.split(text) if part.strip()]


def key_sentence(abstract: str, reference: str) -> str | None:
    """The abstract sentence with the highest token F1 against the reference answer (first on ties)."""
    if not answer_tokens(reference):
        return None
    best, best_f1 = None, -1.0
    for sentence in split_sentences(abstract):
        f1 = token_f1(sentence, reference)
        if f1 > best_f1:
            best, best_f1 = sentence, f1
    return best


def _span(haystack: str, needle: str) -> tuple[int, int] | None:
    """Where `needle` occurs in `haystack`, exactly or up to whitespace; None if it does not."""
    needle = needle.strip(_QUOTE_TRIM)
    if not needle:
        return None
    at = haystack.find(needle)
    if at >= 0:
        return at, at + len(needle)
    match = re.search(r"\s+".join(map(re.escape, needle.split())), haystack)
    return match.span() if match else None


def quote_coverage(quote: str, sentence: str, abstract: str | None = None) -> float:
    """Share of the sentence's words that the quote covers.

    Both are located in the abstract and compared by position, so a quote of another
    sentence sharing common words covers nothing; when either cannot be found verbatim
    (a paraphrase), the bag-of-tokens overlap stands in.
    """
    if abstract is not None:
        where_sentence, where_quote = _span(abstract, sentence), _span(abstract, quote)
        if where_sentence and where_quote:
            start, end = where_sentence
            words = [m.span() for m in _WORD.finditer(abstract, start, end)]
            if not words:
                return 0.0
            q_start, q_end = where_quote
            covered = sum(1 for w_start, w_end in words if w_start < q_end and w_end > q_start)
            return covered / len(words)
    wanted = Counter(answer_tokens(sentence))
    if not wanted:
        return 0.0
    return sum((wanted & Counter(answer_tokens(quote))).values()) / sum(wanted.values())


def key_sentence_recall(
    quotes: Sequence[tuple[str, str]],
    retrieved_gold: Mapping[str, str],
    reference: str,
    threshold: float = KEY_SENTENCE_OVERLAP,
) -> float | None:
    """Share of the retrieved gold papers whose key sentence one of their quotes covers.

    `quotes`: (cited title, quoted text) pairs of the answer; `retrieved_gold`: title ->
    abstract of each gold paper among the answer's sources. None when there is no such
    paper or no reference answer (nothing to measure).
    """
    if not answer_tokens(reference):
        return None
    measured = hits = 0
    for title, abstract in retrieved_gold.items():
        key = key_sentence(abstract, reference)
        if key is None:
            continue
        measured += 1
        wanted = normalize_title(title)
        if any(
            normalize_title(cited) == wanted and quote_coverage(text, key, abstract) >= threshold
            for cited, text in quotes
        ):
            hits += 1
    return hits / measured if measured else None


def oracle_answer(
    gold_abstracts: Mapping[str, str], reference: str, n: int = ORACLE_SENTENCES
) -> tuple[float | None, float | None]:
    """(answer_f1, key_sentence) of the best answer made of at most `n` gold-abstract sentences.

    The ceiling of an extractive answer: it searches every combination of up to `n`
    sentences (token F1 is a bag measure, so order does not matter) for the highest F1, then
    scores that choice's key-sentence share over all gold papers.
    """
    ref = answer_tokens(reference)
    pool = [(title, s) for title, abstract in gold_abstracts.items() for s in split_sentences(abstract)]
    if not ref or not pool:
        return None, None
    ref_bag, bags = Counter(ref), [Counter(answer_tokens(s)) for _, s in pool]

    def f1(indices: tuple[int, ...]) -> float:
        bag = sum((bags[i] for i in indices), Counter())
        common = sum((bag & ref_bag).values())
        if not common:
            return 0.0
        precision, recall = common / sum(bag.values()), common / len(ref)
        return 2 * precision * recall / (precision + recall)

    best_f1, best = -1.0, ()
    for size in range(1, n + 1):
        for combo in itertools.combinations(range(len(pool)), size):
            score = f1(combo)
            if score > best_f1:
                best_f1, best = score, combo
    quotes = [pool[i] for i in best]
    return best_f1, key_sentence_recall(quotes, gold_abstracts, reference)


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
                "recall@10": recall_at(retrieved, gold, RANK_DEPTH),
                "mrr@10": reciprocal_rank(retrieved, gold, 10),
            }
        )
        if row.get("answer") is not None:
            cited = row.get("cited") or []
            scores["citation_precision"] = citation_precision(cited, gold)
            scores["citation_recall"] = citation_recall(cited, gold)
            scores["answer_f1"] = token_f1(row["answer"], row.get("reference_answer") or "")
            scores["all_gold_cited"] = float(scores["citation_recall"] == 1.0)
            gold_abstracts = row.get("gold_abstracts") or {}
            if gold_abstracts and row.get("sources") is not None:
                shown = {normalize_title(t) for t in row["sources"]}
                retrieved_gold = {t: a for t, a in gold_abstracts.items() if normalize_title(t) in shown}
                quotes = [(str(t), str(q)) for t, q in row.get("quotes") or []]
                scores["key_sentence"] = key_sentence_recall(quotes, retrieved_gold, row.get("reference_answer") or "")
        if row.get("gold_abstracts"):
            oracle_f1, oracle_key = oracle_answer(row["gold_abstracts"], row.get("reference_answer") or "")
            scores["oracle_answer_f1"], scores["oracle_key_sentence"] = oracle_f1, oracle_key
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
    """The DESIGN.md metric set over scored rows (None where no question applies)."""
    answerable = [r for r in rows if r["answerable"]]
    unanswerable = [r for r in rows if not r["answerable"]]
    answered = [r for r in rows if r.get("answer") is not None]

    def avg(key: str, subset: Sequence[dict[str, Any]]) -> float | None:
        return mean(r.get(key) for r in subset)

    latencies = [r["latency_ms"] for r in rows if r.get("latency_ms") is not None]
    out: dict[str, Any] = {"n": len(rows)}
    for key in ("hit@1", "hit@5", "recall@5", "recall@10", "mrr@10"):
        out[key] = avg(key, answerable)
    judged = [r for r in rows if r.get("refused") is not None]
    out["refusal_accuracy"] = mean(float(r["refused"]) for r in judged if not r["answerable"]) if unanswerable else None
    out["false_refusal_rate"] = mean(float(r["refused"]) for r in judged if r["answerable"]) if answerable else None
    answered_answerable = [r for r in answered if r["answerable"]]
    out["citation_precision"] = avg("citation_precision", answered_answerable)
    out["citation_recall"] = avg("citation_recall", answered_answerable)
    out["answer_f1"] = avg("answer_f1", answered_answerable)
    out["answered_with_gold"] = avg("answered_with_gold", answerable)
    out["n_answered"] = len(answered_answerable)
    out["n_citing"] = sum(1 for r in answered_answerable if r.get("citation_precision") is not None)
    out["all_gold_cited"] = avg("all_gold_cited", answered_answerable)
    out["both_sides_cited"] = avg("all_gold_cited", [r for r in answered_answerable if r.get("form") == "comparison"])
    out["key_sentence"] = avg("key_sentence", answered_answerable)
    out["n_key_sentence"] = sum(1 for r in answered_answerable if r.get("key_sentence") is not None)
    out["oracle_answer_f1"] = avg("oracle_answer_f1", answerable)
    out["oracle_key_sentence"] = avg("oracle_key_sentence", answerable)
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


def by_form(rows: Sequence[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Metrics per question form (set, comparison, ...); empty for a file whose questions have none."""
    present = {str(r["form"]) for r in rows if r.get("form")}
    forms = [f for f in FORMS if f in present] + sorted(present - set(FORMS))
    return {f: aggregate([r for r in rows if r.get("form") == f]) for f in forms}


__all__ = [
    "FORMS",
    "FORM_METRICS",
    "KEY_SENTENCE_OVERLAP",
    "METRICS",
    "ORACLE_SENTENCES",
    "RANK_DEPTH",
    "SYSTEMS",
    "TYPES",
    "_ARTICLES",
    "_PUNCT",
    "_gold_keys",
    "aggregate",
    "answer_tokens",
    "by_form",
    "by_type",
    "citation_precision",
    "citation_recall",
    "distinct_titles",
    "first_gold_rank",
    "hit_at",
    "is_answerable",
    "key_sentence",
    "key_sentence_recall",
    "mean",
    "oracle_answer",
    "percentile",
    "quote_coverage",
    "recall_at",
    "reciprocal_rank",
    "score_row",
    "split_sentences",
    "token_f1",
]
