"""Every eval set's figures in one JSON, to show that a refactoring changed no behaviour.

    PYTHONPATH=$PWD .venv/bin/python scripts/figures.py --out /tmp/figures.json
    PYTHONPATH=$PWD .venv/bin/python scripts/figures.py --check eval/figures_baseline.json
    PYTHONPATH=$PWD .venv/bin/python scripts/figures.py --skip drop_scare_quotes --compare eval/figures_baseline.json

Runs every question set of eval/ (conversations turn by turn) through the default pipeline
(extractive answers, default settings) and records each set's summary, by_type, by_style and
by_turn figures, and per question: the top-5 papers, refused and low-confidence flags, the
cited papers, the answerability probability, the searched text, the answer's digest, and the
retrieval's evidence and analysed query. Latencies are left out (they differ run to run);
everything else must come out identical. `--check FILE` exits 1 and names the first
differences when it does not. `--skip RULE` reads questions without that tidy rule
(rag.question.TIDY_RULES) and `--compare FILE` prints each set's summary figures that moved,
so a sweep can measure what each rule is worth.

Chroma's HNSW search is approximate and not repeatable here: two runs over the same store
rank a different 20th chunk for a few dozen of the ~1,000 questions, which moves
`dense_spread` and now and then a fifth paper. So this script asks an exact cosine search
over the same stored vectors (`ExactCollection`) instead: what it checks is our code, and its
figures can differ slightly from `rag eval`'s.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TIMING_KEYS = ("latency_ms_p50", "latency_ms_p95", "seconds")
# Evidence the shipped models never read and that a refactoring may drop.
IGNORED_EVIDENCE = frozenset({"landmark_named"})


class ExactCollection:
    """A Chroma collection whose `query` is an exact (brute-force) cosine search, ties by id."""

    def __init__(self, collection: Any) -> None:
        import numpy as np

        self.collection = collection
        stored = collection.get(include=["embeddings"])
        self.ids = list(stored["ids"])
        vectors = np.asarray(stored["embeddings"], dtype=np.float64)
        self.vectors = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)

    def query(self, query_embeddings: list[list[float]], n_results: int, include: list[str]) -> dict[str, Any]:
        import numpy as np

        vector = np.asarray(query_embeddings[0], dtype=np.float64)
        distances = 1.0 - self.vectors @ (vector / np.linalg.norm(vector))
        order = sorted(range(len(self.ids)), key=lambda i: (round(float(distances[i]), 12), self.ids[i]))[:n_results]
        return {"ids": [[self.ids[i] for i in order]], "distances": [[float(distances[i]) for i in order]]}

    def __getattr__(self, name: str) -> Any:
        return getattr(self.collection, name)


def _no_timings(figures: Any) -> Any:
    if isinstance(figures, dict):
        return {k: _no_timings(v) for k, v in figures.items() if k not in TIMING_KEYS and not k.endswith("_ms")}
    return figures


def _query_record(query: Any) -> dict[str, Any]:
    return {
        "text": query.text,
        "dense_text": query.dense_text,
        "lexical_text": query.lexical_text,
        "named": query.named,
        "named_in_abstract": query.named_in_abstract,
        "famous": query.famous,
        "asked_names": query.asked_names,
        "only_name": query.only_name,
        "asked_topic": query.asked_topic,
        "spelled": query.spelled,
    }


def figures(sets: list[Path], skip: frozenset[str] = frozenset()) -> dict[str, Any]:
    """Figures of every set, with one pipeline (the index is read once); `skip`: tidy rules left out."""
    from rag.evaluate.run import evaluate_system, load_questions
    from rag.pipeline import Pipeline
    from rag.question import QueryAnalyzer

    pipeline = Pipeline()
    retriever = pipeline.retriever
    if skip:
        speller = retriever.analyzer.speller
        retriever.analyzer = QueryAnalyzer(retriever.names, speller.known_names, speller.common_words, skip)
    retriever.collection = ExactCollection(retriever.collection)
    if retriever.paper_collection is not None:
        retriever.paper_collection = ExactCollection(retriever.paper_collection)
    seen: list[Any] = []
    original = retriever.retrieve

    def recording(*args: Any, **kwargs: Any) -> Any:
        retrieval = original(*args, **kwargs)
        if kwargs.get("rewrite", True):  # a follow-up's probe (its message searched alone) is not the search
            seen.append(retrieval)
        return retrieval

    retriever.retrieve = recording  # type: ignore[method-assign]
    out: dict[str, Any] = {}
    for path in sets:
        loaded = load_questions(path)
        result = evaluate_system(pipeline, loaded.questions, "ours", k=5, progress=False)
        rows = []
        # the eval searches once per question (the pipeline is handed that retrieval)
        assert len(seen) == len(result["questions"]), (path, len(seen), len(result["questions"]))
        for row, retrieval in zip(result["questions"], seen, strict=True):
            rows.append(
                {
                    "id": row["id"],
                    "top5": row["retrieved"][:5],
                    "refused": row["refused"],
                    "low_confidence": row["low_confidence"],
                    "cited": row["cited"],
                    "confidence": row["confidence"],
                    "standalone_question": row.get("standalone_question"),
                    "answer_sha1": hashlib.sha1((row["answer"] or "").encode("utf-8")).hexdigest(),
                    "verdict": retrieval.verdict,
                    "outside": retrieval.outside.title if retrieval.outside else None,
                    "evidence": {k: v for k, v in retrieval.evidence.items() if k not in IGNORED_EVIDENCE},
                    "query": _query_record(retrieval.query),
                }
            )
        seen.clear()
        out[path.name] = {
            **{key: _no_timings(result[key]) for key in ("summary", "by_type", "by_style", "by_turn") if key in result},
            "questions": rows,
        }
        print(f"{path.name}: {len(rows)} questions", file=sys.stderr)
    return out


def differences(old: Any, new: Any, where: str = "") -> list[str]:
    """Paths at which two figure records differ (floats compared exactly)."""
    if isinstance(old, dict) and isinstance(new, dict):
        found = [f"{where}/{k}: only in one" for k in sorted(set(old) ^ set(new))]
        for k in old:
            if k in new:
                found += differences(old[k], new[k], f"{where}/{k}")
        return found
    if isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        return [d for i, (a, b) in enumerate(zip(old, new, strict=True)) for d in differences(a, b, f"{where}[{i}]")]
    return [] if old == new else [f"{where}: {old!r} -> {new!r}"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, help="write the figures here")
    parser.add_argument("--check", type=Path, help="compare with this baseline; exit 1 on any difference")
    parser.add_argument("--skip", action="append", default=[], help="leave out this tidy rule (repeatable)")
    parser.add_argument("--compare", type=Path, help="print the summary figures that moved from this file")
    parser.add_argument("sets", nargs="*", type=Path, help="question files (default: every eval/*.jsonl)")
    args = parser.parse_args()
    sets = args.sets or sorted((ROOT / "eval").glob("*.jsonl"))
    result = json.loads(json.dumps(figures(sets, frozenset(args.skip))))  # as the file holds it: tuples become lists
    if args.out:
        args.out.write_text(json.dumps(result, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    if args.compare:
        old = json.loads(args.compare.read_text(encoding="utf-8"))
        for name, figs in result.items():
            moved = {
                k: f"{old[name]['summary'][k]} -> {v}"
                for k, v in figs["summary"].items()
                if name in old and old[name]["summary"].get(k) != v
            }
            print(f"{name}: {moved or 'no summary figure moved'}")
            changed = sum(
                a != b for a, b in zip(old.get(name, {}).get("questions", []), figs["questions"], strict=False)
            )
            print(f"  {changed} of {len(figs['questions'])} questions read, ranked or answered differently")
    if args.check:
        diff = differences(json.loads(args.check.read_text(encoding="utf-8")), result)
        for line in diff[:40]:
            print(line)
        print(f"{len(diff)} differences from {args.check}")
        return 1 if diff else 0
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
