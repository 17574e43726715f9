"""Where the examples send their requests: the live relay, or the local emulator.

- ``HOLYSHEEP_API_KEY`` set: the live relay (``HOLYSHEEP_BASE_URL`` or the default).
- no key: an in-process ``holysheep_relay.testing.Emulator`` on 127.0.0.1, which makes
  up deterministic answers to any request (so an edited prompt works too). The first line
  printed says so: those answers come from no model.

Why not replay recorded answers any more: the cassettes were recorded from this same
emulator, so they held nothing it does not answer itself, and any edit to an example
failed with a long vcrpy trace. See docs/testing.md.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

from holysheep_relay import API_KEY_ENV, BASE_URL_ENV, DEFAULT_BASE_URL


@contextmanager
def relay(name: str) -> Iterator[str]:
    """Set up the relay for example ``name``; yields ``"live"`` or ``"emulator"``."""
    if os.environ.get(API_KEY_ENV):
        print(
            f"Live mode: calling the relay at {os.environ.get(BASE_URL_ENV) or DEFAULT_BASE_URL}."
        )
        yield "live"
        return

    from holysheep_relay.testing import FAKE_API_KEY, Emulator

    with Emulator() as emulator:
        os.environ[API_KEY_ENV] = FAKE_API_KEY
        os.environ[BASE_URL_ENV] = emulator.base_url
        print(
            f"Emulator mode: no {API_KEY_ENV}, so {name} talks to the local HolySheep emulator"
            f" ({emulator.base_url}). Its answers are made up, not written by a model."
            f" Set {API_KEY_ENV} to call the live relay."
        )
        try:
            yield "emulator"
        finally:
            del os.environ[API_KEY_ENV], os.environ[BASE_URL_ENV]
