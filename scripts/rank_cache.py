"""Cache, once, what every ranking variant needs per question (scripts/rank_variants.py re-fuses it).

    RAG_DATA_DIR=data-mpnet PYTHONPATH=$PWD .venv/bin/python scripts/rank_cache.py out/rank_cache.pkl

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


def main(out: Path) -> None:
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
    got = sc.get(include=["embeddings", "metadatas", "documents"])
    sent_ids = list(got["ids"])
    sent_paper = [i.rsplit(":s", 1)[0] for i in sent_ids]
    sent_vecs = np.asarray(got["embeddings"], dtype=np.float32)
    sent_text = list(got["documents"] or [""] * len(sent_ids))
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
        "sent_text": sent_text,
        "rows": rows,
        "settings": settings.model_dump(mode="json", exclude={"auth", "llm_base_url", "api_keys"}),
    }
    with out.open("wb") as f:
        pickle.dump(data, f)


if __name__ == "__main__":
    main(Path(sys.argv[1]))
