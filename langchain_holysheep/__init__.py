"""LangChain integration for the HolySheep relay (filled in by the LangChain adapter)."""
