"""Embeddings and retrieval: HolySheepEmbeddings in LangChain, HolySheepEmbedding in LlamaIndex.

python examples/embeddings_retrieval.py
"""

from __future__ import annotations

import math

from _relay import relay

DOCS = [
    "Merino sheep are famous for their fine wool.",
    "The relay streams tokens with server-sent events.",
    "Border collies help farmers herd sheep.",
]
QUERY = "Which breed gives fine wool?"


def cosine(a: list[float], b: list[float]) -> float:
    dot = sum(x * y for x, y in zip(a, b, strict=True))
    return dot / (math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b)))


def main() -> None:
    from llama_index.core import Document, VectorStoreIndex

    from langchain_holysheep import HolySheepEmbeddings
    from llama_index_holysheep import HolySheepEmbedding

    with relay("embeddings_retrieval"):
        lc = HolySheepEmbeddings(model="text-embedding-3-small", dimensions=64, chunk_size=2)
        vectors = lc.embed_documents(DOCS)  # two requests of at most 2 texts, order kept
        query = lc.embed_query(QUERY)
        best = max(range(len(DOCS)), key=lambda i: cosine(vectors[i], query))
        print(
            f"  LangChain: {len(vectors)} vectors of {len(vectors[0])} dims; best: {DOCS[best]!r}"
        )
        assert best == 0

        embed = HolySheepEmbedding(model="text-embedding-3-small", dimensions=64)
        index = VectorStoreIndex.from_documents([Document(text=d) for d in DOCS], embed_model=embed)
        hits = index.as_retriever(similarity_top_k=1).retrieve(QUERY)
        print(f"  LlamaIndex retriever: {hits[0].node.get_content()!r} (score {hits[0].score:.2f})")
        assert hits[0].node.get_content() == DOCS[0]


if __name__ == "__main__":
    main()
