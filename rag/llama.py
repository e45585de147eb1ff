"""paperchat's retrieval as a llama-index `BaseRetriever`, for llama-index query and chat engines.

    from rag.llama import PaperchatRetriever
    engine = RetrieverQueryEngine.from_args(PaperchatRetriever(), llm=your_llm)

Each node is one retrieved paper (its title and whole abstract, id = paper id) scored by our
fused score, so an engine sees the same ranking `rag ask` does. A question the
answerability model refuses returns no nodes: the engine then has nothing to answer from,
which is what paperchat itself would say. Imports llama-index only here, on use.
"""

from __future__ import annotations

from typing import Any

from llama_index.core.retrievers import BaseRetriever
from llama_index.core.schema import NodeWithScore, QueryBundle, TextNode

from rag.search import Retriever


class PaperchatRetriever(BaseRetriever):
    """Hybrid retrieval + answerability over the ingested papers, as llama-index nodes."""

    def __init__(self, retriever: Retriever | None = None, k: int = 5, keep_refused: bool = False, **kwargs: Any):
        super().__init__(**kwargs)
        self._paperchat = retriever or Retriever()
        self._k = k
        self._keep_refused = keep_refused  # True: the ranked papers even when the question looks off-corpus

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        retrieval = self._paperchat.retrieve(query_bundle.query_str, self._k)
        if not retrieval.answerable and not self._keep_refused:
            return []
        return [
            NodeWithScore(
                node=TextNode(
                    id_=source.paper.id,
                    text=f"{source.paper.title}\n{source.paper.abstract}",
                    metadata={"title": source.paper.title, "paper_id": source.paper.id, "n": source.n},
                    excluded_embed_metadata_keys=["paper_id", "n"],
                    excluded_llm_metadata_keys=["paper_id", "n"],
                ),
                score=source.score,
            )
            for source in retrieval.sources
        ]
