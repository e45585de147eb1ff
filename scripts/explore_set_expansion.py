"""Compare set-expansion variants on the tune set questions by leave-one-question-out ranking (docs/evaluation-forms.md,
"Set expansion"). Tune data only; writes nothing but prints.

    RAG_DATA_DIR=... PYTHONPATH=$PWD .venv/bin/python scripts/explore_set_expansion.py

The 65 set questions of the tune files and eval/questions_sets_tune.jsonl. The first pass is the set model
(`SET_FEATURES`), fitted leave-one-question-out; each question's candidates are then measured against the "sure"
members, the top m by those held-out probabilities (m 1-3, the candidate itself left out) or by mpnet topic cosine
(`mp_topic`), and against the tail (the least probable others): cosine to the sure centroid, its z-score, rank and
gap among the candidates, that cosine minus the cosine to the tail centroid, and the idf share of the sure members'
rare words (shared by 2 of them when m > 1); some of the same from MiniLM sentence vectors. The second
pass (`SET_FEATURES` + the variant's) is fitted leave-one-question-out too and scored by mean average precision
and by `bar_key` at its best threshold. `rag.selection.expansion_features` is the variant chosen: m 1 by the
first pass, tail 5, idf >= 4, cos + margin + words.
"""

from __future__ import annotations

import itertools
import math
import statistics
import sys
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

import fit_selection as fs  # noqa: E402

from rag.refusal_model import fit_logistic  # noqa: E402
from rag.selection import SET_FEATURES, TOPIC_FEATURES, SelectionModel, features_for  # noqa: E402

Rows = list[list[dict[str, float]]]


def held_out(items: list[fs.Item], rows_of: Rows, features: Sequence[str], l2: float) -> list[list[float]]:
    """Each question's probabilities from a model fitted on the other questions."""
    out = []
    for i in range(len(items)):
        others = [j for j in range(len(items)) if j != i]
        rows = [row for j in others for row in rows_of[j]]
        labels = [y for j in others for y in items[j].labels]
        mean, scale, coef, b = fit_logistic(rows, labels, list(features), l2=l2)
        model = SelectionModel(features=list(features), mean=mean, scale=scale, coef=coef, intercept=b)
        out.append([model.probability(row) for row in rows_of[i]])
    return out


def best_threshold(items: list[fs.Item], probabilities: list[list[float]]) -> tuple[float, float, float]:
    """(bar, precision, recall) at the threshold bar_key prefers."""
    best = (-1.0, 0.0, 0.0)
    for t in (round(0.05 * i, 2) for i in range(1, 20)):
        scores = []
        for item, probs in zip(items, probabilities, strict=True):
            order = sorted(range(len(probs)), key=lambda i: -probs[i])
            count = max(1, sum(p >= t for p in probs))
            hits = sum(item.labels[i] for i in order[:count])
            scores.append((hits / count, hits / len(item.gold)))
        got = {"precision": statistics.mean(p for p, _ in scores), "recall": statistics.mean(r for _, r in scores)}
        key = fs.bar_key(got)
        if key[0] > best[0] + 1e-12:
            best = (key[0], got["precision"], got["recall"])
    return best


def variant(
    item: fs.Item, score: Sequence[float], m: int, tail: int, rare: float, weights: Sequence[float] | None = None
) -> list[dict[str, float]]:
    """One question's expansion features, the sure members being the top m by `score` (the candidate left out)."""
    unit = np.array(item.vectors, dtype=float)
    unit /= np.linalg.norm(unit, axis=1, keepdims=True)
    n = len(unit)
    order = sorted(range(n), key=lambda i: -score[i])
    cos, margin, share = [], [], []
    for i in range(n):
        sure = [j for j in order if j != i][:m]
        low = [j for j in reversed(order) if j != i][:tail]
        if weights is not None:  # a centroid weighted by the first pass's probabilities, over every other
            centroid = sum(weights[j] * unit[j] for j in range(n) if j != i)
        else:
            centroid = unit[sure].mean(axis=0)
        centroid = centroid / np.linalg.norm(centroid)
        low_centroid = unit[low].mean(axis=0)
        low_centroid /= np.linalg.norm(low_centroid)
        cos.append(float(unit[i] @ centroid))
        margin.append(float(unit[i] @ unit[sure].mean(axis=0) / np.linalg.norm(unit[sure].mean(axis=0))))
        margin[-1] -= float(unit[i] @ low_centroid)
        counts = Counter(t for j in sure for t in item.words[j])
        words = {t: w for t, k in counts.items() if k >= min(2, m) and (w := item.idf(t)) >= rare}
        mass = sum(words.values())
        share.append(sum(w for t, w in words.items() if t in item.words[i]) / mass if mass else 0.0)
    arr = np.array(cos)
    rank = np.empty(n)
    rank[np.argsort(-arr, kind="stable")] = np.arange(n)
    z = (arr - arr.mean()) / (arr.std() or 1.0)
    return [
        {
            "x_cos": cos[i],
            "x_z": float(z[i]),
            "x_rank": math.log1p(rank[i]),
            "x_gap": float(arr.max() - arr[i]),
            "x_margin": margin[i],
            "x_words": share[i],
        }
        for i in range(n)
    ]


def sentence_variant(item: fs.Item, score: Sequence[float], sentences: Any) -> list[dict[str, float]]:
    """MiniLM sentence vectors instead of mpnet paper vectors: the best sentence-pair cosine to the surest other
    candidate (s_best), the cosine of the mean sentence vectors (s_mean), and that minus the tail's (s_margin)."""
    vectors = [sentences.of(c.source.paper.id)[0] for c in item.candidates]
    means = []
    for v in vectors:
        mean = v.mean(axis=0) if len(v) else np.zeros(vectors[0].shape[1])
        means.append(mean / (np.linalg.norm(mean) or 1.0))
    order = sorted(range(len(vectors)), key=lambda i: -score[i])
    rows = []
    for i, v in enumerate(vectors):
        sure = next(j for j in order if j != i)
        low = np.mean([means[j] for j in reversed(order) if j != i][:5], axis=0)
        low /= np.linalg.norm(low)
        best = float((v @ vectors[sure].T).max()) if len(v) and len(vectors[sure]) else 0.0
        mean = float(means[i] @ means[sure])
        rows.append({"s_best": best, "s_mean": mean, "s_margin": mean - float(means[i] @ low)})
    return rows


def main() -> int:
    from rag.config import Settings
    from rag.pipeline import Pipeline

    settings = Settings()
    pipeline = Pipeline(settings)
    features = features_for(settings.paper_embedder)
    every = list(features) + list(TOPIC_FEATURES)
    n, m = len(features), len(every)
    neutral = SelectionModel(features=list(features), mean=[0.0] * n, scale=[1.0] * n, coef=[0.0] * n, intercept=0.0)
    every_model = SelectionModel(features=every, mean=[0.0] * m, scale=[1.0] * m, coef=[0.0] * m, intercept=0.0)
    pipeline.planner.model = neutral.model_copy(update={"set_model": every_model})
    items = [fs.Item(pipeline, q) for path in fs.TUNE + fs.SETS for q in fs.load(path)]
    items = [i for i in items if i.form.form == "set" and i.candidates]
    base_rows = [[c.features for c in item.candidates] for item in items]

    def report(label: str, probabilities: list[list[float]]) -> None:
        bar, p, r = best_threshold(items, probabilities)
        ap = fs.average_precision(items, probabilities)
        print(f"{label:62} mean AP {ap:.3f}  best threshold: {p:.3f} / {r:.3f} (bar {bar:.3f})", flush=True)

    sources: dict[str, Callable[[fs.Item, list[float]], list[dict[str, float]]]] = {
        f"first pass, m {k}, tail {t}, idf >= {rare:g}": (
            lambda item, p, k=k, t=t, rare=rare: variant(item, p, k, t, rare)
        )
        for k, t, rare in itertools.product((1, 2, 3), (5,), (0.0, 4.0))
    }
    sources |= {
        f"first pass, m 1, tail {t}, idf >= 4": (lambda item, p, t=t: variant(item, p, 1, t, 4.0)) for t in (3, 8)
    }
    sources |= {
        f"topic cosine, m {k}, tail 5, idf >= 0": (
            lambda item, p, k=k: variant(item, [c.features["mp_topic"] for c in item.candidates], k, 5, 0.0)
        )
        for k in (2, 3)
    }
    sources["first pass, weighted centroid, tail 5, idf >= 0"] = lambda item, p: variant(item, p, 3, 5, 0.0, p)
    sets = (["x_cos"], ["x_z"], ["x_rank"], ["x_gap"], ["x_margin"], ["x_words"], ["x_cos", "x_margin", "x_words"])
    print(f"{len(items)} set questions")
    for l2 in (3.0, 30.0):
        first = held_out(items, base_rows, SET_FEATURES, l2)
        report(f"L2 {l2:g}: the set model (one pass)", first)
        for label, make in sources.items():
            rows_of = [
                [row | extra for row, extra in zip(rows, make(item, probs), strict=True)]
                for item, rows, probs in zip(items, base_rows, first, strict=True)
            ]
            for extra in sets:
                report(f"  {label}: {' + '.join(extra)}", held_out(items, rows_of, [*SET_FEATURES, *extra], l2))
        rows_of = [
            [
                row | a | b
                for row, a, b in zip(
                    rows,
                    variant(item, probs, 1, 5, 4.0),
                    sentence_variant(item, probs, pipeline.planner.sentences),
                    strict=True,
                )
            ]
            for item, rows, probs in zip(items, base_rows, first, strict=True)
        ]
        for extra in (["s_best"], ["s_mean"], ["s_margin"], ["x_cos", "x_margin", "x_words", "s_best"]):
            label = f"  MiniLM sentences, sure = top 1 by first pass: {' + '.join(extra)}"
            report(label, held_out(items, rows_of, [*SET_FEATURES, *extra], l2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
