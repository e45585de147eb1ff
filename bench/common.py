"""Shared bench helpers: temp data dirs with a shared model cache, timing stats, tables, JSON results.

The scripts in bench/ put this directory on sys.path by being run as `python bench/<name>.py`.
"""

from __future__ import annotations

import json
import os
import platform
import resource
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
DEV_QUESTIONS = ROOT / "eval" / "dev_questions.jsonl"
MODEL_CACHE = RESULTS / "models"  # the ONNX graph is built once and shared by every bench data dir

os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(ROOT))


def make_settings(data_dir: Path, **overrides: Any) -> Any:
    """Settings over `data_dir` whose model cache points at the shared one (no rebuild per run)."""
    from rag.config import Settings

    settings = Settings(data_dir=data_dir, seeds_dir=ROOT / "seeds", **overrides)
    MODEL_CACHE.mkdir(parents=True, exist_ok=True)
    target = settings.model_cache_dir
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        target.symlink_to(MODEL_CACHE, target_is_directory=True)
    return settings


def use_model_cache() -> None:
    """Point the process-wide embedder (rag.embeddings.get_embedder) at the shared model cache."""
    os.environ["RAG_DATA_DIR"] = str(RESULTS / "embedder-home")
    make_settings(RESULTS / "embedder-home")
    from rag.config import get_settings

    get_settings.cache_clear()


def dev_questions() -> list[dict[str, Any]]:
    return [json.loads(line) for line in DEV_QUESTIONS.read_text().splitlines() if line.strip()]


def percentile(values: Sequence[float], p: float) -> float:
    from rag.evaluate import percentile as pct

    return float(pct(values, p) or 0.0)


def stats_ms(values: Sequence[float]) -> dict[str, float]:
    return {
        "n": len(values),
        "p50": round(percentile(values, 50), 2),
        "p95": round(percentile(values, 95), 2),
        "p99": round(percentile(values, 99), 2),
        "mean": round(sum(values) / max(1, len(values)), 2),
    }


def peak_rss_mb() -> float:
    """Peak resident set of this process (Linux reports KiB)."""
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def cpu_model() -> str:
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=10).stdout
        for line in out.splitlines():
            if line.startswith("Model name:"):
                return line.split(":", 1)[1].strip()
    except (OSError, subprocess.SubprocessError):
        pass
    return platform.processor() or "unknown"


def machine() -> dict[str, Any]:
    return {"cpu": cpu_model(), "cores": os.cpu_count(), "python": platform.python_version()}


def table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A Markdown table (also readable on a terminal)."""
    cells = [[str(c) for c in header], *[[str(c) for c in row] for row in rows]]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    lines = ["| " + " | ".join(c.ljust(w) for c, w in zip(cells[0], widths, strict=True)) + " |"]
    lines.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    lines += ["| " + " | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) + " |" for r in cells[1:]]
    return "\n".join(lines)


def save(name: str, data: dict[str, Any]) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    payload = {"bench": name, "when": time.strftime("%Y-%m-%dT%H:%M:%S"), "machine": machine(), **data}
    path.write_text(json.dumps(payload, indent=2))
    print(f"\nresults: {path.relative_to(ROOT)}")
    return path


class Timer:
    def __enter__(self) -> Timer:
        self.start = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = time.perf_counter() - self.start
