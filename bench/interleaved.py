"""Two or more code trees timed on one index, question by question in turn (before/after a change).

    git archive <before-commit> | tar -x -C /tmp/before && ln -s $PWD/.venv /tmp/before/.venv
    python bench/interleaved.py --data DIR before=/tmp/before after=.        # retrieval
    python bench/interleaved.py --data DIR --ask before=/tmp/before after=.  # extractive ask

Each tree serves in its own process (so each imports its own `rag`); the driver sends every dev
question to each in turn, alternating which goes first, so load on a shared machine falls on all
alike. Children report wall and process CPU ms per question. The first pass (each question's
first time: query vectors not yet cached) is reported apart from the `--rounds` warm passes.
Results that differ between trees are counted and printed (Chroma's HNSW can move a probability
in the 4th decimal between processes: run a tree twice, `after=. again=.`, to see that noise).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from common import dev_questions, percentile, save

CHILD = r"""
import json, sys, time
root, data, mode = sys.argv[1:4]
sys.path[:0] = [root, root + "/bench"]
from pathlib import Path
from common import make_settings
started = time.perf_counter()
if mode == "ask":
    from rag.pipeline import Pipeline
    pipeline = Pipeline(make_settings(Path(data)))
else:
    from rag.search import Retriever
    retriever = Retriever(make_settings(Path(data)))
print(json.dumps({"ready_s": time.perf_counter() - started}), flush=True)
for line in sys.stdin:
    question = json.loads(line)
    t0, c0 = time.perf_counter(), time.process_time()
    if mode == "ask":
        answer = pipeline.ask(question, mode="extractive")
        out = {"result": answer.text}
    else:
        got = retriever.retrieve(question, 10)
        out = {"result": [[s.paper.id for s in got.sources], got.verdict, got.probability], "parts": got.timings}
    out.update(wall=(time.perf_counter() - t0) * 1e3, cpu=(time.process_time() - c0) * 1e3)
    print(json.dumps(out), flush=True)
"""


class Tree:
    """One code tree serving questions in a child process."""

    def __init__(self, name: str, root: Path, data: Path, mode: str) -> None:
        self.name = name
        python = root / ".venv" / "bin" / "python"
        env = {**os.environ, "PYTHONPATH": str(root), "ANONYMIZED_TELEMETRY": "False", "HF_HUB_OFFLINE": "1"}
        self.proc = subprocess.Popen(
            [str(python if python.exists() else sys.executable), "-c", CHILD, str(root), str(data), mode],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
            cwd=root,
        )
        self.ready_s = self.read()["ready_s"]

    def read(self) -> dict[str, Any]:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"{self.name} stopped (see its stderr above)")
        return json.loads(line)

    def ask(self, question: str) -> dict[str, Any]:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(question) + "\n")
        self.proc.stdin.flush()
        return self.read()

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        self.proc.wait()


def summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    wall, cpu = [r["wall"] for r in rows], [r["cpu"] for r in rows]
    out: dict[str, Any] = {"n": len(rows)}
    for label, values in (("wall", wall), ("cpu", cpu)):
        for p in (50, 95):
            out[f"{label}_p{p}"] = round(percentile(values, p), 2)
    if rows and "parts" in rows[0]:
        out["parts_p50"] = {k: round(percentile([r["parts"][k] for r in rows], 50), 2) for k in rows[0]["parts"]}
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="a data dir holding an ingested index")
    parser.add_argument("--ask", action="store_true", help="time extractive asks instead of retrievals")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("trees", nargs="+", help="NAME=PATH of each code tree")
    args = parser.parse_args()
    mode = "ask" if args.ask else "retrieve"
    trees = [Tree(n, Path(p).resolve(), args.data.resolve(), mode) for n, p in (t.split("=", 1) for t in args.trees)]
    questions = [q["question"] for q in dev_questions()]
    first: dict[str, list[dict[str, Any]]] = {t.name: [] for t in trees}
    warm: dict[str, list[dict[str, Any]]] = {t.name: [] for t in trees}
    loads, differing = [os.getloadavg()[0]], 0
    for round_ in range(args.rounds + 1):
        for i, question in enumerate(questions):
            order = trees if (i + round_) % 2 == 0 else trees[::-1]
            got = {t.name: t.ask(question) for t in order}
            for name, row in got.items():
                (first if round_ == 0 else warm)[name].append(row)
            if len({json.dumps(row["result"]) for row in got.values()}) > 1:
                differing += 1
                results = json.dumps({n: r["result"] for n, r in got.items()})
                print(f"differs: {question!r}: {results}", file=sys.stderr)
        loads.append(os.getloadavg()[0])
    for tree in trees:
        tree.close()
    result = {
        "mode": mode,
        "data": str(args.data),
        "load_1min": [round(x, 2) for x in loads],
        "differing_results": differing,
        "trees": {
            t.name: {"ready_s": round(t.ready_s, 2), "first": summary(first[t.name]), "warm": summary(warm[t.name])}
            for t in trees
        },
    }
    print(json.dumps(result, indent=1))
    save(f"interleaved-{mode}", result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
