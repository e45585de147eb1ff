"""Step-1 diagnostic of issue 20: do mpnet sentence vectors rank a paper's key sentence higher than MiniLM's?

    RAG_DATA_DIR=... PYTHONPATH=$PWD .venv/bin/python scripts/diag_mpnet_sentences.py --vectors out/mp-sentences.npz

On the TUNE files only: every answerable question is retrieved and planned as the pipeline does;
each gold paper among the plan's candidates (and, separately, among the papers it cites) is one
group, labelled with its key sentence as `scripts/fit_sentences.py` labels it. Its sentences are
ranked by (a) the MiniLM cosine to the question (the vectors stored at ingest), (b) the mpnet
cosine (the question's mpnet vector is the one retrieval embeds; the sentences' come from
`--vectors`, a `rag.paper_vectors` file, written there first when absent: every seed sentence embedded
with all-mpnet-base-v2, ~150 s on 2 cores), (c) their mean; top-1 / top-2 shares are printed with n.
Then the fitted scorer with and without mpnet features, 5-fold cross-validated on the same groups.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rag.answer.sentence_scorer import FEATURES, sentence_features  # noqa: E402
from rag.corpus import normalize_title  # noqa: E402
from rag.evaluate.run import load_questions  # noqa: E402
from rag.selection import DEPTH  # noqa: E402

TUNE = [ROOT / "eval" / "questions_forms_tune.jsonl", ROOT / "eval" / "questions_tune.jsonl"]


def ranks_key(scores: np.ndarray, key: int, n: int) -> bool:
    return key in np.argsort(-scores, kind="stable")[:n]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--vectors", type=Path, required=True)
    parser.add_argument("--files", type=Path, action="append")
    args = parser.parse_args()

    from rag import paper_vectors
    from rag.config import Settings
    from rag.pipeline import Pipeline
    from scripts.fit_sentences import fit, key_labelled

    pipeline = Pipeline(Settings())
    if not args.vectors.is_file():  # every seed sentence under mpnet, as the shipped MiniLM file is made
        from rag.corpus import load_papers
        from scripts.ship_paper_vectors import ship_sentences

        ship_sentences(
            load_papers(pipeline.settings.seeds_dir), pipeline.settings.model_cache_dir, args.vectors, "mpnet"
        )
    shipped = paper_vectors.read(args.vectors)
    assert shipped is not None
    retriever = pipeline.retriever
    mp = retriever.paper_embedder
    assert mp is not None, "needs the default profile (mpnet paper embedder)"
    k = pipeline.settings.top_k
    groups: list[dict] = []
    for path in args.files or TUNE:
        for q in load_questions(path).questions:
            if not q.get("gold_titles") or q["type"] == "unanswerable" or not q.get("reference_answer"):
                continue
            gold = {normalize_title(t) for t in q["gold_titles"]}
            retrieval = retriever.retrieve(q["question"], k, depth=max(k, DEPTH))
            if not retrieval.answerable:
                continue
            plan = pipeline.planner.plan(q["question"], retrieval, k)
            qv = mp.embed_query(retrieval.query.dense_text)
            chosen = {c.source.paper.id for c in plan.chosen}
            for c in plan.candidates:
                if normalize_title(c.source.paper.title) not in gold:
                    continue
                labelled = key_labelled(c.source.paper.abstract, q["reference_answer"])
                if labelled is None:
                    continue
                sentences, key_index = labelled
                texts = [s.text for s in sentences]
                mini = np.array([c.sims.get(s.start, 0.0) for s in sentences])
                vecs = [shipped.get(t, shipped.digest) for t in texts]
                mpc = np.array([float(v @ qv) for v in vecs])
                rows = sentence_features(
                    q["question"],
                    plan.form.form,
                    plan.form.aspect,
                    texts,
                    list(mini),
                    retriever.tokenize,
                    retriever.idf,
                    c.source.paper.title,
                )
                top = mpc.max()
                for row, v in zip(rows, mpc, strict=True):
                    row["mp_cos"], row["mp_cos_gap"], row["mp_cos_top"] = float(v), float(v - top), float(v >= top)
                groups.append(
                    {
                        "file": path.name,
                        "qid": q.get("id"),
                        "key": key_index,
                        "mini": mini,
                        "mp": mpc,
                        "cited": c.source.paper.id in chosen,
                        "rows": rows,
                        "n": len(sentences),
                    }
                )
    print(
        f"groups: {len(groups)} gold candidate papers, {sum(g['cited'] for g in groups)} cited; "
        f"mean sentences per paper {statistics.mean(g['n'] for g in groups):.1f}"
    )
    rankers = {
        "minilm": lambda g: g["mini"],
        "mpnet": lambda g: g["mp"],
        "mix (mean)": lambda g: (g["mini"] + g["mp"]) / 2,
        "mix (z-mean)": lambda g: _z(g["mini"]) + _z(g["mp"]),
    }
    cited = [g for g in groups if g["cited"]]
    for label, subset in (("all gold candidates", groups), ("gold papers the plan cites", cited)):
        for fname in ["*", *dict.fromkeys(g["file"] for g in groups)]:
            sub = [g for g in subset if fname == "*" or g["file"] == fname]
            cells = []
            for name, f in rankers.items():
                t1 = statistics.mean(ranks_key(f(g), g["key"], 1) for g in sub)
                t2 = statistics.mean(ranks_key(f(g), g["key"], 2) for g in sub)
                cells.append(f"{name} {t1:.3f}/{t2:.3f}")
            print(f"{label:28s} {fname:28s} n={len(sub):4d}  " + "  ".join(cells))
    # wins and losses, minilm vs mpnet top-1
    pairs = [(ranks_key(g["mini"], g["key"], 1), ranks_key(g["mp"], g["key"], 1)) for g in groups]
    print(f"top-1 only minilm {sum(a and not b for a, b in pairs)}, only mpnet {sum(b and not a for a, b in pairs)}")
    # the scorer with and without mpnet features, 5-fold CV by question
    before = [f for f in FEATURES if not f.startswith("mp_")]  # the features before mpnet's
    variants = {
        "scorer (MiniLM cosines only)": before,
        "+ mp_cos, mp_cos_gap": [*before, "mp_cos", "mp_cos_gap"],
        "+ mp_cos, mp_cos_gap, mp_cos_top": [*before, "mp_cos", "mp_cos_gap", "mp_cos_top"],
        "mp swapped for minilm cos": [f for f in before if not f.startswith("cos")] + ["mp_cos", "mp_cos_gap"],
    }
    qids = sorted({(g["file"], g["qid"]) for g in groups})
    rng = np.random.default_rng(0)
    fold_of = {q: i % 5 for i, q in enumerate(rng.permutation(len(qids)))}
    fold_of = {qids[i]: f for i, f in fold_of.items()}
    for name, feats in variants.items():
        hits1 = hits2 = 0
        for fold in range(5):
            train = [g for g in groups if fold_of[(g["file"], g["qid"])] != fold]
            test = [g for g in groups if fold_of[(g["file"], g["qid"])] == fold]
            w = fit([(_matrix(g, feats), g["key"]) for g in train], 1.0)
            hits1 += sum(ranks_key(_matrix(g, feats) @ w, g["key"], 1) for g in test)
            hits2 += sum(ranks_key(_matrix(g, feats) @ w, g["key"], 2) for g in test)
        n = len(groups)
        print(f"5-fold CV on tune  {name:36s} top1 {hits1 / n:.3f} top2 {hits2 / n:.3f} (n={n})")
    return 0


def _matrix(group: dict, features: list[str]) -> np.ndarray:
    return np.array([[row.get(name, 0.0) for name in features] for row in group["rows"]])


def _z(x: np.ndarray) -> np.ndarray:
    return (x - x.mean()) / (x.std() + 1e-9)


if __name__ == "__main__":
    raise SystemExit(main())
