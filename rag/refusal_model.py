"""Is the question answerable from the papers? A logistic model over retrieval evidence.

No single score separates off-corpus questions from answerable ones (a paraphrase can
have a low cosine; a famous method near the corpus's topics a high one), and rules on
one surface cue (a capitalised word no abstract contains) refuse real questions. So the
decision is a small logistic regression over several retrieval features (the evidence of
rag.refusal, whose `FEATURES` names them; `rag.refusal.load_model` checks a model file
against that list), fitted on the tune half, `eval/questions_tune.jsonl`, by `scripts/tune.py --write`, which writes
`rag/answerability.json` (features, standardisation, coefficients, thresholds). Three
outcomes: answer; answer marked low-confidence (the best papers are still shown); refuse.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from rag.model_file import load_model_file, save_model_file

Verdict = Literal["answer", "low_confidence", "refuse"]
DEFAULT_MODEL_FILE = Path(__file__).with_name("answerability.json")
log = logging.getLogger(__name__)


def default_model_file(paper_embedder: str = "none") -> Path:
    """The shipped model for a retrieval setup: the evidence differs with a paper-level embedder."""
    if paper_embedder == "none":
        return DEFAULT_MODEL_FILE
    return DEFAULT_MODEL_FILE.with_name(f"answerability-{paper_embedder}.json")


class FitRecord(BaseModel):
    """What a model was fitted with: the evidence (and so the coefficients) depends on all of it.

    `settings` holds `Settings` fields by name (fusion weights and temperatures, the name bonus,
    query handling, chunking, candidates, int8), so a live value can be compared with it.
    """

    model_config = ConfigDict(frozen=True)

    questions: str = Field(description="The question file the fit used.")
    n_questions: int = Field(ge=0)
    embedder: str = Field(description="The chunk embedder's name (with +int8 when quantised).")
    paper_embedder: str = Field("none", description="The paper-level embedder (`Settings.paper_embedder`).")
    settings: dict[str, float | int | bool | str] = Field(default_factory=dict)

    def differences(self, settings: Any, embedder: str | None = None) -> list[tuple[str, Any, Any]]:
        """(setting, fitted value, live value) for every setting that differs from the fit."""
        out: list[tuple[str, Any, Any]] = []
        if embedder is not None and embedder != self.embedder:
            out.append(("embedder", self.embedder, embedder))
        if settings.paper_embedder != self.paper_embedder:
            out.append(("paper_embedder", self.paper_embedder, settings.paper_embedder))
        for name, fitted in self.settings.items():
            if name.startswith("paper_dense") and "none" in (self.paper_embedder, settings.paper_embedder):
                continue  # no paper-level signal on one side: its weight and temperature play no part
            live = getattr(settings, name, None)
            if live is None or live == fitted:
                continue
            if isinstance(fitted, float) and not isinstance(live, bool) and math.isclose(fitted, float(live)):
                continue
            out.append((name, fitted, live))
        return out


_warned: set[str] = set()


def warn_if_fitted_otherwise(model: AnswerabilityModel, settings: Any, embedder: str | None = None) -> list[str]:
    """Log (once per process and message) each live setting that differs from the model's fit.

    The coefficients and thresholds were fitted on evidence computed with those settings; with
    others the probabilities drift, so refusals get worse without any error. Returns the messages.
    """
    if not isinstance(model.fitted_on, FitRecord):
        return []
    messages = []
    for name, fitted, live in model.fitted_on.differences(settings, embedder):
        variable = "the chunk embedder" if name == "embedder" else f"RAG_{name.upper()}"
        messages.append(
            f"the answerability model was fitted with {variable}={fitted}, this run has {live}: "
            "refusals may be off (pick the matching RAG_PROFILE, or refit: scripts/tune.py --no-search --write)"
        )
    for message in messages:
        if message not in _warned:
            _warned.add(message)
            log.warning(message)
    return messages


class AnswerabilityModel(BaseModel):
    """P(answerable | features) = sigmoid(intercept + coef . (x - mean) / scale)."""

    model_config = ConfigDict(frozen=True)

    features: list[str] = Field(description="Evidence keys, in coefficient order.")
    mean: list[float]
    scale: list[float]
    coef: list[float]
    intercept: float
    answer_threshold: float = Field(ge=0, le=1, description="At or above: answer.")
    low_threshold: float = Field(ge=0, le=1, description="At or above (below answer_threshold): low-confidence answer.")
    fitted_on: FitRecord | str = Field("", description="The question file and retrieval settings the fit used.")
    notes: dict[str, float | int | str] = Field(default_factory=dict, description="Fit figures, for the record.")

    @model_validator(mode="after")
    def _consistent(self) -> AnswerabilityModel:
        n = len(self.features)
        if not (len(self.mean) == len(self.scale) == len(self.coef) == n):
            raise ValueError("features, mean, scale and coef must have the same length")
        if self.low_threshold > self.answer_threshold:
            raise ValueError("low_threshold must not exceed answer_threshold")
        if any(s <= 0 for s in self.scale):
            raise ValueError("every scale must be positive")
        return self

    def probability(self, evidence: dict[str, float]) -> float:
        z = self.intercept
        for name, mu, sigma, weight in zip(self.features, self.mean, self.scale, self.coef, strict=True):
            z += weight * (float(evidence.get(name, 0.0)) - mu) / sigma
        return 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, z))))

    def verdict(self, probability: float) -> Verdict:
        if probability >= self.answer_threshold:
            return "answer"
        if probability >= self.low_threshold:
            return "low_confidence"
        return "refuse"

    @classmethod
    def load(cls, path: Path | str | None = None) -> AnswerabilityModel:
        return load_model_file(
            cls, path or DEFAULT_MODEL_FILE, "answerability model", "scripts/tune.py --write", "RAG_ANSWERABILITY_MODEL"
        )

    def save(self, path: Path | str | None = None) -> None:
        save_model_file(self, path or DEFAULT_MODEL_FILE)


def fit_logistic(
    rows: Sequence[dict[str, float]], labels: Sequence[int], features: Sequence[str], l2: float = 1.0
) -> tuple[list[float], list[float], list[float], float]:
    """Standardise, then L2-regularised logistic regression by Newton's method.

    Returns (mean, scale, coef, intercept). Small data (a few hundred questions), so the
    exact Newton step is cheap and needs no learning rate.
    """
    x = np.array([[float(r.get(f, 0.0)) for f in features] for r in rows], dtype=float)
    y = np.array(labels, dtype=float)
    mu = x.mean(axis=0)
    sigma = x.std(axis=0)
    sigma[sigma < 1e-9] = 1.0
    z = np.hstack([np.ones((len(x), 1)), (x - mu) / sigma])
    w = np.zeros(z.shape[1])
    penalty = np.eye(z.shape[1]) * l2
    penalty[0, 0] = 0.0  # the intercept is not shrunk
    for _ in range(100):
        p = 1.0 / (1.0 + np.exp(-np.clip(z @ w, -50, 50)))
        gradient = z.T @ (p - y) + penalty @ w
        hessian = (z * (p * (1 - p))[:, None]).T @ z + penalty
        step = np.linalg.solve(hessian, gradient)
        w -= step
        if np.abs(step).max() < 1e-8:
            break
    return mu.tolist(), sigma.tolist(), w[1:].tolist(), float(w[0])
