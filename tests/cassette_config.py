"""vcrpy configuration shared by every cassette test.

Cassettes are recorded from the local emulator (or the live relay, see docs/cassettes.md) and
replayed with ``record_mode="none"``. Secrets never reach disk: the Authorization header is dropped
and any key-shaped string in URLs, headers or bodies is replaced before writing.
"""

from __future__ import annotations

import json
import os
import re
from typing import Any

# Anything that looks like a relay/OpenAI key, or a bearer token.
SECRET_PATTERN = re.compile(r"(?i)bearer\s+[A-Za-z0-9_\-\.]{8,}|\b(?:hs|sk)[-_][A-Za-z0-9_\-]{12,}")
REDACTED = "REDACTED"
# Response headers worth keeping (request id for debugging, content type for SSE); the rest
# (cookies, rate-limit counters, server banners) is noise or sensitive.
_KEEP_RESPONSE_HEADERS = {"content-type", "x-request-id", "retry-after", "retry-after-ms"}
_DROP_REQUEST_HEADERS = [
    "authorization",
    "api-key",
    "x-api-key",
    "cookie",
    "openai-organization",
    "user-agent",
]


def _scrub_text(text: str) -> str:
    key = os.environ.get("HOLYSHEEP_API_KEY", "")
    if key:
        text = text.replace(key, REDACTED)
    return SECRET_PATTERN.sub(REDACTED, text)


def _scrub_body(body: Any) -> Any:
    if body is None:
        return None
    if isinstance(body, bytes):
        return _scrub_text(body.decode("utf-8", "replace")).encode()
    if isinstance(body, str):
        return _scrub_text(body)
    return body


def scrub_request(request: Any) -> Any:
    request.uri = _scrub_text(request.uri)
    for name in list(request.headers):
        if name.lower() in _DROP_REQUEST_HEADERS:
            del request.headers[name]
        else:
            request.headers[name] = _scrub_text(str(request.headers[name]))
    request.body = _scrub_body(request.body)
    return request


def scrub_response(response: dict[str, Any]) -> dict[str, Any]:
    headers = response.get("headers", {})
    response["headers"] = {
        k: [_scrub_text(v) for v in vals]
        for k, vals in headers.items()
        if k.lower() in _KEEP_RESPONSE_HEADERS
    }
    body = response.get("body", {})
    if isinstance(body, dict) and "string" in body:
        body["string"] = _scrub_body(body["string"])
    return response


def _json_body_matcher(r1: Any, r2: Any) -> None:
    """Bodies match when their JSON is equal (key order and spacing do not matter)."""

    def load(body: Any) -> Any:
        if not body:
            return None
        try:
            return json.loads(body)
        except ValueError:
            return body

    assert load(r1.body) == load(r2.body), "request bodies differ"


def vcr_config(record_mode: str = "none") -> dict[str, Any]:
    return {
        "record_mode": record_mode,
        "filter_headers": _DROP_REQUEST_HEADERS,
        "before_record_request": scrub_request,
        "before_record_response": scrub_response,
        "match_on": ["method", "path", "json_body"],
        "decode_compressed_response": True,
    }


def register_matchers(vcr: Any) -> None:
    vcr.register_matcher("json_body", _json_body_matcher)


def find_secrets(text: str) -> list[str]:
    """Key-like strings in ``text`` (the cassette secret scan uses this)."""
    return SECRET_PATTERN.findall(text)
