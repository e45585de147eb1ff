"""Paper embedders compared alone: each question's cosine to all 505 papers, no fusion, no rerank.

    python bench/embedders.py [--cache-dir data/models]

Why this exists: the paper-level embedder is one signal among four, so a better one can hide behind the
fusion. This ranks every paper by the embedder's cosine alone (the seed papers' shipped vectors,
rag/paper-vectors-<kind>.npz, and each question embedded as a query), over every eval question with gold
papers, tune and test halves apart, with `rag.evaluate.metrics`' definitions. Single-paper questions: hit@1
and MRR@10 of the gold paper. Questions with several gold papers (sets, comparisons, follow-ups over a
list): mean average precision over the whole ranking and recall@10. Conversation turns after the first
are left out (their text leans on the turn before). Then the query cost: `--latency N` tune questions
embedded one at a time, uncached, the embedders interleaved question by question (so a change of load
hits both alike), wall and CPU ms.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np
from common import ROOT, table

KINDS = ("mpnet", "gemma")


def questions(half: str) -> list[tuple[str, list[str]]]:
    """(question, gold titles) of every first turn with gold papers in the eval files of one half."""
    out = []
    for path in sorted((ROOT / "eval").glob(f"*_{half}.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            record = json.loads(line)
            first = record["turns"][0] if "turns" in record else record
            if first.get("gold_titles"):
                out.append((first["question"], first["gold_titles"]))
    return out


def average_precision(ranked: list[str], gold: list[str]) -> float:
    """Mean over the gold papers of the precision at each one's rank in the whole ranking."""
    from rag.corpus import normalize_title

    keys = {normalize_title(t) for t in gold}
    ranks = [r for r, title in enumerate(ranked, start=1) if normalize_title(title) in keys]
    return sum((k + 1) / r for k, r in enumerate(ranks)) / len(keys)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache-dir", type=Path, default=ROOT / "data" / "models", help="the model cache")
    parser.add_argument("--latency", type=int, default=60, help="tune questions timed per embedder (0: none)")
    args = parser.parse_args()

    from rag import paper_vectors
    from rag.corpus import load_papers, normalize_title
    from rag.embeddings import EMBEDDERS
    from rag.evaluate.metrics import hit_at, recall_at, reciprocal_rank
    from rag.index import paper_text

    papers = load_papers(ROOT / "seeds")
    titles_known = {normalize_title(p.title) for p in papers}
    rows = []
    embedders = {kind: EMBEDDERS[kind](cache_dir=args.cache_dir) for kind in KINDS}
    for kind, embedder in embedders.items():
        shipped = paper_vectors.shipped(kind)
        vectors = [shipped.get(paper_text(p), embedder.digest) if shipped else None for p in papers]
        if any(v is None for v in vectors):
            raise SystemExit(f"rag/{paper_vectors.package_file(kind)} is not for this model: ship_paper_vectors.py")
        matrix = np.stack(vectors)
        for half in ("tune", "test"):
            single, many = [], []  # (hit@1, MRR@10) / (average precision, recall@10)
            for question, titles in questions(half):
                gold = [t for t in titles if normalize_title(t) in titles_known]
                if not gold:
                    continue
                order = np.argsort(-(matrix @ embedder.embed_query(question)), kind="stable")
                ranked = [papers[i].title for i in order]
                if len(gold) == 1:
                    single.append((hit_at(ranked, gold, 1), reciprocal_rank(ranked, gold)))
                else:
                    many.append((average_precision(ranked, gold), recall_at(ranked, gold, 10)))
            rows.append(
                {
                    "embedder": kind,
                    "half": half,
                    "single n": len(single),
                    "hit@1": f"{np.mean([s[0] for s in single]):.3f}",
                    "MRR@10": f"{np.mean([s[1] for s in single]):.3f}",
                    "several n": len(many),
                    "mean AP": f"{np.mean([m[0] for m in many]):.3f}",
                    "recall@10": f"{np.mean([m[1] for m in many]):.3f}",
                }
            )
    print(table(list(rows[0]), [list(r.values()) for r in rows]))
    if args.latency:
        print()
        print(latency(embedders, [q for q, _ in questions("tune")][: args.latency]))
    return 0


def latency(embedders: dict, texts: list[str]) -> str:
    """Wall and CPU ms per uncached query embedding (the query prompt included), interleaved."""
    wall: dict[str, list[float]] = {k: [] for k in embedders}
    cpu: dict[str, list[float]] = {k: [] for k in embedders}
    load = os.getloadavg()[0]
    for i, text in enumerate(texts):
        kinds = list(embedders)[i % 2 :] + list(embedders)[: i % 2]  # alternate who goes first
        for kind in kinds:
            e = embedders[kind]
            t, c = time.perf_counter(), time.process_time()
            e._encode([e.query_prompt + text])
            wall[kind].append((time.perf_counter() - t) * 1000)
            cpu[kind].append((time.process_time() - c) * 1000)
    rows = [
        [k, len(wall[k]), f"{np.percentile(wall[k], 50):.1f}", f"{np.percentile(wall[k], 95):.1f}",
         f"{np.percentile(cpu[k], 50):.1f}"]
        for k in embedders
    ]  # fmt: skip
    out = table(["embedder", "queries", "wall p50 ms", "wall p95 ms", "CPU p50 ms"], rows)
    return out + f"\n\nload average {load:.1f} before, {os.getloadavg()[0]:.1f} after"


if __name__ == "__main__":
    raise SystemExit(main())
