"""Regenerate the shipped paper-level vectors of the seed papers (rag/paper-vectors-<kind>.npz).

    PYTHONPATH=$PWD .venv/bin/python scripts/ship_paper_vectors.py [--kind mpnet] [--seeds seeds]

Run it after the seeds, `rag.index.paper_text` or the model's graph change (the file is
stamped with the model digest, so stale vectors are ignored at ingest, never misused:
ingest then embeds the papers itself). Embeds every paper of the seeds afresh, in fp32.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> int:
    from rag.embeddings import EMBEDDERS

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kind", default="mpnet", choices=[k for k in EMBEDDERS if k != "minilm"])
    parser.add_argument("--seeds", type=Path, default=ROOT / "seeds")
    parser.add_argument("--cache-dir", type=Path, default=None, help="model cache (default: .cache/models if present)")
    parser.add_argument("--out", type=Path, default=None, help="default: rag/paper-vectors-<kind>.npz")
    args = parser.parse_args()

    from rag import paper_vectors
    from rag.corpus import load_corpus
    from rag.index import paper_text

    cache_dir = args.cache_dir
    if cache_dir is None:
        checkout_cache = ROOT / ".cache" / "models"
        if checkout_cache.is_dir():
            cache_dir = checkout_cache
        else:
            from rag.config import get_settings

            cache_dir = get_settings().model_cache_dir
    loaded = load_corpus(args.seeds)
    if loaded.errors:
        for error in loaded.errors:
            print(f"error: {error}", file=sys.stderr)
        return 1
    texts = list(dict.fromkeys(paper_text(p) for p in loaded.papers))
    embedder = EMBEDDERS[args.kind](cache_dir=cache_dir)
    started = time.perf_counter()
    import numpy as np

    vectors = np.zeros((len(texts), embedder.dim), dtype=np.float32)
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))  # similar lengths batch with little padding
    step = 32
    for start in range(0, len(order), step):
        rows = order[start : start + step]
        vectors[rows] = embedder.embed([texts[i] for i in rows])
        print(f"embedded {start + len(rows)}/{len(texts)}", file=sys.stderr, flush=True)
    out = args.out or ROOT / "rag" / paper_vectors.package_file(args.kind)
    paper_vectors.write(out, embedder.digest, texts, vectors)
    print(
        f"wrote {out.relative_to(ROOT) if out.is_relative_to(ROOT) else out}: {len(texts)} papers, "
        f"model {embedder.digest}, {out.stat().st_size / 1e6:.2f} MB, {time.perf_counter() - started:.0f} s"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
