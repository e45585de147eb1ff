"""paperchat's retriever inside llama-index (rag/llama.py)."""

from __future__ import annotations


def test_llama_index_gets_our_ranking_as_nodes(pipeline):
    from rag.llama import PaperchatRetriever

    retriever = PaperchatRetriever(pipeline.retriever, k=3)
    nodes = retriever.retrieve("Which paper introduced pointer networks?")
    ours = pipeline.retriever.retrieve("Which paper introduced pointer networks?", 3)
    assert [n.node.node_id for n in nodes] == [s.paper.id for s in ours.sources]
    assert nodes[0].node.metadata["title"] == "Pointer Networks"
    assert nodes[0].score == ours.sources[0].score


def test_a_refused_question_gives_an_engine_nothing_to_answer_from(pipeline):
    from rag.llama import PaperchatRetriever

    question = "What is the boiling point of water on Mount Everest?"
    assert PaperchatRetriever(pipeline.retriever).retrieve(question) == []
    assert PaperchatRetriever(pipeline.retriever, keep_refused=True).retrieve(question)


def test_it_plugs_into_a_llama_index_query_engine(pipeline):
    from llama_index.core.llms import MockLLM
    from llama_index.core.query_engine import RetrieverQueryEngine

    from rag.llama import PaperchatRetriever

    engine = RetrieverQueryEngine.from_args(PaperchatRetriever(pipeline.retriever, k=2), llm=MockLLM(max_tokens=8))
    response = engine.query("Which paper introduced pointer networks?")
    assert response.source_nodes[0].node.metadata["title"] == "Pointer Networks"
