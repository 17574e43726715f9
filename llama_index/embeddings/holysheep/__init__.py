"""``from llama_index.embeddings.holysheep import HolySheepEmbedding`` (re-exports
llama_index_holysheep)."""

from llama_index_holysheep.embeddings import HolySheepEmbedding

__all__ = ["HolySheepEmbedding"]
