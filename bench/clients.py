"""Run benchmark scenarios for one client in this fresh process; print one JSON object.

    python bench/clients.py <client> <scenario>[,<scenario>...] [--port P] [--quick]
    python bench/clients.py relay stream --profile /tmp/relay-stream.txt   # pyinstrument

The client's package is imported (and timed) first, before anything else is loaded; the
scenarios themselves live in ``scenarios.py``. Without ``--port`` a fake relay is started.
"""

import sys
import time

from specs import IMPORTS


def timed_import() -> dict[str, float] | None:
    """Import the client named in argv[1] and time it (None if argv names no client)."""
    statement = IMPORTS.get(sys.argv[1]) if len(sys.argv) > 1 else None
    if statement is None:
        return None
    c0, w0 = time.process_time(), time.perf_counter()
    exec(statement, {})
    return {"cpu": time.process_time() - c0, "wall": time.perf_counter() - w0}


if __name__ == "__main__":
    timing = timed_import()
    from scenarios import main

    main(timing)
