"""LangChain integration for the HolySheep relay: ``ChatHolySheep``, ``HolySheepEmbeddings``.

>>> from langchain_holysheep import ChatHolySheep
>>> llm = ChatHolySheep(model="gpt-4.1", api_key="hs_example_key_0123456789")
>>> llm.model
'gpt-4.1'

Classes are imported lazily (on first attribute access) so that ``import
langchain_holysheep`` stays cheap; the typed errors are the relay core's own classes.
Without langchain-core, that first access raises ``ModuleNotFoundError`` saying to
``pip install 'holysheep-integrations[langchain]'``.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from holysheep_relay import __version__
from holysheep_relay._extras import missing_extra

if TYPE_CHECKING:
    from .callbacks import HolySheepCallbackHandler, get_holysheep_callback
    from .chat_models import ChatHolySheep
    from .embeddings import HolySheepEmbeddings
    from .errors import (
        APIStatusError,
        AuthenticationError,
        BadRequestError,
        BudgetExceededError,
        ConfigurationError,
        ContextLengthExceededError,
        InvalidInputError,
        ModelNotFoundError,
        PermissionDeniedError,
        ProtocolError,
        RateLimitError,
        RelayConnectionError,
        RelayError,
        RelayTimeoutError,
        ServerError,
        StoreUnavailableError,
        StreamInterruptedError,
    )

_EXPORTS = {
    "ChatHolySheep": "chat_models",
    "HolySheepEmbeddings": "embeddings",
    "HolySheepCallbackHandler": "callbacks",
    "get_holysheep_callback": "callbacks",
    **{
        name: "errors"
        for name in (
            "APIStatusError",
            "AuthenticationError",
            "BadRequestError",
            "BudgetExceededError",
            "ConfigurationError",
            "ContextLengthExceededError",
            "InvalidInputError",
            "ModelNotFoundError",
            "PermissionDeniedError",
            "ProtocolError",
            "RateLimitError",
            "RelayConnectionError",
            "RelayError",
            "RelayTimeoutError",
            "ServerError",
            "StoreUnavailableError",
            "StreamInterruptedError",
        )
    },
}

__all__ = [
    "APIStatusError",
    "AuthenticationError",
    "BadRequestError",
    "BudgetExceededError",
    "ChatHolySheep",
    "ConfigurationError",
    "ContextLengthExceededError",
    "HolySheepCallbackHandler",
    "HolySheepEmbeddings",
    "InvalidInputError",
    "ModelNotFoundError",
    "PermissionDeniedError",
    "ProtocolError",
    "RateLimitError",
    "RelayConnectionError",
    "RelayError",
    "RelayTimeoutError",
    "ServerError",
    "StoreUnavailableError",
    "StreamInterruptedError",
    "__version__",
    "get_holysheep_callback",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'langchain_holysheep' has no attribute {name!r}")
    try:
        imported = import_module(f".{module}", __name__)
    except ModuleNotFoundError as exc:
        clear = missing_extra(
            exc,
            integration="langchain_holysheep",
            module="langchain_core",
            package="langchain-core",
            extra="langchain",
        )
        if clear is None:
            raise
        raise clear from exc
    value = getattr(imported, name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
