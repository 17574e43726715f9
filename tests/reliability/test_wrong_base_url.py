"""A base URL that points at the wrong path: the 404 says to check the base URL, names the
address that was requested (never the key), and is not mistaken for an unknown model.

The emulator answers unknown paths with a 404 (``Invalid URL``), as OpenAI does; the
other relay wordings (an HTML page, a framework's "Not Found", an empty body) go through
MockTransport.
"""

from __future__ import annotations

import httpx
import pytest

from holysheep_relay import BadRequestError, ModelNotFoundError, RelayError
from holysheep_relay.testing import Emulator
from tests.core.helpers import KEY, Runner
from tests.emulator_fixtures import TEST_API_KEY

from .entrypoints import ENTRY_POINTS, EntryPoint, Target

HINT = "check base_url / HOLYSHEEP_BASE_URL, which usually ends in /v1"


def _wrong(emulator: Emulator) -> str:
    """``http://127.0.0.1:<port>/api``: the relay is there, its API is not."""
    return emulator.base_url.removesuffix("/v1") + "/api"


@pytest.mark.parametrize("entry", ENTRY_POINTS, ids=str)
def test_every_entry_point_says_to_check_the_base_url(
    entry: EntryPoint, emulator: Emulator
) -> None:
    base = _wrong(emulator)
    with pytest.raises(BadRequestError) as caught:
        entry.run(Target(base_url=base), [])
    error = caught.value
    assert not isinstance(error, ModelNotFoundError)
    assert error.status_code == 404
    assert f"the relay has no {base}/chat/completions: {HINT}" in str(error)
    assert TEST_API_KEY not in str(error)
    assert TEST_API_KEY not in repr(error)
    assert [r.path for r in emulator.requests] == ["/api/chat/completions"]  # not retried


@pytest.mark.parametrize("sync", [True, False], ids=["sync", "async"])
def test_models_and_embeddings_name_their_own_url(emulator: Emulator, sync: bool) -> None:
    base = _wrong(emulator)
    runner = Runner(sync, base_url=base, max_retries=0)
    with pytest.raises(BadRequestError, match=f"the relay has no {base}/models: "):
        runner.models()
    with pytest.raises(BadRequestError, match=f"the relay has no {base}/embeddings: "):
        runner.embed(input=["hello"])


def test_an_unknown_model_on_the_right_url_is_still_model_not_found(emulator: Emulator) -> None:
    with pytest.raises(ModelNotFoundError) as caught:
        Runner(True, base_url=emulator.base_url).chat(model="gpt-4.1x")
    assert "HOLYSHEEP_BASE_URL" not in str(caught.value)
    assert "gpt-4.1" in caught.value.suggestions


@pytest.mark.parametrize(
    ("body", "says"),
    [
        (b"<html><head><title>404 Not Found</title></head><body>nginx</body></html>", "404 Not"),
        (b'{"detail": "Not Found"}', "Not Found"),
        (b"404 page not found", "404 page not found"),
        (b"", "relay returned HTTP 404"),
    ],
    ids=["html-page", "json-not-found", "plain-text", "empty"],
)
@pytest.mark.parametrize("sync", [True, False], ids=["sync", "async"])
def test_a_404_that_names_no_model_says_to_check_the_base_url(
    body: bytes, says: str, sync: bool
) -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(404, content=body)

    base = "https://user:hunter2@relay.test/openai"
    with pytest.raises(RelayError) as caught:
        Runner(sync, handler, base_url=base).chat()
    error = caught.value
    assert type(error) is BadRequestError
    assert says in str(error)
    assert f"the relay has no https://relay.test/openai/chat/completions: {HINT}" in str(error)
    assert "hunter2" not in str(error)  # the URL as requested, without its credentials
    assert KEY not in str(error)
    assert "<html>" not in str(error)
    assert len(seen) == 1


def test_a_404_that_names_the_model_is_model_not_found() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(404, json={"error": {"message": "The model `gpt-9` does not exist"}})

    with pytest.raises(ModelNotFoundError) as caught:
        Runner(True, handler).chat(model="gpt-9")
    assert "HOLYSHEEP_BASE_URL" not in str(caught.value)
