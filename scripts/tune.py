"""Fit fusion settings and the answerability model on the tune half; report tune, test and dev.

    .venv/bin/python scripts/tune.py            # search, fit, print; writes nothing
    .venv/bin/python scripts/tune.py --write    # also writes the profile's rag/answerability*.json
    .venv/bin/python scripts/tune.py --profile default --no-search --write   # refit the default's model only
    .venv/bin/python scripts/tune.py --profile small --no-search --write     # and the small profile's

`--profile` picks the retrieval setup (rag.config.PROFILES; else RAG_PROFILE), and with it the
model file written: rag/answerability-mpnet.json for `default`, rag/answerability.json for
`small`. RAG_DATA_DIR must hold an index ingested with that profile.

Discipline: every number chosen here (temperatures, weights, the name bonus, the logistic
coefficients and the two thresholds) is chosen on eval/questions_tune.jsonl only. The test
half, the dev set, the fresh set (eval/questions_fresh.jsonl: papers no other set asks
about, famous near misses outside rag/landmarks.jsonl) and the blind set
(eval/questions_blind.jsonl: questions written from titles only) are scored with the chosen
values and printed beside it, and so is the famous-works set (eval/questions_famous.jsonl:
off-corpus questions about famous papers, refusal accuracy only); a gain on tune that does not
show on them is not a gain. Fusion settings are printed for rag/config.py (they are Settings
defaults, so users can override them); the model is a file.

Each question's retriever rankings are computed once and cached, so the search re-fuses
cached lists instead of re-running retrieval.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import statistics
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rag.corpus import normalize_title  # noqa: E402
from rag.refusal import candidate_features, decide  # noqa: E402
from rag.refusal_model import AnswerabilityModel, FitRecord, default_model_file, fit_logistic  # noqa: E402
from rag.retrieve import SIGNALS, fuse  # noqa: E402
from rag.search import Retriever  # noqa: E402

SETS = {
    "tune": ROOT / "eval" / "questions_tune.jsonl",
    "test": ROOT / "eval" / "questions_test.jsonl",
    "dev": ROOT / "eval" / "dev_questions.jsonl",
    "fresh": ROOT / "eval" / "questions_fresh.jsonl",
    "blind": ROOT / "eval" / "questions_blind.jsonl",
    "famous": ROOT / "eval" / "questions_famous.jsonl",
}
FEATURES = candidate_features(paper_level=False)  # rag.refusal.FEATURES: the one list of evidence
VARIANTS = [(False, False), (True, False), (False, True), (True, True)]  # (strip_boilerplate, expand_query)
MAX_FALSE_REFUSALS = 0.02  # the target on questions naming a paper (0.05 overall)
# Costs of each outcome, for choosing the thresholds: a false refusal is the worst failure.
COST = {
    True: {"refuse": 2.5, "low_confidence": 0.3, "answer": 0.0},  # answerable question
    False: {"refuse": 0.0, "low_confidence": 0.8, "answer": 1.0},  # off-corpus question
}


def load(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def answerable(q: dict[str, Any]) -> bool:
    return q.get("type") != "unanswerable" and bool(q.get("gold_titles"))


class Cached:
    """A question with its analysed query and the retrievers' rankings."""

    def __init__(
        self, retriever: Retriever, q: dict[str, Any], n: int, variants: list[tuple[bool, bool]] = VARIANTS
    ) -> None:
        self.q = q
        self.variants = {}
        for strip, expand in variants:
            query = retriever.analyzer.analyze(q["question"], strip, expand)
            self.variants[(strip, expand)] = (query, retriever.rankings(query, n)[0])
        self.gold = {normalize_title(t) for t in q.get("gold_titles") or []}
        self.answerable = answerable(q)
        self.style = q.get("style") or q.get("type", "")


def gold_rank(retriever: Retriever, c: Cached, hits: list[Any]) -> int | None:
    for rank, h in enumerate(hits[:10], start=1):
        if normalize_title(retriever.papers[h.paper_id].title) in c.gold:
            return rank
    return None


def params_of(retriever: Retriever) -> dict[str, Any]:
    s = retriever.settings
    out = {}
    for name, w, t in SIGNALS:
        out[f"{name}_weight"] = getattr(s, w)
        out[f"{name}_temperature"] = getattr(s, t)
    out["name_bonus"] = s.name_bonus
    out["strip_boilerplate"] = s.strip_boilerplate
    out["expand_query"] = s.expand_query
    return out


def variant(c: Cached, p: dict[str, Any]) -> tuple[Any, dict[str, list[tuple[int, float]]]]:
    return c.variants[(bool(p["strip_boilerplate"]), bool(p["expand_query"]))]


def fused_for(retriever: Retriever, c: Cached, p: dict[str, float]) -> list[Any]:
    names = [name for name, _, _ in SIGNALS]
    query, rankings = variant(c, p)
    return fuse(
        rankings,
        retriever.paper_of,
        {n: p[f"{n}_weight"] for n in names},
        {n: p[f"{n}_temperature"] for n in names},
        query.named + query.named_in_abstract,
        p["name_bonus"],
        retriever.first_chunk,
    )


def ranking_score(retriever: Retriever, cached: list[Cached], p: dict[str, float]) -> tuple[float, float]:
    """(hit@5, mrr@10) over the answerable questions."""
    hits, rr = [], []
    for c in cached:
        if not c.answerable:
            continue
        rank = gold_rank(retriever, c, fused_for(retriever, c, p))
        hits.append(rank is not None and rank <= 5)
        rr.append(1 / rank if rank else 0.0)
    return sum(hits) / len(hits), sum(rr) / len(rr)


def search_fusion(retriever: Retriever, tune: list[Cached]) -> dict[str, Any]:
    """Coordinate ascent on tune: maximise hit@5 + MRR@10, one setting at a time, until stable.

    Ties keep the current value, so a setting only moves for a gain on tune.
    """
    grid: dict[str, list[Any]] = {
        "strip_boilerplate": [False, True],
        "expand_query": [False, True],
        "dense_temperature": [0.02, 0.03, 0.05, 0.08, 0.12],
        "bm25_temperature": [0.5, 1.0, 2.0, 3.0, 5.0],
        "bm25_weight": [0.25, 0.5, 0.75, 1.0, 1.5],
        "name_bonus": [0.0, 0.05, 0.1, 0.2, 0.3, 0.6],
    }
    if retriever.paper_embedder is not None:
        grid["paper_dense_temperature"] = [0.02, 0.03, 0.05, 0.08, 0.12]
        grid["paper_dense_weight"] = [0.0, 0.5, 1.0, 1.5, 2.0, 3.0]
        grid["dense_weight"] = [0.0, 0.5, 1.0, 1.5]
    best = params_of(retriever)
    best_score = sum(ranking_score(retriever, tune, best))
    for _ in range(4):
        moved = False
        for key, values in grid.items():
            for value in values:
                candidate = {**best, key: value}
                score = sum(ranking_score(retriever, tune, candidate))
                if score > best_score + 1e-9:
                    best, best_score, moved = candidate, score, True
        if not moved:
            break
    return best


def evidence_rows(retriever: Retriever, cached: list[Cached], p: dict[str, float]) -> list[dict[str, float]]:
    k = retriever.settings.top_k
    return [retriever.evidence(*variant(c, p)[:1], fused_for(retriever, c, p), variant(c, p)[1], k) for c in cached]


def refusal_threshold(answerable: list[float]) -> float:
    """The probability below which only MAX_FALSE_REFUSALS of answerable questions fall.

    Read off a normal fitted to their log-odds, not off the sorted values: with 130
    answerable questions the 2% point of the sorted list is the third-lowest question,
    and one question more or less moves it. Nested 5-fold on tune (4 shuffles, each
    training part's out-of-fold scores set the threshold, its held-out fold is scored):
    held-out false refusals 9 of 520 with the sorted-list point, 0 with the normal one;
    off-corpus questions answered 4 of 144 against 8 (cost 26.5 against 8 with COST's weights).
    """
    if len(answerable) < 3:
        return 0.5
    logits = [math.log(max(p, 1e-6) / max(1 - p, 1e-6)) for p in answerable]
    cut = statistics.mean(logits) + statistics.NormalDist().inv_cdf(MAX_FALSE_REFUSALS) * statistics.stdev(logits)
    return 1 / (1 + math.exp(-cut))


def choose_thresholds(probs: list[float], labels: list[bool]) -> tuple[float, float]:
    """(answer_threshold, low_threshold) from the targets, on tune.

    The refusal threshold keeps false refusals within MAX_FALSE_REFUSALS (a false refusal
    is the worst failure; see refusal_threshold); above it, the answer threshold minimises
    the outcome costs (the low-confidence band between them).
    """
    answerable = [p for p, label in zip(probs, labels, strict=True) if label]
    low = refusal_threshold(answerable)
    # rounded candidates, but never below the refusal threshold (the model rejects answer < low)
    grid = sorted({low, 1.0, *(r for x in probs if (r := round(x, 3)) >= low)})
    best, best_cost = (low, low), float("inf")
    for high in grid:
        cost = 0.0
        for prob, label in zip(probs, labels, strict=True):
            verdict = "answer" if prob >= high else ("low_confidence" if prob >= low else "refuse")
            cost += COST[label][verdict]
        if cost < best_cost - 1e-9:
            best, best_cost = (high, low), cost
    return best


def logistic_model(
    rows: list[dict[str, float]], labels: list[bool], l2: float, features: list[str]
) -> AnswerabilityModel:
    """The logistic fit as a model; its thresholds are placeholders until choose_thresholds sets them."""
    mean, scale, coef, intercept = fit_logistic(rows, [int(x) for x in labels], features, l2=l2)
    return AnswerabilityModel(
        features=features, mean=mean, scale=scale, coef=coef, intercept=intercept, answer_threshold=0.5, low_threshold=0
    )


def out_of_fold_probabilities(
    rows: list[dict[str, float]],
    labels: list[bool],
    l2: float,
    features: list[str],
    folds: int = 5,
    repeats: int = 5,
) -> list[float]:
    """Each question's probability from models fitted without it (k-fold, averaged over shuffles).

    A model scores the questions it was fitted on too well: answerable ones too high,
    off-corpus ones too low. Thresholds set on those in-sample scores sit where unseen
    questions do not, so they are set on these out-of-fold scores, which behave like unseen
    ones. Measured on tune alone (nested 5-fold, 4 shuffles, fixed features): held-out false
    refusals 0.031-0.046 with in-sample thresholds, 0.023 with out-of-fold ones (target 0.02).
    """
    total = [0.0] * len(rows)
    for repeat in range(repeats):
        order = list(range(len(rows)))
        random.Random(repeat).shuffle(order)  # fixed seeds: the fit is reproducible
        for fold in range(folds):
            held = set(order[fold::folds])
            train = [i for i in range(len(rows)) if i not in held]
            model = logistic_model([rows[i] for i in train], [labels[i] for i in train], l2, features)
            for i in held:
                total[i] += model.probability(rows[i])
    return [t / repeats for t in total]


def fit_model(
    rows: list[dict[str, float]],
    labels: list[bool],
    l2: float,
    features: list[str] | None = None,
    out_of_fold: bool = True,
) -> AnswerabilityModel:
    """Logistic fit on the rows given; thresholds from their out-of-fold probabilities
    (or, `out_of_fold=False`, from the fit's own, which is faster and looser)."""
    features = features or FEATURES
    model = logistic_model(rows, labels, l2, features)
    if out_of_fold:
        probabilities = out_of_fold_probabilities(rows, labels, l2, features)
    else:
        probabilities = [model.probability(r) for r in rows]
    high, low = choose_thresholds(probabilities, labels)
    return model.model_copy(update={"answer_threshold": high, "low_threshold": low})


def cv_cost(rows: list[dict[str, float]], labels: list[bool], l2: float, features: list[str], folds: int = 5) -> float:
    """5-fold cross-validated outcome cost on tune (fit on 4/5, score the held-out 1/5).

    Inside each fold the thresholds are set on the fold's own fit (fast); the shipped
    model's thresholds are set on out-of-fold probabilities (see fit_model).
    """
    cost = 0.0
    for f in range(folds):
        train = [i for i in range(len(rows)) if i % folds != f]
        model = fit_model([rows[i] for i in train], [labels[i] for i in train], l2, features, out_of_fold=False)
        for i in range(f, len(rows), folds):
            cost += COST[labels[i]][model.verdict(model.probability(rows[i]))]
    return cost


def choose_model(rows: list[dict[str, float]], labels: list[bool], candidates: list[str]) -> tuple[float, list[str]]:
    """L2 penalty and feature subset with the lowest cross-validated cost on tune.

    Greedy backward elimination: drop the feature whose removal lowers the CV cost most,
    while one does; fewer features generalise better from a few hundred questions.
    """
    features = list(candidates)
    l2 = min((0.3, 1.0, 3.0, 10.0, 30.0), key=lambda v: cv_cost(rows, labels, v, features))
    best = cv_cost(rows, labels, l2, features)
    print(f"  all {len(features)} features, l2 {l2}: cross-validated cost {best:.1f}")
    while len(features) > 2:
        trials = {f: cv_cost(rows, labels, l2, [g for g in features if g != f]) for f in features}
        drop = min(trials, key=lambda f: trials[f])
        if trials[drop] > best - 1e-9:
            break
        features.remove(drop)
        best = trials[drop]
        print(f"  without {drop}: cross-validated cost {best:.1f}")
    return l2, features


def report(retriever: Retriever, name: str, cached: list[Cached], p: dict[str, float], model: AnswerabilityModel):
    """Per style: n, hit@5, mrr@10, refused share, low-confidence share (the retrieval-level view)."""
    rows = evidence_rows(retriever, cached, p)
    groups: dict[str, list[tuple[Cached, int | None, str]]] = defaultdict(list)
    for c, ev in zip(cached, rows, strict=True):
        fused = fused_for(retriever, c, p)
        rank = gold_rank(retriever, c, fused)
        verdict = decide(model, variant(c, p)[0], fused, ev, retriever.settings.top_k)[1]  # with its overrides
        groups[c.style].append((c, rank, verdict))
        groups["ALL"].append((c, rank, verdict))
    print(f"\n{name}: {len(cached)} questions")
    print(f"{'style':14} {'n':>4} {'hit@5':>6} {'mrr':>6} {'refused':>8} {'low':>6}")
    for style in sorted(groups, key=lambda s: (s == "ALL", s)):
        items = groups[style]
        ans = [(c, r, v) for c, r, v in items if c.answerable]
        un = [(c, r, v) for c, r, v in items if not c.answerable]
        hit = sum(r is not None and r <= 5 for _, r, _ in ans) / len(ans) if ans else None
        mrr = sum(1 / r if r else 0 for _, r, _ in ans) / len(ans) if ans else None
        refused = sum(v == "refuse" for _, _, v in items) / len(items)
        low = sum(v == "low_confidence" for _, _, v in items) / len(items)
        f = lambda x: "   -  " if x is None else f"{x:6.3f}"  # noqa: E731
        print(f"{style:14} {len(items):4d} {f(hit)} {f(mrr)} {refused:8.3f} {low:6.3f}")
        if style == "ALL":
            fr = sum(v == "refuse" for _, _, v in ans) / len(ans) if ans else float("nan")
            ra = sum(v == "refuse" for _, _, v in un) / len(un) if un else float("nan")
            print(
                f"  false_refusal_rate {fr:.3f} ({len(ans)} answerable),"
                f" refusal_accuracy {ra:.3f} ({len(un)} off-corpus)"
            )


def fit_record(retriever: Retriever, n_questions: int, fusion: dict[str, Any]) -> FitRecord:
    """What the fit used, structured so a live setting that differs is warned about (rag.refusal_model)."""
    s = retriever.settings
    fixed = {name: getattr(s, name) for name in ("candidates", "chunk_size", "chunk_overlap", "embed_int8")}
    return FitRecord(
        questions=str(SETS["tune"].relative_to(ROOT)),
        n_questions=n_questions,
        embedder=retriever.embedder.name,
        paper_embedder=s.paper_embedder,
        settings={**fusion, **fixed},
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--write", action="store_true", help="write the profile's rag/answerability*.json")
    parser.add_argument("--no-search", action="store_true", help="keep the fusion settings in rag/config.py")
    parser.add_argument("--profile", help="the retrieval setup to fit for (default: RAG_PROFILE, else `default`)")
    args = parser.parse_args()

    from rag.config import Settings, get_settings

    settings = Settings.from_name(args.profile) if args.profile else get_settings()
    # the setup's shipped model lets the retriever load: this script only uses its evidence, and writes the fit
    retriever = Retriever(
        settings.model_copy(update={"answerability_model": default_model_file(settings.paper_embedder)})
    )
    n = max(retriever.settings.candidates, 4 * retriever.settings.top_k)
    # without the search only the configured query handling is used: rank each question once, not four times
    variants = [(settings.strip_boilerplate, settings.expand_query)] if args.no_search else VARIANTS
    cached = {name: [Cached(retriever, q, n, variants) for q in load(path)] for name, path in SETS.items()}
    tune = cached["tune"]

    p = params_of(retriever) if args.no_search else search_fusion(retriever, tune)
    print("fusion settings (chosen on tune):", json.dumps(p))
    for name, items in cached.items():
        if not any(c.answerable for c in items):
            continue  # famous: off-corpus questions only
        hit, mrr = ranking_score(retriever, items, p)
        print(f"  {name:5} hit@5 {hit:.3f}  mrr@10 {mrr:.3f}")

    rows = evidence_rows(retriever, tune, p)
    labels = [c.answerable for c in tune]
    candidates = candidate_features(paper_level=retriever.paper_embedder is not None)
    l2, features = choose_model(rows, labels, candidates)
    model = fit_model(rows, labels, l2, features)
    model = model.model_copy(
        update={
            "fitted_on": fit_record(retriever, len(tune), p),
            "notes": {
                "l2": l2,
                "tune_questions": len(tune),
                "tune_answerable": sum(labels),
            },
        }
    )
    print("answerability coefficients:", {f: round(c, 3) for f, c in zip(model.features, model.coef, strict=True)})
    print(f"thresholds: answer >= {model.answer_threshold:.3f}, low-confidence >= {model.low_threshold:.3f}")
    for name, items in cached.items():
        report(retriever, name, items, p, model)
    if args.write:
        target = default_model_file(retriever.settings.paper_embedder)
        model.save(target)
        print(f"\nwrote {target.relative_to(ROOT)}; set these defaults in rag/config.py:", json.dumps(p))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
