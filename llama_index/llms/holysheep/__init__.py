"""``from llama_index.llms.holysheep import HolySheep`` (re-exports llama_index_holysheep)."""

from llama_index_holysheep.llms import HolySheep

__all__ = ["HolySheep"]
