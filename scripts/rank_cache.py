"""Cache, once, what every ranking variant needs per question (scripts/rank_variants.py re-fuses it).

    RAG_DATA_DIR=data-mpnet PYTHONPATH=$PWD .venv/bin/python scripts/rank_cache.py out/rank_cache.pkl
    RAG_DATA_DIR=data-mpnet PYTHONPATH=$PWD .venv/bin/python scripts/rank_cache.py out/rank_cache.pkl \
        --mpnet-sentences out/sent_mpnet.npy   # also embed every abstract sentence with mpnet (minutes)

Per question of each set: the read query (named papers, only_name), the three production
rankings (chunk dense, BM25, paper-level mpnet; n as `Retriever.retrieve` asks), the
MiniLM and mpnet query vectors; once: the chunk, paper (mpnet) and sentence (MiniLM)
vectors of the index, so variants can score any paper without a new search.
"""

from __future__ import annotations

import pickle
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rag.config import Settings  # noqa: E402
from rag.search import Retriever  # noqa: E402
from rag.sentences import open_sentence_collection  # noqa: E402

SETS = ["questions_tune", "questions_test", "dev_questions", "questions_blind", "questions_fresh"]


def embed_sentences_mpnet(settings: Settings, r: Retriever, sent_ids: list[str], out: Path) -> None:
    """mpnet vectors of every abstract sentence, in `sent_ids` order (ids `{paper_id}:s{n}`), with the time taken."""
    from rag.sentences import paper_sentences

    cut = {pid: paper_sentences(p) for pid, p in r.papers.items()}
    texts = [cut[sid.rsplit(":s", 1)[0]][int(sid.rsplit(":s", 1)[1])][2] for sid in sent_ids]
    wall, cpu = time.time(), time.process_time()
    vectors = r.paper_embedder.embed(texts)
    print(f"{len(texts)} sentences: {time.time() - wall:.0f} s wall, {time.process_time() - cpu:.0f} s CPU", flush=True)
    np.save(out, np.asarray(vectors, dtype=np.float32))


def main(out: Path, sentences_out: Path | None = None) -> None:
    import json

    settings = Settings(profile="mpnet")
    r = Retriever(settings)
    n = max(settings.candidates, 4 * settings.top_k)
    got = r.collection.get(include=["embeddings"])
    chunk_vecs = np.zeros((len(r.chunks), len(got["embeddings"][0])), dtype=np.float32)
    for cid, v in zip(got["ids"], got["embeddings"], strict=True):
        if cid in r.position:
            chunk_vecs[r.position[cid]] = v
    got = r.paper_collection.get(include=["embeddings"])
    paper_ids = list(got["ids"])
    paper_vecs = np.asarray(got["embeddings"], dtype=np.float32)
    sc = open_sentence_collection(settings)
    got = sc.get(include=["embeddings"])
    sent_ids = list(got["ids"])
    sent_paper = [i.rsplit(":s", 1)[0] for i in sent_ids]
    sent_vecs = np.asarray(got["embeddings"], dtype=np.float32)
    rows: dict[str, list[dict]] = {}
    for name in SETS:
        qs = [json.loads(x) for x in (ROOT / "eval" / f"{name}.jsonl").read_text().splitlines() if x.strip()]
        rows[name] = []
        t = time.time()
        for q in qs:
            query = r.analyze(q["question"])
            rankings, _ = r.rankings(query, n)
            rows[name].append(
                {
                    "q": q,
                    "query": query,
                    "rankings": rankings,
                    "v_mini": r.query_vector(query.dense_text),
                    "v_mpnet": r.paper_embedder.embed_query(query.dense_text),
                }
            )
        print(name, len(qs), f"{time.time() - t:.0f}s", flush=True)
    data = {
        "paper_of": r.paper_of,
        "first_chunk": r.first_chunk,
        "titles": {pid: p.title for pid, p in r.papers.items()},
        "chunk_vecs": chunk_vecs,
        "paper_ids": paper_ids,
        "paper_vecs": paper_vecs,
        "sent_ids": sent_ids,
        "sent_paper": sent_paper,
        "sent_vecs": sent_vecs,
        "rows": rows,
        "settings": settings.model_dump(mode="json", exclude={"auth", "llm_base_url", "api_keys"}),
    }
    with out.open("wb") as f:
        pickle.dump(data, f)
    if sentences_out is not None:
        embed_sentences_mpnet(settings, r, sent_ids, sentences_out)


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--mpnet-sentences", type=Path, default=None)
    args = parser.parse_args()
    main(args.out, args.mpnet_sentences)
