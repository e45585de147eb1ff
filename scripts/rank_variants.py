"""Score ranking variants offline from scripts/rank_cache.py's cache (tune, test, dev, blind, fresh).

    PYTHONPATH=$PWD .venv/bin/python scripts/rank_variants.py out/rank_cache.pkl

Each variant turns a cached question into a paper ranking; hit@1, hit@5 and MRR@10 are
counted on the answerable questions of each set, overall and for the hard paraphrases.
"""

from __future__ import annotations

import math
import pickle
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rag.corpus import normalize_title  # noqa: E402
from rag.retrieve import fuse  # noqa: E402

SETS = {
    "tune": "questions_tune",
    "test": "questions_test",
    "dev": "dev_questions",
    "blind": "questions_blind",
    "fresh": "questions_fresh",
}


class Data:
    def __init__(self, path: Path) -> None:
        with path.open("rb") as f:
            d = pickle.load(f)
        self.__dict__.update(d)
        self.s = d["settings"]
        self.pid_index = {p: i for i, p in enumerate(self.paper_ids)}
        self.sent_paper_idx = np.array([self.pid_index[p] for p in self.sent_paper])
        for rows in self.rows.values():
            for row in rows:
                q = row["q"]
                row["gold"] = {normalize_title(t) for t in q.get("gold_titles") or []}
                row["answerable"] = q.get("type") != "unanswerable" and bool(row["gold"])
                row["style"] = q.get("style") or q.get("type")

    def paper_cos(self, v: np.ndarray) -> np.ndarray:
        return self.paper_vecs @ v

    def sent_max_cos(self, v: np.ndarray, vecs: np.ndarray | None = None) -> np.ndarray:
        """Per paper, the best cosine of any of its sentences."""
        cos = (self.sent_vecs if vecs is None else vecs) @ v
        out = np.full(len(self.paper_ids), -1.0)
        np.maximum.at(out, self.sent_paper_idx, cos)
        return out

    def as_ranking(self, scores: np.ndarray, n: int = 40) -> list[tuple[int, float]]:
        """A paper-level score vector as a ranking of first-chunk positions, best first."""
        top = np.argsort(-scores)[:n]
        return [(self.first_chunk[self.paper_ids[i]], float(scores[i])) for i in top]


def base_params(d: Data) -> dict[str, Any]:
    s = d.s
    return {
        "weights": {"dense": s["dense_weight"], "bm25": s["bm25_weight"], "paper_dense": s["paper_dense_weight"]},
        "temps": {
            "dense": s["dense_temperature"],
            "bm25": s["bm25_temperature"],
            "paper_dense": s["paper_dense_temperature"],
        },
        "name_bonus": s["name_bonus"],
    }


def finish(d: Data, row: dict, hits: list) -> list[str]:
    query = row["query"]
    if query.only_name:
        hits = sorted(hits, key=lambda h: h.paper_id not in query.only_name)
    return [h.paper_id for h in hits[:10]]


def softmax_fuse(d: Data, row: dict, rankings: dict, p: dict) -> list[str]:
    q = row["query"]
    hits = fuse(
        rankings, d.paper_of, p["weights"], p["temps"], q.named + q.named_in_abstract, p["name_bonus"], d.first_chunk
    )
    return finish(d, row, hits)


def rrf_fuse(d: Data, row: dict, rankings: dict, p: dict, k: float = 60.0) -> list[str]:
    """Reciprocal rank fusion over papers (best chunk per paper), weights per signal, name bonus in RRF units."""
    scores: dict[str, float] = {}
    for name, ranking in rankings.items():
        w = p["weights"].get(name, 0.0)
        seen: list[str] = []
        for pos, _ in ranking:
            pid = d.paper_of[pos]
            if pid not in seen:
                seen.append(pid)
        for r, pid in enumerate(seen):
            scores[pid] = scores.get(pid, 0.0) + w / (k + r + 1)
    q = row["query"]
    for pid in q.named + q.named_in_abstract:
        scores[pid] = scores.get(pid, 0.0) + p.get("rrf_bonus", 1.0)
    order = sorted(scores, key=lambda x: (-scores[x], x))

    class H:  # minimal PaperHit stand-in for finish()
        def __init__(self, pid: str) -> None:
            self.paper_id = pid

    return finish(d, row, [H(x) for x in order])


def evaluate(d: Data, rank_fn: Callable[[Data, dict], list[str]], sets=SETS) -> dict[str, dict[str, Any]]:
    out = {}
    for short, name in sets.items():
        stats: dict[str, list[float]] = {}
        for row in d.rows[name]:
            if not row["answerable"]:
                continue
            ranked = [normalize_title(d.titles[pid]) for pid in rank_fn(d, row)]
            rank = next((i for i, t in enumerate(ranked, 1) if t in row["gold"]), None)
            for key in ("all", row["style"]):
                stats.setdefault(key, []).append(rank or 0)
        res = {}
        for key, ranks in stats.items():
            n = len(ranks)
            res[key] = (
                sum(r == 1 for r in ranks) / n,
                sum(0 < r <= 5 for r in ranks) / n,
                sum(1 / r for r in ranks if r) / n,
                n,
            )
        out[short] = res
    return out


def line(name: str, res: dict) -> str:
    cells = []
    for short in SETS:
        a = res[short]["all"]
        h = res[short].get("paraphrase_hard")
        cells.append(f"{a[0]:.3f}/{a[1]:.3f}/{a[2]:.3f}" + (f" hp {h[0]:.3f}/{h[1]:.3f}" if h else ""))
    return f"{name:38s} | " + " | ".join(cells)


# ---------------------------------------------------------------- the variants


def with_params(p: dict) -> Callable[[Data, dict], list[str]]:
    return lambda d, row: softmax_fuse(d, row, row["rankings"], p)


def params(d: Data, **changes: float) -> dict[str, Any]:
    """The profile's fusion settings with some changed: dw/bw/pw weights, dt/bt/pt temperatures, nb bonus."""
    p = base_params(d)
    keys = {
        "dw": ("weights", "dense"),
        "bw": ("weights", "bm25"),
        "pw": ("weights", "paper_dense"),
        "dt": ("temps", "dense"),
        "bt": ("temps", "bm25"),
        "pt": ("temps", "paper_dense"),
    }
    for key, value in changes.items():
        if key == "nb":
            p["name_bonus"] = value
        else:
            part, name = keys[key]
            p[part] = {**p[part], name: value}
    return p


def add_signal(name: str, scores_of: Callable[[Data, dict], np.ndarray], w: float, t: float):
    """A fourth fused signal from a per-paper score vector."""

    def fn(d: Data, row: dict) -> list[str]:
        p = base_params(d)
        p = {**p, "weights": {**p["weights"], name: w}, "temps": {**p["temps"], name: t}}
        return softmax_fuse(d, row, {**row["rankings"], name: d.as_ranking(scores_of(d, row))}, p)

    return fn


def prf(m: int, beta: float, w: float, weighted: bool = True, source: str = "fused"):
    """Rocchio feedback with mpnet from the top m papers (of the fusion or of mpnet alone), fused as a 4th signal."""

    def fn(d: Data, row: dict) -> list[str]:
        q, p = row["query"], base_params(d)
        hits = fuse(
            row["rankings"],
            d.paper_of,
            p["weights"],
            p["temps"],
            q.named + q.named_in_abstract,
            p["name_bonus"],
            d.first_chunk,
        )
        if q.named or q.named_in_abstract:
            return finish(d, row, hits)
        if source == "fused":
            top = [d.pid_index[h.paper_id] for h in hits[:m]]
            ws = np.array([h.fused for h in hits[:m]]) if weighted else np.ones(len(top))
        else:
            top = list(np.argsort(-d.paper_cos(row["v_mpnet"]))[:m])
            ws = np.ones(len(top))
        v = row["v_mpnet"] + beta * (d.paper_vecs[top] * (ws / ws.sum())[:, None]).sum(0)
        v = v / np.linalg.norm(v)
        pp = {**p, "weights": {**p["weights"], "prf": w}, "temps": {**p["temps"], "prf": p["temps"]["paper_dense"]}}
        return softmax_fuse(d, row, {**row["rankings"], "prf": d.as_ranking(d.paper_cos(v))}, pp)

    return fn


def maxsum_fuse(d: Data, row: dict, rankings: dict, p: dict) -> list[str]:
    """Per paper mix * max + (1 - mix) * sum of the weighted softmax distributions (sum alone: softmax fusion)."""
    per: dict[str, list[float]] = {}
    for name, ranking in rankings.items():
        best: dict[str, float] = {}
        for pos, s in ranking:
            best.setdefault(d.paper_of[pos], s)
        if not best or p["weights"].get(name, 0) == 0:
            continue
        top = max(best.values())
        ex = {k: math.exp((v - top) / p["temps"][name]) for k, v in best.items()}
        total = sum(ex.values())
        for k, v in ex.items():
            per.setdefault(k, []).append(p["weights"][name] * v / total)
    scores = {k: p["mix"] * max(v) + (1 - p["mix"]) * sum(v) for k, v in per.items()}
    q = row["query"]
    for pid in q.named + q.named_in_abstract:
        scores[pid] = scores.get(pid, 0.0) + p["name_bonus"] * sum(p["weights"].values())

    class H:
        def __init__(self, pid: str) -> None:
            self.paper_id = pid

    return finish(d, row, [H(x) for x in sorted(scores, key=lambda x: (-scores[x], x))])


def ascent(d: Data) -> dict[str, float]:
    """Coordinate ascent over all seven fusion settings on tune hit@1 + MRR@10 (as scripts/tune.py searches)."""
    grid = {
        "bt": [0.5, 1, 2, 3, 5],
        "dt": [0.02, 0.03, 0.05, 0.08],
        "pt": [0.02, 0.03, 0.05, 0.08, 0.12],
        "pw": [0.5, 1, 1.5, 2, 3, 4],
        "dw": [0, 0.5, 1, 1.5],
        "bw": [0.25, 0.5, 1, 1.5],
        "nb": [0.05, 0.1, 0.2, 0.3, 0.6],
    }
    best: dict[str, float] = {}

    def score(changes: dict[str, float]) -> float:
        a = evaluate(d, with_params(params(d, **changes)), {"tune": SETS["tune"]})["tune"]["all"]
        return a[0] + a[2]

    top = score(best)
    for _ in range(4):
        moved = False
        for key, values in grid.items():
            for value in values:
                s = score({**best, key: value})
                if s > top + 1e-9:
                    best, top, moved = {**best, key: value}, s, True
        if not moved:
            break
    return best


def maxsum_variant(p: dict[str, Any], mix: float) -> Callable[[Data, dict], list[str]]:
    return lambda d, row: maxsum_fuse(d, row, row["rankings"], {**p, "mix": mix})


def rrf_variant(p: dict[str, Any], bonus: float, k: float) -> Callable[[Data, dict], list[str]]:
    return lambda d, row: rrf_fuse(d, row, row["rankings"], {**p, "rrf_bonus": bonus}, k)


def tune_best(d: Data, variants: dict[str, Callable]) -> list[tuple[float, str]]:
    """Variants by tune hit@1 + MRR@10, best first (rank 1 is what the extractive answer quotes)."""
    scored = []
    for name, fn in variants.items():
        a = evaluate(d, fn, {"tune": SETS["tune"]})["tune"]["all"]
        scored.append((a[0] + a[2], name))
    return sorted(scored, key=lambda x: -x[0])


def report(d: Data, title: str, variants: dict[str, Callable], show: int = 3) -> None:
    print(f"\n## {title}: {len(variants)} variants; best {show} on tune, every set", flush=True)
    for _, name in tune_best(d, variants)[:show]:
        print(line(name, evaluate(d, variants[name])), flush=True)


def main(path: Path, sentence_vectors: Path | None) -> None:
    import itertools

    d = Data(path)
    print("set columns: hit@1/hit@5/MRR@10 (hp: hard paraphrases hit@1/hit@5)")
    print(line("mpnet profile (baseline)", evaluate(d, with_params(base_params(d)))))
    grid = itertools.product([1, 1.5, 2, 3, 4, 6], [0.02, 0.03, 0.05, 0.08], [0, 0.5, 1], [0.5, 1, 1.5])
    report(
        d,
        "softmax weights/temperatures",
        {
            f"softmax pw{pw} pt{pt} dw{dw} bw{bw}": with_params(params(d, pw=pw, pt=pt, dw=dw, bw=bw))
            for pw, pt, dw, bw in grid
        },
    )
    chosen = ascent(d)
    print(line(f"ascent on tune {chosen}", evaluate(d, with_params(params(d, **chosen)))), flush=True)
    report(
        d,
        "max/sum mix",
        {
            f"max/sum mix{mix} pw{pw}": maxsum_variant(params(d, pw=pw), mix)
            for mix, pw in itertools.product([0.25, 0.5, 1.0], [1, 2, 3])
        },
    )
    report(
        d,
        "MiniLM chunk signal dropped or down-weighted",
        {f"softmax dw{dw} pw{pw}": with_params(params(d, dw=dw, pw=pw)) for dw in (0, 0.25, 0.5) for pw in (1, 2, 3)},
    )
    rrf = itertools.product([10, 30, 60], [1, 2, 3], [0, 0.5, 1], [0.5, 1], [0.05, 1.0])
    report(
        d,
        "RRF",
        {
            f"RRF k{k} pw{pw} dw{dw} bw{bw} bonus{b}": rrf_variant(params(d, pw=pw, dw=dw, bw=bw), b, k)
            for k, pw, dw, bw, b in rrf
        },
    )
    report(
        d,
        "MiniLM sentence max (4th signal)",
        {
            f"sentence-max MiniLM w{w} t{t}": add_signal("sent", lambda d, row: d.sent_max_cos(row["v_mini"]), w, t)
            for w, t in itertools.product([0.25, 0.5, 1, 2], [0.02, 0.03, 0.05])
        },
    )
    if sentence_vectors is not None and sentence_vectors.exists():
        sv = np.load(sentence_vectors)

        def mp_sent_max(d: Data, row: dict) -> np.ndarray:
            return d.sent_max_cos(row["v_mpnet"], sv)

        def mp_paper_or_sent(d: Data, row: dict) -> np.ndarray:
            return np.maximum(d.paper_cos(row["v_mpnet"]), d.sent_max_cos(row["v_mpnet"], sv))

        variants = {}
        for w, t in itertools.product([0.5, 1, 2], [0.03, 0.05, 0.08]):
            variants[f"sentence-max mpnet w{w} t{t}"] = add_signal("sent", mp_sent_max, w, t)
            variants[f"max(paper, sentences) mpnet w{w} t{t}"] = add_signal("sent", mp_paper_or_sent, w, t)
        for a in (0.25, 0.5, 1.0):
            variants[f"paper + {a} x sentence-max mpnet (replaces paper)"] = lambda d, row, a=a: softmax_fuse(
                d,
                row,
                {
                    **row["rankings"],
                    "paper_dense": d.as_ranking((d.paper_cos(row["v_mpnet"]) + a * mp_sent_max(d, row)) / (1 + a)),
                },
                base_params(d),
            )
        report(d, "mpnet over abstract sentences", variants, show=4)
    report(
        d,
        "PRF, unweighted centroid of mpnet's or the fusion's top m",
        {
            f"PRF {src} m{m} beta{b} w{w}": prf(m, b, w, weighted=False, source=src)
            for src, m, b, w in itertools.product(["mpnet", "fused"], [1, 2, 3, 5], [0.25, 0.5, 1.0], [1.0])
        },
    )
    report(
        d,
        "PRF, fused-score-weighted centroid of the fusion's top m",
        {
            f"PRF weighted m{m} beta{b} w{w}": prf(m, b, w)
            for m, b, w in itertools.product([3, 5, 10], [0.25, 0.5, 1.0], [0.5, 1.0, 2.0])
        },
        show=8,
    )


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]) if len(sys.argv) > 2 else None)
