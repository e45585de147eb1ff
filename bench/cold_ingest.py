"""Cold ingest of the seeds with and without the abstract-sentence pass, interleaved.

    python bench/cold_ingest.py [--rounds 2] [--profiles default mpnet]

Variants, each a fresh process over a fresh temp data dir (embedded Chroma), the models
warmed up before the clock starts (loading them is the same for every variant):

- `chunks only`: the ingest before sentences existed (`rag.sentences.sync_sentence_vectors`
  replaced by a no-op);
- `sentences embedded`: every abstract sentence embedded at ingest (the package's
  `rag/sentence-vectors-minilm.npz` hidden);
- `sentences shipped`: today's ingest, the seed sentences stored from the package's file.

Per run: wall and CPU seconds (process_time: every thread of the process) of the whole
ingest and of the sentence step alone, the load average before and after. The variants
rotate order each round, so a load swing hits each alike. `sentences embedded` also checks
its freshly embedded vectors against the shipped file.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from common import ROOT, save, table

VARIANTS = ("chunks only", "sentences embedded", "sentences shipped")
MODELS = ROOT / ".cache" / "models"  # the checkout's built ONNX graphs: no rebuild per data dir


def one(variant: str, profile: str, data_dir: Path) -> dict[str, Any]:
    """Run one cold ingest in this process; return its figures."""
    from rag import paper_vectors, sentences
    from rag.config import Settings
    from rag.embeddings import get_embedder, get_paper_embedder
    from rag.index import ingest

    settings = Settings(data_dir=data_dir, seeds_dir=ROOT / "seeds", profile=profile)
    settings.model_cache_dir.parent.mkdir(parents=True, exist_ok=True)
    settings.model_cache_dir.symlink_to(MODELS, target_is_directory=True)
    get_embedder(settings).embed(["warm up"])
    paper = get_paper_embedder(settings)
    if paper is not None:
        paper.embed(["warm up"])

    real_sync = sentences.sync_sentence_vectors
    step: dict[str, Any] = {}

    def timed_sync(*args: Any, **kwargs: Any) -> Any:
        wall, cpu = time.perf_counter(), time.process_time()
        result = real_sync(*args, **kwargs) if variant != "chunks only" else sentences.SentenceSync()
        step.update(wall=time.perf_counter() - wall, cpu=time.process_time() - cpu, result=result)
        return result

    sentences.sync_sentence_vectors = timed_sync  # type: ignore[assignment]
    if variant == "sentences embedded":
        paper_vectors.shipped_sentences = lambda kind: None  # type: ignore[assignment]
    load_before = os.getloadavg()[0]
    wall, cpu = time.perf_counter(), time.process_time()
    report = ingest(settings=settings)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    out = {
        "variant": variant,
        "profile": profile,
        "wall_s": round(wall, 2),
        "cpu_s": round(cpu, 2),
        "sentence_wall_s": round(step["wall"], 2),
        "sentence_cpu_s": round(step["cpu"], 2),
        "load_before": round(load_before, 2),
        "load_after": round(os.getloadavg()[0], 2),
        "papers": report.papers,
        "chunks": report.chunks_written,
        "sentences_embedded": step["result"].sentences_embedded,
        "sentences_shipped": step["result"].sentences_shipped,
    }
    if variant == "sentences embedded":
        out["bit_identical_to_shipped"] = identical_to_shipped(settings)
    return out


def identical_to_shipped(settings: Any) -> str:
    """How close the freshly embedded, stored sentence vectors are to the package's file.

    Chroma's cosine index renormalises what it stores, so about a quarter of the stored rows
    differ from the model's output in the last bit; an ingest that stores the shipped vectors
    stores the very same floats as one that embeds them (compared store to store).
    """
    import numpy as np

    from rag import paper_vectors
    from rag.corpus import load_corpus
    from rag.embeddings import get_embedder
    from rag.sentences import SentenceIndex, paper_sentences

    shipped = paper_vectors.read(ROOT / "rag" / paper_vectors.sentence_package_file("minilm"))
    assert shipped is not None
    digest = get_embedder(settings).digest
    index = SentenceIndex.read(settings)
    same = total = 0
    worst = 0.0
    for paper in load_corpus(settings.seeds_dir).papers:
        vectors, _, _ = index.of(paper.id)
        for (_, _, text), vector in zip(paper_sentences(paper), vectors, strict=True):
            total += 1
            theirs = shipped.get(text, digest)
            same += bool(np.array_equal(theirs, vector))
            worst = max(worst, float(np.abs(theirs - vector).max()))
    return f"{same}/{total} bit-identical, max |difference| {worst:.1e}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--profiles", nargs="+", default=["default", "mpnet"])
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=VARIANTS)
    parser.add_argument("--one", nargs=3, metavar=("VARIANT", "PROFILE", "DATA_DIR"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(one(args.one[0], args.one[1], Path(args.one[2]))))
        return 0

    env = {**os.environ, "PYTHONPATH": str(ROOT), "ANONYMIZED_TELEMETRY": "False"}
    env = {k: v for k, v in env.items() if not k.startswith("RAG_")}
    runs: list[dict[str, Any]] = []
    for r in range(args.rounds):
        for profile in args.profiles:
            shift = r % len(args.variants)
            for variant in args.variants[shift:] + args.variants[:shift]:
                with tempfile.TemporaryDirectory(prefix="bench-cold-") as tmp:
                    cmd = [sys.executable, __file__, "--one", variant, profile, str(Path(tmp) / "data")]
                    out = subprocess.run(cmd, capture_output=True, text=True, env=env, check=True)
                    run = json.loads(out.stdout.strip().splitlines()[-1])
                    runs.append(run)
                    print(json.dumps(run), file=sys.stderr, flush=True)
    rows = [
        [r["profile"], r["variant"], r["wall_s"], r["cpu_s"], r["sentence_wall_s"], r["sentence_cpu_s"],
         f'{r["load_before"]}-{r["load_after"]}', r["sentences_embedded"], r["sentences_shipped"]]
        for r in runs
    ]  # fmt: skip
    print(table(["profile", "variant", "wall s", "CPU s", "sentences wall s", "sentences CPU s", "load",
                 "embedded", "shipped"], rows))  # fmt: skip
    save("cold_ingest", {"runs": runs})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
