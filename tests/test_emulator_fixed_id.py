"""The emulator's ``fixed_completion_id``: a relay repeating one id on every completion."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from holysheep_relay.testing import Emulator
from tests.emulator_fixtures import TEST_API_KEY

AUTH = {"Authorization": f"Bearer {TEST_API_KEY}"}
BODY = {"model": "gpt-4.1", "messages": [{"role": "user", "content": "Hello"}]}


def _ids(emulator: Emulator, *, stream: bool) -> list[set[str]]:
    """The ids of two completions (for a stream, the set of its chunks' ids)."""
    out: list[set[str]] = []
    with httpx.Client(base_url=emulator.base_url, headers=AUTH, timeout=5) as http:
        for _ in range(2):
            body: dict[str, Any] = {**BODY, "stream": stream}
            if stream:
                body["stream_options"] = {"include_usage": True}
            reply = http.post("/chat/completions", json=body)
            assert reply.status_code == 200
            if not stream:
                out.append({reply.json()["id"]})
                continue
            events = [line[6:] for line in reply.text.splitlines() if line.startswith("data: ")]
            assert events[-1] == "[DONE]"
            out.append({json.loads(e)["id"] for e in events[:-1]})
    return out


def test_completion_ids_are_distinct_by_default(emulator: Emulator) -> None:
    first, second = _ids(emulator, stream=False)
    assert first != second
    first, second = _ids(emulator, stream=True)
    assert len(first) == len(second) == 1
    assert first != second


def test_fixed_completion_id_repeats_on_every_completion(emulator: Emulator) -> None:
    emulator.fixed_completion_id = "chatcmpl-same"
    assert _ids(emulator, stream=False) == [{"chatcmpl-same"}] * 2
    assert _ids(emulator, stream=True) == [{"chatcmpl-same"}] * 2
    emulator.reset()
    assert emulator.fixed_completion_id is None
    first, second = _ids(emulator, stream=False)
    assert first != second


@pytest.mark.loopback  # an Emulator of its own
def test_fixed_completion_id_from_the_constructor_survives_reset() -> None:
    with Emulator(fixed_completion_id="chatcmpl-same") as relay:
        relay.fixed_completion_id = None
        relay.reset()
        assert relay.fixed_completion_id == "chatcmpl-same"
        assert _ids(relay, stream=True) == [{"chatcmpl-same"}] * 2
