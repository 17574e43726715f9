"""Conformance tests against a real OpenAI-compatible gateway (a LiteLLM proxy)."""
