"""Ingest benchmark: cold ingest of the seeds, no-op re-ingest, one changed paper.

    python bench/ingest.py

Each step runs in this process against a fresh temp data dir (embedded Chroma); the
ONNX model is built once into bench/results/models beforehand, so "cold" means a
fresh index, not a fresh model build (that one-off build is reported separately).
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from pathlib import Path

from common import ROOT, Timer, make_settings, peak_rss_mb, save, table, use_model_cache


def change_one_paper(seeds: Path) -> str:
    """Append a sentence to the first abstract of the first seed file; return its title."""
    path = sorted(seeds.glob("*.txt"))[0]
    lines = path.read_text(encoding="utf-8").split("\n")
    from rag.corpus import load_corpus

    first = load_corpus(seeds).papers[0]
    for i, line in enumerate(lines):
        if line == first.abstract:
            lines[i] = line + " We also report results on a new benchmark."
            path.write_text("\n".join(lines), encoding="utf-8")
            return first.title
    raise RuntimeError("could not find the first abstract to change")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.parse_args()
    use_model_cache()
    from rag.embeddings import get_embedder
    from rag.index import ingest

    with Timer() as model:
        get_embedder().embed(["warm up"])  # builds the ONNX graph on a first-ever run, else loads it
    rows, results = [], {}
    with tempfile.TemporaryDirectory(prefix="bench-ingest-") as tmp:
        seeds = Path(tmp) / "seeds"
        shutil.copytree(ROOT / "seeds", seeds)
        settings = make_settings(Path(tmp) / "data")
        steps = [("cold ingest", None), ("no-op re-ingest", None), ("one changed paper", change_one_paper)]
        for name, prepare in steps:
            if prepare:
                prepare(seeds)
            with Timer() as t:
                report = ingest(seeds_dir=seeds, settings=settings)
            embedded = report.added + report.updated
            results[name] = {
                "seconds": round(t.seconds, 3),
                "papers": report.papers,
                "embedded": embedded,
                "chunks_written": report.chunks_written,
                "papers_per_s": round(report.papers / t.seconds, 1),
                "peak_rss_mb": peak_rss_mb(),
            }
            rows.append(
                [name, f"{t.seconds:.2f}", report.papers, embedded, report.chunks_written,
                 f"{report.papers / t.seconds:.1f}", peak_rss_mb()]
            )  # fmt: skip
    print(f"model load (or first-ever ONNX build): {model.seconds:.2f} s\n")
    print(table(["step", "seconds", "papers", "embedded", "chunks", "papers/s", "peak RSS MB"], rows))
    save("ingest", {"model_load_s": round(model.seconds, 3), "steps": results})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
