"""Client configuration: key, base URL, timeouts, retries, headers.

``RelayConfig`` is immutable and validated once, at construction, so that a missing key or
a mangled base URL fails before any network call with a message that says what to do.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

import httpx
from pydantic import SecretStr

from ._version import __version__
from .errors import ConfigurationError, register_secret

__all__ = [
    "API_KEY_ENV",
    "BASE_URL_ENV",
    "DEFAULT_BASE_URL",
    "RelayConfig",
    "Timeouts",
    "key_problem",
    "normalize_base_url",
    "resolve_api_key",
]

logger = logging.getLogger("holysheep_relay")

DEFAULT_BASE_URL = "https://api.holysheep.ai/v1"
API_KEY_ENV = "HOLYSHEEP_API_KEY"
BASE_URL_ENV = "HOLYSHEEP_BASE_URL"
USER_AGENT = f"holysheep-integrations/{__version__}"

_LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})
# Endpoint suffixes users paste into base URLs by mistake.
_ENDPOINT_SUFFIXES = ("/chat/completions", "/completions", "/embeddings", "/models", "/messages")


def without_auth(headers: Mapping[str, str]) -> dict[str, str]:
    """``headers`` minus any Authorization header, whatever its case: ours always wins."""
    return {k: v for k, v in headers.items() if k.lower() != "authorization"}


def normalize_base_url(url: str) -> str:
    """Return a clean ``scheme://host[:port]/.../v1`` base URL.

    Tolerates a trailing slash, a pasted endpoint path (``/chat/completions``) and a doubled
    ``/v1/v1``; a URL with no path gets ``/v1``. Raises ConfigurationError for a URL that is
    not http(s).
    """
    raw = url.strip()
    if not re.match(r"^https?://[^/\s]+", raw, re.I):
        raise ConfigurationError(
            f"base_url {raw!r} is not an http(s) URL; expected e.g. {DEFAULT_BASE_URL}"
        )
    raw = raw.split("?", 1)[0].split("#", 1)[0].rstrip("/")
    lowered = raw.lower()
    stripped = True
    while stripped:
        stripped = False
        for suffix in _ENDPOINT_SUFFIXES:
            if lowered.endswith(suffix):
                raw, lowered = raw[: -len(suffix)].rstrip("/"), lowered[: -len(suffix)].rstrip("/")
                stripped = True
    while lowered.endswith("/v1/v1"):
        raw, lowered = raw[:-3], lowered[:-3]
    scheme_host = re.match(r"^https?://[^/]+", raw, re.I)
    assert scheme_host is not None  # checked above
    if raw == scheme_host.group(0):
        raw += "/v1"
    host = httpx.URL(raw).host
    if raw.lower().startswith("http://") and host not in _LOOPBACK:
        logger.warning(
            "base_url %s uses plain http to a non-loopback host: the API key would travel "
            "unencrypted. Use https.",
            raw,
        )
    return raw


_short_keys_warned: set[str] = set()


def _first_sight(key: str) -> bool:
    """True the first time a (short) key is seen: its warning is logged once per process."""
    digest = hashlib.sha256(key.encode()).hexdigest()
    if digest in _short_keys_warned:
        return False
    _short_keys_warned.add(digest)
    return True


_QUOTES = "\"'`\u2018\u2019\u201c\u201d"  # straight, back and typographic quotes


def key_problem(key: str) -> str | None:
    """What is wrong with a (stripped) key pasted with an obvious mistake, else None.

    Surrounding whitespace is not a mistake: callers strip it first (the trailing newline
    of ``$(cat keyfile)`` or of a ``.env`` line is harmless). The key is never quoted in
    the answer.
    """
    if not key:
        return None  # missing, not malformed: the callers say how to set it
    if key[:7].lower() == "bearer ":
        return "starts with 'Bearer ': leave it out, the client adds 'Bearer ' itself"
    if key[0] in _QUOTES and key[-1] in _QUOTES:
        return (
            "is wrapped in quotes, which became part of the value (e.g. "
            f"{API_KEY_ENV}='\"hs_...\"', or quotes kept by a .env or Docker env file): "
            "remove them"
        )
    if any(ch in _QUOTES for ch in key):
        return "contains a quote character: remove it"
    if "\n" in key or "\r" in key:
        return "has a line break inside it (two lines pasted as one?): keep only the key"
    if any(ch.isspace() for ch in key):
        return "has a space or tab inside it: copy the key again, as one unbroken string"
    if not key.isprintable():
        return "contains control characters (a pasted escape sequence?): copy the key again"
    if not key.isascii():
        return "contains non-ASCII characters (an ellipsis or a typographic dash?): copy it again"
    return None


def resolve_api_key(api_key: str | SecretStr | None) -> SecretStr:
    """Take the key given, else ``HOLYSHEEP_API_KEY``; fail clearly if neither is usable."""
    if isinstance(api_key, SecretStr):
        value = api_key.get_secret_value()
    elif api_key is not None:
        value = api_key
    else:
        value = os.environ.get(API_KEY_ENV, "")
    value = value.strip()
    if not value:
        raise ConfigurationError(
            f"No HolySheep API key: pass api_key=... or set the {API_KEY_ENV} environment "
            "variable (keys look like hs_... or sk-...)."
        )
    problem = key_problem(value)
    if problem:
        raise ConfigurationError(
            f"The HolySheep API key {problem}. Fix it where it is set ({API_KEY_ENV} or "
            "api_key=...): a key is one unbroken string like hs_..., nothing around it."
        )
    register_secret(value)
    if len(value) < 20 and _first_sight(value):
        logger.warning(
            "The HolySheep API key is only %d characters long; relay keys are usually 20+. "
            "If requests fail with 401, check %s.",
            len(value),
            API_KEY_ENV,
        )
    return SecretStr(value)


@dataclass(frozen=True)
class Timeouts:
    """Connect, read (longest idle gap, also between stream chunks), write, total deadline.

    The defaults follow the relay's own advice for long streamed generations
    (connect 10 s, read 300 s). ``total`` (None = no deadline) bounds a whole call,
    retries and streaming included.
    """

    connect: float = 10.0
    read: float = 300.0
    write: float = 30.0
    pool: float = 10.0
    total: float | None = None

    @classmethod
    def coerce(cls, value: float | Timeouts | httpx.Timeout | None) -> Timeouts:
        if value is None:
            return cls()
        if isinstance(value, Timeouts):
            return value
        if isinstance(value, httpx.Timeout):
            d = cls()
            return cls(
                connect=value.connect if value.connect is not None else d.connect,
                read=value.read if value.read is not None else d.read,
                write=value.write if value.write is not None else d.write,
                pool=value.pool if value.pool is not None else d.pool,
            )
        if isinstance(value, (int, float)) and value > 0:
            return cls(connect=min(10.0, float(value)), read=float(value), write=float(value))
        raise ConfigurationError(f"timeout must be a positive number or Timeouts, got {value!r}")

    def to_httpx(self, remaining: float | None = None) -> httpx.Timeout:
        def cap(seconds: float) -> float:
            return seconds if remaining is None else min(seconds, remaining)

        return httpx.Timeout(
            connect=cap(self.connect), read=cap(self.read), write=cap(self.write), pool=self.pool
        )


@dataclass(frozen=True)
class RelayConfig:
    """Everything a client needs to talk to the relay; validated once.

    >>> cfg = RelayConfig.from_args(api_key="hs_example_key_0123456789", base_url=None)
    >>> cfg.base_url
    'https://api.holysheep.ai/v1'
    >>> "hs_example" in repr(cfg)
    False
    """

    api_key: SecretStr
    base_url: str = DEFAULT_BASE_URL
    timeouts: Timeouts = field(default_factory=Timeouts)
    max_retries: int = 2
    default_headers: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_args(
        cls,
        api_key: str | SecretStr | None = None,
        base_url: str | None = None,
        *,
        timeout: float | Timeouts | httpx.Timeout | None = None,
        max_retries: int = 2,
        default_headers: Mapping[str, str] | None = None,
    ) -> RelayConfig:
        if not isinstance(max_retries, int) or isinstance(max_retries, bool) or max_retries < 0:
            raise ConfigurationError(f"max_retries must be an int >= 0, got {max_retries!r}")
        url = base_url or os.environ.get(BASE_URL_ENV) or DEFAULT_BASE_URL
        return cls(
            api_key=resolve_api_key(api_key),
            base_url=normalize_base_url(url),
            timeouts=Timeouts.coerce(timeout),
            max_retries=max_retries,
            default_headers=dict(default_headers or {}),
        )

    def url(self, path: str) -> str:
        return self.base_url + path

    def headers(self) -> dict[str, str]:
        """Request headers: defaults first, then ours (the user may not override auth)."""
        headers = {"User-Agent": USER_AGENT, "Accept": "application/json"}
        headers.update(without_auth(self.default_headers))
        headers["Authorization"] = f"Bearer {self.api_key.get_secret_value()}"
        return headers
