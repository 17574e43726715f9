"""The relay core's typed errors, raised by ChatHolySheep / HolySheepEmbeddings as well.

Every error the adapter raises is an instance of the core class of the same name (catch
``langchain_holysheep.RateLimitError`` or ``holysheep_relay.RateLimitError``, they are the
same class) and, where LangChain has a matching class, also of that class, so generic
LangChain code that catches ``langchain_core.exceptions.ModelRateLimitError`` or
``ContextOverflowError`` works too (the langchain-openai pattern)::

    RelayError
    ├── ConfigurationError, InvalidInputError      (ValueError; raised before any I/O)
    ├── APIStatusError
    │   ├── BadRequestError                      + ModelInvalidRequestError
    │   │   └── ContextLengthExceededError       + ContextOverflowError
    │   ├── AuthenticationError                  + ModelAuthenticationError
    │   ├── PermissionDeniedError                + ModelPermissionDeniedError
    │   ├── ModelNotFoundError                   + langchain ModelNotFoundError
    │   ├── RateLimitError                       + ModelRateLimitError
    │   └── ServerError                          + ModelAPIError
    ├── BudgetExceededError, StoreUnavailableError (a SpendBudget / Redis refused; not sent)
    ├── RelayTimeoutError                        + ModelTimeoutError
    ├── RelayConnectionError                     + ModelConnectionError
    │   └── StreamInterruptedError               + ModelConnectionError
    └── ProtocolError                            + ModelAPIError
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from langchain_core import exceptions as lc

from holysheep_relay.errors import (
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

__all__ = [
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
    "langchain_errors",
    "with_langchain_parent",
]

_LANGCHAIN_PARENT: dict[type[RelayError], type[lc.ModelError]] = {
    APIStatusError: lc.ModelError,
    BadRequestError: lc.ModelInvalidRequestError,
    ContextLengthExceededError: lc.ContextOverflowError,
    AuthenticationError: lc.ModelAuthenticationError,
    PermissionDeniedError: lc.ModelPermissionDeniedError,
    ModelNotFoundError: lc.ModelNotFoundError,
    RateLimitError: lc.ModelRateLimitError,
    ServerError: lc.ModelAPIError,
    RelayTimeoutError: lc.ModelTimeoutError,
    RelayConnectionError: lc.ModelConnectionError,
    StreamInterruptedError: lc.ModelConnectionError,
    ProtocolError: lc.ModelAPIError,
}

# core class -> a subclass of it that also has the LangChain parent (same name, our module)
_DUAL: dict[type[RelayError], type[RelayError]] = {
    core: type(core.__name__, (core, parent), {"__module__": __name__, "__doc__": core.__doc__})
    for core, parent in _LANGCHAIN_PARENT.items()
}
_DUALS = frozenset(_DUAL.values())


def with_langchain_parent(error: RelayError) -> RelayError:
    """Give ``error`` its LangChain parent class too (in place) and return it.

    The object keeps every attribute (``status_code``, ``request_id``, ``partial_text``...)
    and stays an instance of its core class; only the LangChain base is added.
    """
    cls = type(error)
    if cls not in _DUALS:
        dual = _DUAL.get(cls)
        if dual is not None:
            error.__class__ = dual
    return error


@contextmanager
def langchain_errors() -> Iterator[None]:
    """Re-raise any ``RelayError`` from the block with its LangChain parent class added."""
    try:
        yield
    except RelayError as exc:
        with_langchain_parent(exc)
        raise
