"""Reading, writing and scoring a shipped, fitted model file (answerability, selection, rerank).

All are small pydantic models fitted on the tune half by a script and shipped as JSON beside the
code, each recording what it was fitted on (`fitted_on`). They fail the same ways (the file was
never written, or it is some other JSON), so one loader says which file and which command writes it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel

M = TypeVar("M", bound=BaseModel)


def load_model_file(cls: type[M], path: Path | str, what: str, fit_command: str, variable: str = "") -> M:
    """`cls` validated from the JSON at `path`; a missing or foreign file is an error naming the file.

    `what` names the model in messages ("selection model"), `fit_command` is the command that writes
    it, `variable` the environment variable that points at another file (suggested when one is wrong).
    """
    path = Path(path)
    if "fitted_on" not in cls.model_fields:
        raise TypeError(f"{cls.__name__} is not a fitted model (it has no fitted_on field)")
    try:
        return cls.model_validate_json(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise RuntimeError(f"{what} {path} is missing; run {fit_command}") from exc
    except (ValueError, UnicodeDecodeError) as exc:  # not JSON, or not this model's fields: say which file
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        hint = f"point {variable} at a JSON written by {fit_command}, or unset it" if variable else f"run {fit_command}"
        raise ValueError(f"{what} {path} is not a model file ({first}); {hint}") from None


def save_model_file(model: BaseModel, path: Path | str) -> None:
    """Write a model as indented JSON (the shipped files are reviewed in diffs)."""
    Path(path).write_text(json.dumps(model.model_dump(mode="json"), indent=2) + "\n", encoding="utf-8")


def standardized_score(
    features: Mapping[str, float],
    names: Sequence[str],
    mean: Sequence[float],
    scale: Sequence[float],
    coef: Sequence[float],
    start: float = 0.0,
) -> float:
    """`start` + coef . (x - mean) / scale, where a feature the row lacks reads as its mean (adds nothing).

    The selection and rerank models score this way: a candidate without paper vectors (the small
    profile's index) simply gets no say from the meaning features.
    """
    z = start
    for name, mu, sigma, weight in zip(names, mean, scale, coef, strict=True):
        z += weight * (float(features.get(name, mu)) - mu) / sigma
    return z


__all__ = ["load_model_file", "save_model_file", "standardized_score"]
