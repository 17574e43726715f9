"""No cassette holds a secret, and the scrubbing happens before anything is written."""

from __future__ import annotations

from pathlib import Path

import pytest
import vcr

from holysheep_relay import RelayClient
from holysheep_relay.testing import Emulator
from tests import cassette_config

CASSETTES = Path(__file__).resolve().parent.parent / "cassettes"
SECRET = "hs_fake_live_SUPERSECRET_0123456789abcdef"


def all_cassettes() -> list[Path]:
    return sorted(p for p in CASSETTES.rglob("*") if p.is_file())


def test_no_cassette_contains_a_key_or_bearer_token() -> None:
    offenders = {
        str(p.relative_to(CASSETTES)): cassette_config.find_secrets(p.read_text("utf-8"))
        for p in all_cassettes()
    }
    assert {k: v for k, v in offenders.items() if v} == {}


def test_no_cassette_keeps_an_authorization_header() -> None:
    for path in all_cassettes():
        assert "authorization" not in path.read_text("utf-8").lower(), path


def test_recording_scrubs_the_key_before_writing(
    tmp_path: Path, emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOLYSHEEP_API_KEY", SECRET)
    recorder = vcr.VCR(**cassette_config.vcr_config("once"))
    cassette_config.register_matchers(recorder)
    cassette = tmp_path / "secret.yaml"
    # The relay echoing the key back (some error pages do) must be scrubbed too.
    emulator.add_fault("status", status=400, body={"error": {"message": f"bad key {SECRET}"}})
    with (
        recorder.use_cassette(str(cassette)),
        RelayClient(api_key=SECRET, base_url=emulator.base_url, max_retries=0) as client,
    ):
        with pytest.raises(Exception, match="bad key"):
            client.chat(model="gpt-4.1", messages=[{"role": "user", "content": "hi"}])
        client.chat(model="gpt-4.1", messages=[{"role": "user", "content": f"my key {SECRET}"}])
    text = cassette.read_text("utf-8")
    assert SECRET not in text
    assert "SUPERSECRET" not in text
    assert "REDACTED" in text
    assert "authorization" not in text.lower()
    # both requests really went to the emulator while recording
    assert emulator.attempts() == 2
