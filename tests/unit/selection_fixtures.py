"""Hand-made selection models and candidates shared by the set-cut and set-expansion tests."""

from __future__ import annotations

from rag.models import Paper, Source
from rag.selection import Candidate, SelectionModel


def flat_model(features: list[str] | None = None, coef: list[float] | None = None, **update: object) -> SelectionModel:
    """A model over `features` (default: rank alone, weight 0) with unit scaling; `update` sets other fields."""
    features = features or ["rank"]
    n = len(features)
    model = SelectionModel(features=features, mean=[0.0] * n, scale=[1.0] * n, coef=coef or [0.0] * n, intercept=0.0)
    return model.model_copy(update=update)


def candidates_with(probabilities: list[float]) -> list[Candidate]:
    """One candidate per probability, sources numbered from 1 in that order."""
    return [
        Candidate(
            Source(n=n, paper=Paper(id=f"p{n}", title=f"p{n}", abstract=""), chunks=[], score=1.0 / n),
            {},
            probability=p,
        )
        for n, p in enumerate(probabilities, 1)
    ]
