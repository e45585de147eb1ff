"""Side by side on the dev set: llama-index's default pipeline, BM25 alone, and ours.

    python bench/side_by_side.py [--data-dir DIR]

llama-index default = `VectorStoreIndex.from_vector_store` over the same Chroma collection,
the same MiniLM model wrapped as a llama-index `BaseEmbedding`, and `index.as_retriever()`
(a VectorIndexRetriever) with similarity_top_k raised from its default 2 to the 40 chunks our
retrievers see, so it can rank 10 papers. Its chunks are grouped by paper like ours.
Only retrieval is compared: a llama-index query engine needs an LLM, which is off here.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from common import ROOT, dev_questions, make_settings, save, stats_ms, table


def wrap_embedder(model: Any) -> Any:
    """Our ONNX MiniLM as a llama-index BaseEmbedding."""
    from llama_index.core.embeddings import BaseEmbedding
    from pydantic import PrivateAttr

    class MiniLMEmbedding(BaseEmbedding):
        _model: Any = PrivateAttr()

        def __init__(self, model: Any) -> None:
            super().__init__(model_name="all-MiniLM-L6-v2")
            self._model = model

        def _get_query_embedding(self, query: str) -> list[float]:
            return [float(x) for x in self._model.embed_query(query)]

        def _get_text_embedding(self, text: str) -> list[float]:
            return [float(x) for x in self._model.embed_query(text)]

        def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
            return [[float(x) for x in row] for row in self._model.embed(texts)]

        async def _aget_query_embedding(self, query: str) -> list[float]:
            return self._get_query_embedding(query)

    return MiniLMEmbedding(model)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=ROOT / "data")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    import os

    os.environ["RAG_DATA_DIR"] = str(args.data_dir)
    from rag.config import get_settings

    get_settings.cache_clear()
    settings = make_settings(args.data_dir)
    from llama_index.core import VectorStoreIndex
    from llama_index.vector_stores.chroma import ChromaVectorStore

    from rag import evaluate as ev
    from rag.embeddings import get_embedder
    from rag.index import ingest, open_collection
    from rag.search import Retriever

    ingest(settings=settings)
    retriever = Retriever(settings)
    index = VectorStoreIndex.from_vector_store(
        ChromaVectorStore(chroma_collection=open_collection(settings)), embed_model=wrap_embedder(get_embedder())
    )
    li_retriever = index.as_retriever(similarity_top_k=settings.candidates)
    n = settings.candidates

    def llama_index_default(q: str) -> list[str]:
        return ev.distinct_titles(node.node.metadata["title"] for node in li_retriever.retrieve(q))[:10]

    def bm25(q: str) -> list[str]:
        return ev.distinct_titles(retriever.chunks[p].paper.title for p, _ in retriever.lexical(q, n))[:10]

    def ours(q: str) -> list[str]:
        return [s.paper.title for s in retriever.retrieve(q, 10).sources]

    systems = {"llama-index default": llama_index_default, "bm25 alone": bm25, "ours": ours}
    questions = [q for q in dev_questions() if ev.is_answerable(q)]
    results: dict[str, Any] = {}
    for name, system in systems.items():
        for q in questions:  # warm-up
            system(q["question"])
        latencies, ranked = [], []
        for repeat in range(args.repeat):
            for q in questions:
                t0 = time.perf_counter()
                titles = system(q["question"])
                latencies.append((time.perf_counter() - t0) * 1e3)
                if repeat == 0:
                    ranked.append((titles, q["gold_titles"]))
        results[name] = {
            "hit@5": round(sum(ev.hit_at(t, g, 5) for t, g in ranked) / len(ranked), 3),
            "mrr@10": round(sum(ev.reciprocal_rank(t, g, 10) for t, g in ranked) / len(ranked), 3),
            "latency_ms": stats_ms(latencies),
        }
    base = results["ours"]
    rows = [
        [
            name,
            r["hit@5"],
            r["mrr@10"],
            r["latency_ms"]["p50"],
            r["latency_ms"]["p95"],
            f"{base['hit@5'] / r['hit@5']:.2f}x" if r["hit@5"] else "–",
            f"{base['mrr@10'] / r['mrr@10']:.2f}x" if r["mrr@10"] else "–",
            f"{base['latency_ms']['p50'] / r['latency_ms']['p50']:.2f}x",
        ]
        for name, r in results.items()
    ]
    print(f"{len(questions)} answerable dev questions, retrieval only, warm, x{args.repeat}\n")
    header = ["system", "hit@5", "mrr@10", "p50 ms", "p95 ms", "ours/this hit@5", "ours/this mrr", "ours/this p50"]
    print(table(header, rows))
    save("side_by_side", {"questions": len(questions), "systems": results})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
