"""LlamaIndex integration for the HolySheep relay (filled in by the LlamaIndex adapter)."""
