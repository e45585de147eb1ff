"""A second stage over the fused ranking: a learned reorder of its top few papers.

The softmax fusion (`rag.retrieve`) sees each retriever's best-chunk score and nothing else, and
re-weighting it sits on a plateau (docs/evaluation.md, "Ranking variants"). A vague question's
right paper is often second or third there while other evidence the fusion never reads points at
it: its best abstract sentence, the paper vector's cosine and cohesion with the other candidates,
how much of the question's vocabulary the title and abstract cover, and how many retrievers agree
on it. This module scores each of the top `pool` fused papers on those features (`FEATURES`) with
a linear model and reorders the top `depth` by the score; papers past `depth` keep their places.
The shipped model reorders the fused top 30 (`depth`; 10 until a tune set of 80 half-remembered
questions chose 30, docs/evaluation.md "A deeper rerank"). A model can also reorder every paper some
retriever ranks in its own top `signal_top`, and read `EXTRA_FEATURES`; the shipped one does neither
(tried and dropped: docs/evaluation.md).

The model is a listwise (conditional) logistic regression: per question, P(paper i is the gold
one) = softmax over the candidates of coef . (x_i - mean) / scale, fitted on the tune files with
the gold papers as positives (`scripts/fit_rerank.py`; `fit_listwise` below), and shipped per
paper-level embedder as `rag/rerank-mpnet.json` and `rag/rerank-gemma.json` (it needs the paper-level
vectors; the small profile has none and does not rerank). On by default (`Settings.rerank`; off in
the small profile): it lifted the blind set and the hard paraphrases of both halves, at one test
question moved from 4th to 5th (docs/evaluation.md). Refusal never sees the reorder:
`Retriever.retrieve` decides answerability from the fusion the answerability model was fitted on,
before this runs. `Source.score` stays the fused score, so after a reorder it need not
fall down the list.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from rag.model_file import load_model_file, save_model_file, standardized_score
from rag.models import Paper, PaperHit, Source
from rag.question.form import QuestionForm
from rag.selection import candidate_features, semantic_features

DEFAULT_RERANK_FILE = Path(__file__).with_name("rerank-mpnet.json")  # the default profile's


def default_rerank_file(paper_embedder: str) -> Path:
    """The shipped model for a paper-level embedder, `rerank-<embedder>.json` (its cosines are features),
    as `rag.selection.default_selection_file` and `rag.refusal_model.default_model_file` name theirs."""
    return DEFAULT_RERANK_FILE.with_name(f"rerank-{paper_embedder}.json")


SIGNAL_NAMES = ("dense", "bm25", "paper_dense", "feedback")  # the fused retrievers whose ranks are features
UNRANKED = 40  # the rank a retriever that did not propose a paper stands for (Settings.candidates' default)
FEATURES = (
    # how the fusion and each retriever stand on the paper
    "fused",
    "rank",
    "r_dense",  # log(1 + rank) in each retriever's ranking (UNRANKED when it did not rank it)
    "r_bm25",
    "r_paper_dense",
    "r_feedback",
    "agree3",  # how many of the four rank it in their top 3
    "agree1",  # ... first
    # what the fusion does not see (rag.selection computes them for the answer's per-paper decision)
    "sent_top",
    "sent_gap",
    "mp_cos",
    "mp_gap",
    "mp_cohesion",
    "coverage",
    "coverage_rel",
    "title_coverage",
)
# read when a model lists them (rerank_features computes them all): whether each retriever missed
# the paper, and the paper's rank by its best abstract sentence over the whole collection
EXTRA_FEATURES = (*(f"miss_{name}" for name in SIGNAL_NAMES), "r_sentence")
_SINGLE = QuestionForm(form="single")


class RerankModel(BaseModel):
    """score(paper) = coef . (x - mean) / scale; the top `depth` papers are put in score order."""

    model_config = ConfigDict(frozen=True)

    features: list[str]
    mean: list[float]
    scale: list[float]
    coef: list[float]
    depth: int = Field(10, ge=2, le=50, description="The top papers that are reordered; the rest keep their places.")
    pool: int = Field(15, ge=2, le=50, description="The top papers the relative features are computed over.")
    signal_top: int = Field(
        0, ge=0, le=40, description="Each retriever's own top this many papers join the reordered ones (0: none)."
    )
    fitted_on: str = ""
    notes: dict[str, float | int | str] = Field(default_factory=dict)

    def score(self, features: dict[str, float]) -> float:
        """A feature the candidate lacks reads as its mean: it adds nothing."""
        return standardized_score(features, self.features, self.mean, self.scale, self.coef)

    def order(self, rows: Sequence[dict[str, float]], head: int | None = None) -> list[int]:
        """Positions of the first `head` rows (default `depth`), best score first (ties keep the
        fused order), then the rest."""
        head = min(self.depth if head is None else head, len(rows))
        scores = [self.score(r) for r in rows[:head]]
        return sorted(range(head), key=lambda i: (-scores[i], i)) + list(range(head, len(rows)))

    def candidates(self, hits: Sequence[PaperHit]) -> tuple[list[int], int]:
        """(fused positions of the papers the features are read over, how many of them are reordered).

        The reordered ones are the fused top `depth` plus every paper some retriever ranks in its
        own top `signal_top` (a vague question's paper can be one retriever's pick and still sink in
        the fusion), in fused order; the features' pool is topped up with the next fused papers.
        """
        head = [
            i
            for i, h in enumerate(hits)
            if i < self.depth or any(h.ranks.get(name, UNRANKED) < self.signal_top for name in SIGNAL_NAMES)
        ]
        chosen = set(head)
        rest = [i for i in range(len(hits)) if i not in chosen][: max(0, self.pool - len(head))]
        return head + rest, len(head)

    def rerank(
        self, hits: Sequence[Any], rows: Sequence[dict[str, float]], positions: Sequence[int], head: int
    ) -> list[Any]:
        """`hits` with the `head` candidates at `positions` put first in score order, then the rest as fused."""
        order = self.order(rows, head)[:head]
        first = [positions[i] for i in order]
        taken = set(first)
        return [hits[i] for i in first] + [h for i, h in enumerate(hits) if i not in taken]

    @classmethod
    def load(cls, path: Path | str | None = None) -> RerankModel:
        return load_model_file(
            cls, path or DEFAULT_RERANK_FILE, "rerank model", "scripts/fit_rerank.py --write", "RAG_RERANK_MODEL"
        )

    def save(self, path: Path | str | None = None) -> None:
        save_model_file(self, path or DEFAULT_RERANK_FILE)


def signal_features(hit: PaperHit) -> dict[str, float]:
    """The paper's rank in each retriever, and how many agree on it near the top."""
    ranks = [hit.ranks.get(name, UNRANKED) for name in SIGNAL_NAMES]
    row = {f"r_{name}": math.log1p(r) for name, r in zip(SIGNAL_NAMES, ranks, strict=True)}
    row["agree3"] = float(sum(r < 3 for r in ranks))
    row["agree1"] = float(sum(r == 0 for r in ranks))
    row.update({f"miss_{name}": float(name not in hit.ranks) for name in SIGNAL_NAMES})
    return row


def rerank_features(
    papers: Sequence[Paper],
    hits: Sequence[PaperHit],
    terms: Sequence[str],
    idf: Callable[[str], float],
    tokenize: Callable[[str], list[str]],
    sims: Sequence[dict[int, float]],
    question_vector: np.ndarray | None,
    paper_vectors: Sequence[np.ndarray | None],
) -> list[dict[str, float]]:
    """Every feature of each candidate (papers and their PaperHits in fused order).

    The word, sentence and meaning features are `rag.selection`'s own (computed over these same
    candidates), so what the rerank reads is what the answer's planner reads.
    """
    sources = [
        Source(n=i + 1, paper=p, chunks=[], score=round(h.fused, 6))
        for i, (p, h) in enumerate(zip(papers, hits, strict=True))
    ]
    rows = candidate_features(_SINGLE, sources, hits, terms, idf, tokenize, sims, set())
    for row, extra, hit in zip(rows, semantic_features(question_vector, paper_vectors), hits, strict=True):
        row.update(extra)
        row.update(signal_features(hit))
    return rows


def fit_listwise(
    groups: Sequence[tuple[Sequence[dict[str, float]], Sequence[int]]],
    features: Sequence[str],
    l2: float = 1.0,
) -> tuple[list[float], list[float], list[float]]:
    """Standardise, then fit a listwise logistic model by damped Newton's method: (mean, scale, coef).

    Each group is one question's candidates (feature rows) and labels (1: a gold paper). The loss
    is -log P(the candidates picked are gold) with P a softmax over the group, plus l2/2 |coef|^2.
    A group with no gold or only gold carries no information about the order and is skipped.
    """
    x_all = np.array([[float(r.get(f, 0.0)) for f in features] for rows, _ in groups for r in rows], dtype=float)
    mu = x_all.mean(axis=0) if len(x_all) else np.zeros(len(features))
    sigma = x_all.std(axis=0) if len(x_all) else np.ones(len(features))
    sigma[sigma < 1e-9] = 1.0
    data = []
    for rows, labels in groups:
        y = np.asarray(labels, dtype=bool)
        if 0 < y.sum() < len(y):
            z = (np.array([[float(r.get(f, 0.0)) for f in features] for r in rows], dtype=float) - mu) / sigma
            data.append((z, y))
    d = len(features)

    def objective(w: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
        loss, grad, hess = 0.5 * l2 * float(w @ w), l2 * w.copy(), l2 * np.eye(d)
        for z, y in data:
            s = z @ w
            log_p = s - s.max() - math.log(float(np.exp(s - s.max()).sum()))
            p = np.exp(log_p)
            gold = log_p[y]
            top = gold.max()
            loss -= top + math.log(float(np.exp(gold - top).sum()))
            q = np.zeros(len(s))
            q[y] = np.exp(gold - top) / np.exp(gold - top).sum()
            ep, eq = z.T @ p, z.T @ q
            grad += ep - eq
            hess += (z.T * p) @ z - np.outer(ep, ep) - ((z.T * q) @ z - np.outer(eq, eq))
        return loss, grad, hess

    w = np.zeros(d)
    loss, grad, hess = objective(w)
    for _ in range(100):
        step = np.linalg.solve(hess + 1e-6 * np.eye(d), grad)
        t = 1.0
        while t > 1e-6:  # backtrack: the multi-gold groups make the loss non-convex
            trial = w - t * step
            new_loss, new_grad, new_hess = objective(trial)
            if new_loss < loss:
                break
            t /= 2
        else:
            break
        gain = loss - new_loss
        w, loss, grad, hess = trial, new_loss, new_grad, new_hess
        if gain < 1e-9:
            break
    return mu.tolist(), sigma.tolist(), w.tolist()


__all__ = [
    "DEFAULT_RERANK_FILE",
    "EXTRA_FEATURES",
    "FEATURES",
    "RerankModel",
    "default_rerank_file",
    "fit_listwise",
    "rerank_features",
    "signal_features",
]
