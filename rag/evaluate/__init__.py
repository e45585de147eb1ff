"""Evaluation over question sets (`rag eval QUESTIONS.jsonl --out DIR`), one module per job.

- `metrics`: pure metric functions and their aggregation;
- `run`: asking the questions through the pipeline or a baseline, scoring each row;
- `report`: report.json (a typed `EvalReport`, with the settings it ran with), .md and .html.
"""

from rag.evaluate.metrics import *  # noqa: F403
from rag.evaluate.metrics import __all__ as _metrics
from rag.evaluate.report import *  # noqa: F403
from rag.evaluate.report import __all__ as _report
from rag.evaluate.run import *  # noqa: F403
from rag.evaluate.run import __all__ as _run

__all__ = [*_metrics, *_report, *_run]
