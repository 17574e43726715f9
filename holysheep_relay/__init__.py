"""holysheep_relay: the shared core for talking to the HolySheep AI relay.

>>> from holysheep_relay import RelayClient
>>> client = RelayClient(api_key="hs_example_key_0123456789")
>>> client.config.base_url
'https://api.holysheep.ai/v1'
>>> client.close()
"""

from . import served
from ._version import __version__
from .accumulate import StreamAccumulator, StreamResult
from .catalog import ModelSpec, get_model_spec, known_model_ids, resolve_model
from .client import AsyncRelayClient, RelayClient
from .config import (
    API_KEY_ENV,
    BASE_URL_ENV,
    DEFAULT_BASE_URL,
    RelayConfig,
    Timeouts,
    normalize_base_url,
)
from .errors import (
    APIStatusError,
    AuthenticationError,
    BadRequestError,
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
    StreamInterruptedError,
)
from .ratelimit import RateLimiter
from .retry import RetryPolicy, parse_retry_after
from .shared_clients import ClientSpec, aclose_clients, async_client, close_clients, sync_client
from .sse import ServerSentEvent, SSEDecoder
from .stream import AsyncChatStream, ChatStream
from .usage import ModelPrice, ModelTotals, Pricing, UsageCallback, UsageEvent, UsageLedger
from .wire import (
    ChatChunk,
    ChatCompletion,
    ChatMessage,
    Choice,
    ChunkChoice,
    Delta,
    EmbeddingResult,
    FunctionCall,
    ModelInfo,
    ToolCall,
    ToolCallDelta,
    Usage,
)

__all__ = [
    "API_KEY_ENV",
    "BASE_URL_ENV",
    "DEFAULT_BASE_URL",
    "APIStatusError",
    "AsyncChatStream",
    "AsyncRelayClient",
    "AuthenticationError",
    "BadRequestError",
    "ChatChunk",
    "ChatCompletion",
    "ChatMessage",
    "ChatStream",
    "Choice",
    "ChunkChoice",
    "ClientSpec",
    "ConfigurationError",
    "ContextLengthExceededError",
    "Delta",
    "EmbeddingResult",
    "FunctionCall",
    "InvalidInputError",
    "ModelInfo",
    "ModelNotFoundError",
    "ModelPrice",
    "ModelSpec",
    "ModelTotals",
    "PermissionDeniedError",
    "Pricing",
    "ProtocolError",
    "RateLimitError",
    "RateLimiter",
    "RelayClient",
    "RelayConfig",
    "RelayConnectionError",
    "RelayError",
    "RelayTimeoutError",
    "RetryPolicy",
    "SSEDecoder",
    "ServerError",
    "ServerSentEvent",
    "StreamAccumulator",
    "StreamInterruptedError",
    "StreamResult",
    "Timeouts",
    "ToolCall",
    "ToolCallDelta",
    "Usage",
    "UsageCallback",
    "UsageEvent",
    "UsageLedger",
    "__version__",
    "aclose_clients",
    "async_client",
    "close_clients",
    "get_model_spec",
    "known_model_ids",
    "normalize_base_url",
    "parse_retry_after",
    "resolve_model",
    "served",
    "sync_client",
]
