"""httpx transport failures -> our errors: the one place they are mapped.

Like httpx's own ``map_httpcore_exceptions``: every ``httpx.TransportError`` a client or a
stream meets goes through :func:`map_transport_error`, which picks the error by what was
happening (``phase``), because that decides what the caller may safely do next:

- ``"send"``: no reply yet (connect, write, or the reply's headers): ``RelayConnectionError``
  or ``RelayTimeoutError``; the retry policy decides whether it is safe to send again;
- ``"reply"``: the headers of a successful reply had arrived and its body was lost: never
  retried (the relay may already have done, and billed, the work);
- ``"stream"``: a stream broke after it opened: ``StreamInterruptedError`` with the text so
  far (a timeout stays a ``RelayTimeoutError``).
"""

from __future__ import annotations

from typing import Literal

import httpx

from .errors import RelayConnectionError, RelayError, RelayTimeoutError, StreamInterruptedError

__all__ = ["Phase", "map_transport_error"]

Phase = Literal["send", "reply", "stream"]


def map_transport_error(
    exc: httpx.TransportError,
    base_url: str,
    phase: Phase,
    *,
    partial_text: str = "",
    request_id: str | None = None,
) -> RelayError:
    """Our most specific error for ``exc``, met while ``phase`` (see the module doc)."""
    error: RelayError
    if isinstance(exc, httpx.TimeoutException):
        kind = type(exc).__name__.replace("Timeout", "").lower() or "total"
        error = RelayTimeoutError(
            f"timed out ({kind}) talking to {base_url}; for long streamed generations raise the "
            "read timeout (timeout=Timeouts(read=...))",
            partial_text=partial_text,
        )
    elif phase == "send":
        error = RelayConnectionError(
            f"could not reach the relay at {base_url}: {type(exc).__name__}: {exc}. Check "
            "HOLYSHEEP_BASE_URL and your network.",
            partial_text=partial_text,
        )
    elif phase == "reply":
        error = RelayConnectionError(
            f"the connection to the relay at {base_url} was lost while reading its reply "
            f"({type(exc).__name__}: {exc}); not retried: the request may already have been "
            "processed"
        )
    else:
        error = StreamInterruptedError(
            f"connection to the relay was lost mid-stream ({type(exc).__name__}); "
            "the answer is incomplete",
            partial_text=partial_text,
        )
    error.request_id = request_id
    return error
