"""Configuration: key sources and errors, base URL normalisation, timeouts, repr secrecy."""

from __future__ import annotations

import logging

import httpx
import pytest

from holysheep_relay import (
    ConfigurationError,
    RelayClient,
    RelayConfig,
    Timeouts,
)
from holysheep_relay.provider import normalize_base_url

KEY = "hs_fake_config_secret_0123456789abcdef"


@pytest.mark.parametrize(
    "url",
    [
        "https://api.holysheep.ai/v1",
        "https://api.holysheep.ai/v1/",
        "https://api.holysheep.ai/v1/v1",
        "https://api.holysheep.ai/v1/v1/",
        "https://api.holysheep.ai/v1/chat/completions",
        "https://api.holysheep.ai/v1/chat/completions/",
        "https://api.holysheep.ai/v1/v1/chat/completions",
        "https://api.holysheep.ai",
        "https://api.holysheep.ai/",
        "  https://api.holysheep.ai/v1  ",
    ],
)
def test_base_urls_normalise_to_one_clean_url(url: str) -> None:
    assert normalize_base_url(url) == "https://api.holysheep.ai/v1"


def test_custom_prefix_and_port_are_kept() -> None:
    assert normalize_base_url("http://127.0.0.1:8080/relay/v1/") == "http://127.0.0.1:8080/relay/v1"


@pytest.mark.parametrize("url", ["api.holysheep.ai/v1", "ftp://x/v1", ""])
def test_non_http_base_url_is_rejected(url: str) -> None:
    with pytest.raises(ConfigurationError, match="http"):
        normalize_base_url(url)


def test_missing_key_names_the_env_var(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HOLYSHEEP_API_KEY", raising=False)
    with pytest.raises(ConfigurationError, match="HOLYSHEEP_API_KEY"):
        RelayClient()


def test_key_and_base_url_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOLYSHEEP_API_KEY", KEY)
    monkeypatch.setenv("HOLYSHEEP_BASE_URL", "http://127.0.0.1:1/v1/v1/")
    with RelayClient() as client:
        assert client.config.api_key.get_secret_value() == KEY
        assert client.config.base_url == "http://127.0.0.1:1/v1"


@pytest.mark.parametrize(
    ("bad", "says"),
    [
        ("hs_fake def0123456789012345", "has a space or tab inside it"),
        ("Bearer hs_fake_0123456789012345678", "starts with 'Bearer ': leave it out"),
        ("bearer hs_fake_0123456789012345678", "starts with 'Bearer '"),
        ("hs_fake_0123456789\n0123456789", "has a line break inside it"),
        ("hs_fake_0123456789\r\n0123456789", "has a line break inside it"),
        ('"hs_fake_0123456789012345678"', "is wrapped in quotes"),
        ("\u201chs_fake_0123456789012345678\u201d", "is wrapped in quotes"),
        ("hs_fake_0123456789'012345678", "contains a quote character"),
        ("hs_fake_0123456789\x1b[0m", "contains control characters"),
        ("hs_fake_0123456789\u2014012345678", "contains non-ASCII characters"),
    ],
)
def test_a_pasted_key_is_rejected_before_any_call_saying_which_mistake(bad: str, says: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        RelayClient(api_key=bad)
    assert str(caught.value).startswith(f"The HolySheep API key {says}")
    assert "HOLYSHEEP_API_KEY" in str(caught.value)
    assert "0123456789" not in str(caught.value)  # never the key, not even part of it


@pytest.mark.parametrize("padded", [KEY + "\n", KEY + "\r\n", f"  {KEY}\t\n", "\n" + KEY])
def test_whitespace_around_the_key_is_stripped_and_accepted(
    padded: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A trailing newline from ``$(cat keyfile)`` or a .env line is common and harmless; a
    line break *inside* the key (above) is a paste mistake."""
    monkeypatch.setenv("HOLYSHEEP_API_KEY", padded)
    with RelayClient() as client:
        assert client.config.api_key.get_secret_value() == KEY
    assert RelayConfig.from_args(api_key=padded).headers()["Authorization"] == f"Bearer {KEY}"


def test_short_key_warns(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="holysheep_relay"):
        RelayClient(api_key="hs_short").close()
    assert "only 8 characters" in caplog.text
    assert "hs_short" not in caplog.text


def test_key_never_in_repr_or_str() -> None:
    client = RelayClient(api_key=KEY)
    cfg = RelayConfig.from_args(api_key=KEY)
    for text in (repr(client), str(client), repr(cfg), str(cfg), repr(cfg.api_key)):
        assert KEY not in text
    client.close()


@pytest.mark.parametrize("value", [-1, 1.5, True])
def test_bad_max_retries(value: object) -> None:
    with pytest.raises(ConfigurationError, match="max_retries"):
        RelayClient(api_key=KEY, max_retries=value)  # type: ignore[arg-type]


def test_timeouts_coerce() -> None:
    assert Timeouts.coerce(None) == Timeouts(connect=10.0, read=300.0)
    assert Timeouts.coerce(5) == Timeouts(connect=5.0, read=5.0, write=5.0)
    t = Timeouts.coerce(httpx.Timeout(3.0, read=7.0))
    assert (t.connect, t.read) == (3.0, 7.0)
    capped = Timeouts(read=300).to_httpx(remaining=2.0)
    assert capped.read == 2.0
    assert capped.connect == 2.0
    with pytest.raises(ConfigurationError):
        Timeouts.coerce(-1)
