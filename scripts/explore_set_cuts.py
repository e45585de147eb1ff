"""Compare per-question cuts for set questions on held-out tune probabilities (docs/evaluation-forms.md,
"A per-question cut"). Tune data only; writes nothing but prints.

    RAG_DATA_DIR=... PYTHONPATH=$PWD .venv/bin/python scripts/explore_set_cuts.py

The set model is fitted leave-one-question-out on the set questions of the tune files (the 33, L2 100, as
shipped) and with eval/questions_sets_tune.jsonl (the 65, L2 3); each family of cuts is scored on those
held-out probabilities by `bar_key`: a shared threshold, a relative cut, a log-odds window, the largest drop
among the top m, an expected count, and max/min combinations; then the choice of rule itself held out (nested
leave-one-question-out) and the oracle (each question cut at its own best place).
"""

from __future__ import annotations

import math
import statistics
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

import fit_selection as fs  # noqa: E402

from rag.refusal_model import fit_logistic  # noqa: E402
from rag.selection import SET_FEATURES, TOPIC_FEATURES, SelectionModel, features_for  # noqa: E402

Rule = Callable[[Sequence[float]], int]  # sorted probabilities -> how many to cite
Row = tuple[list[float], list[int], int]  # held-out probabilities, labels, gold count


def held_out(items: list[fs.Item], l2: float) -> list[Row]:
    def fit(group: list[fs.Item]) -> SelectionModel:
        rows = [c.features for it in group for c in it.candidates]
        labels = [y for it in group for y in it.labels]
        mean, scale, coef, b = fit_logistic(rows, labels, list(SET_FEATURES), l2=l2)
        return SelectionModel(features=list(SET_FEATURES), mean=mean, scale=scale, coef=coef, intercept=b)

    out = []
    for item in items:
        model = fit([o for o in items if o is not item])
        out.append(([model.probability(c.features) for c in item.candidates], item.labels, len(item.gold)))
    return out


def per_question(rows: list[Row], rule: Rule) -> list[tuple[float, float]]:
    out = []
    for probs, labels, n_gold in rows:
        order = sorted(range(len(probs)), key=lambda i: -probs[i])
        ranked = [probs[i] for i in order]
        count = max(1, min(len(ranked), rule(ranked)))
        hits = sum(labels[i] for i in order[:count])
        out.append((hits / count, hits / n_gold))
    return out


def mean_pr(scores: Sequence[tuple[float, float]]) -> tuple[float, float]:
    return statistics.mean(p for p, _ in scores), statistics.mean(r for _, r in scores)


def key(pr: tuple[float, float]) -> tuple[float, float, float]:
    return fs.bar_key({"precision": pr[0], "recall": pr[1]})


def logit(p: float) -> float:
    p = min(max(p, 1e-9), 1 - 1e-9)
    return math.log(p / (1 - p))


def largest_drop(values: Sequence[float]) -> int:
    if len(values) < 2:
        return 1
    drops = [values[i] - values[i + 1] for i in range(len(values) - 1)]
    return max(range(len(drops)), key=drops.__getitem__) + 1


def at_least(t: float) -> Rule:
    return lambda ps: sum(p >= t for p in ps)


def relative(r: float, floor: float) -> Rule:
    return lambda ps: sum(p >= max(r * ps[0], floor) for p in ps)


def window(d: float, floor: float) -> Rule:
    return lambda ps: sum(p >= floor and logit(p) >= logit(ps[0]) - d for p in ps)


def drop(m: int, odds: bool) -> Rule:
    return lambda ps: largest_drop([logit(p) for p in ps[:m]] if odds else list(ps[:m]))


def expected(a: float, b: float) -> Rule:
    return lambda ps: round(a * sum(ps) + b)


def both(first: Rule, second: Rule, combine: Callable[[int, int], int]) -> Rule:
    return lambda ps: combine(first(ps), second(ps))


def rules() -> dict[str, dict[str, Rule]]:
    grid = [round(0.05 * i, 2) for i in range(1, 20)]
    floors = (0.0, 0.1, 0.2, 0.25, 0.3, 0.35, 0.4)
    fam: dict[str, dict[str, Rule]] = {
        "threshold": {f"p >= {t}": at_least(t) for t in grid},
        "relative": {
            f"p >= {r} x max, floor {f}": relative(r, f)
            for r in [round(0.05 * i, 2) for i in range(2, 20)]
            for f in floors
        },
        "log-odds window": {
            f"within {d} of the best, floor {f}": window(d, f) for d in (0.5, 1, 1.5, 2, 2.5, 3, 4, 5) for f in floors
        },
        "drop": {f"largest drop in top {m}": drop(m, False) for m in range(3, 16)},
        "log-odds drop": {f"largest log-odds drop in top {m}": drop(m, True) for m in range(3, 16)},
        "count": {
            f"round({a} x sum + {b})": expected(a, b)
            for a in (0.5, 0.75, 1.0, 1.25, 1.5, 2.0)
            for b in (-1, -0.5, 0, 0.5, 1)
        },
    }
    combos: dict[str, Rule] = {}
    for other in ("drop", "log-odds drop", "count"):
        for name_t, rule_t in fam["threshold"].items():
            for name_o, rule_o in fam[other].items():
                combos[f"max({name_t}, {name_o})"] = both(rule_t, rule_o, max)
                combos[f"min({name_t}, {name_o})"] = both(rule_t, rule_o, min)
    fam["combinations"] = combos
    return fam


def report(name: str, rows: list[Row]) -> None:
    print(f"== {name} (n={len(rows)})")
    families = rules()
    scored = {fam: {k: per_question(rows, r) for k, r in rs.items()} for fam, rs in families.items()}
    for fam, per in scored.items():
        best = max(per, key=lambda k: key(mean_pr(per[k])))
        p, r = mean_pr(per[best])
        print(f"  {fam:16} best {best:58} P {p:.3f} R {r:.3f} bar {key((p, r))[0]:.3f}")
    for label, pool in (
        ("threshold", scored["threshold"]),
        ("any", {k: v for d in scored.values() for k, v in d.items()}),
    ):
        chosen = []
        for i in range(len(rows)):
            pick = max(pool, key=lambda k: key(mean_pr([s for j, s in enumerate(pool[k]) if j != i])))
            chosen.append(pool[pick][i])
        p, r = mean_pr(chosen)
        print(f"  rule chosen held out ({label}): P {p:.3f} R {r:.3f} bar {key((p, r))[0]:.3f}")
    oracle = [max((per_question([row], lambda ps, c=c: c)[0] for c in range(1, 16)), key=key) for row in rows]
    p, r = mean_pr(oracle)
    print(f"  oracle (each question cut at its best place): P {p:.3f} R {r:.3f}")


def main() -> int:
    from rag.config import Settings
    from rag.pipeline import Pipeline

    settings = Settings()
    pipeline = Pipeline(settings)
    features = list(features_for(settings.paper_embedder))
    every = features + list(TOPIC_FEATURES)

    def flat(names: list[str]) -> SelectionModel:  # every feature computed, none weighed
        n = len(names)
        return SelectionModel(features=names, mean=[0.0] * n, scale=[1.0] * n, coef=[0.0] * n, intercept=0.0)

    pipeline.planner.model = flat(features).model_copy(update={"set_model": flat(every)})
    old = [fs.Item(pipeline, q) for path in fs.TUNE for q in fs.load(path)]
    new = [fs.Item(pipeline, q) for path in fs.SETS for q in fs.load(path)]
    old = [i for i in old if i.form.form == "set" and i.candidates]
    new = [i for i in new if i.form.form == "set" and i.candidates]
    report("the 33 set questions of the tune files, L2 100", held_out(old, 100.0))
    report("with questions_sets_tune: 65, L2 3", held_out(old + new, 3.0))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
