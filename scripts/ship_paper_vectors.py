"""Regenerate the shipped vectors of the seed papers (rag/paper-vectors-<kind>.npz, rag/sentence-vectors-minilm.npz).

    PYTHONPATH=$PWD .venv/bin/python scripts/ship_paper_vectors.py [--kind mpnet] [--seeds seeds]
    PYTHONPATH=$PWD .venv/bin/python scripts/ship_paper_vectors.py --sentences

Run it after the seeds, `rag.index.paper_text`, the sentence splitter (`rag.text`) or the
model's graph change (each file is stamped with the model digest and keyed by the text
embedded, so stale vectors are ignored at ingest, never misused: ingest then embeds those
texts itself). Embeds every paper (or abstract sentence) of the seeds afresh, in fp32.
`--sentences` embeds the abstract sentences with the chunk embedder (MiniLM) in the very
batches a cold ingest uses, so the file holds the floats an ingest would compute.
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
    parser.add_argument(
        "--sentences", action="store_true", help="the abstract sentences (chunk embedder; --kind is ignored)"
    )
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
    if args.sentences:
        return ship_sentences(loaded.papers, cache_dir, args.out)
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


def ship_sentences(papers: list, cache_dir: Path | None, out: Path | None, kind: str = "minilm") -> int:
    """Embed every seed abstract sentence as a cold ingest does (`rag.sentences`) and write the file.

    `kind`: the embedder (`rag.embeddings.EMBEDDERS`); the shipped file is the chunk embedder's, "minilm".
    """
    import numpy as np

    from rag import paper_vectors
    from rag.config import Settings
    from rag.embeddings import EMBEDDERS
    from rag.sentences import embed_sentences, paper_sentences, papers_per_batch

    embedder = EMBEDDERS[kind](cache_dir=cache_dir)  # rag.embeddings.get_embedder's model, fp32
    step = papers_per_batch(Settings.model_construct())  # the defaults, whatever the environment says
    started = time.perf_counter()
    vectors: dict[str, np.ndarray] = {}
    total = sum(len(paper_sentences(p)) for p in papers)
    done = 0
    for start in range(0, len(papers), step):
        texts = [text for paper in papers[start : start + step] for _, _, text in paper_sentences(paper)]
        for text, vector in zip(texts, embed_sentences(embedder, texts), strict=True):
            vectors.setdefault(text, vector)  # a sentence in two abstracts: the first one's vector
        done += len(texts)
        print(f"embedded {done}/{total} sentences", file=sys.stderr, flush=True)
    out = out or ROOT / "rag" / paper_vectors.sentence_package_file(kind)
    paper_vectors.write(out, embedder.digest, list(vectors), np.array(list(vectors.values()), dtype=np.float32))
    print(
        f"wrote {out.relative_to(ROOT) if out.is_relative_to(ROOT) else out}: {len(vectors)} distinct sentences "
        f"of {len(papers)} papers ({total} in all), model {embedder.digest}, {out.stat().st_size / 1e6:.2f} MB, "
        f"{time.perf_counter() - started:.0f} s"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
