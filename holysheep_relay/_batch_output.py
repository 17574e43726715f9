"""Batch output lines as OpenAI's batch output, and reading a previous run's output file.

>>> import json
>>> line = json.loads(error_line("a", "RateLimitError", "slow down"))
>>> line["custom_id"], line["response"], line["error"]
('a', None, {'code': 'RateLimitError', 'message': 'slow down'})
"""

from __future__ import annotations

import json
import logging
import os
import uuid
from collections.abc import Container
from pathlib import Path
from typing import Any

__all__ = ["error_line", "keep_successes", "success_line"]

log = logging.getLogger("holysheep_relay.batch")


def _id() -> str:
    return f"batch_req_{uuid.uuid4().hex}"


def success_line(custom_id: str, request_id: str | None, body: dict[str, Any]) -> str:
    response = {"status_code": 200, "request_id": request_id, "body": body}
    line = {"id": _id(), "custom_id": custom_id, "response": response, "error": None}
    return json.dumps(line, separators=(",", ":")) + "\n"


def error_line(custom_id: str | None, code: str, message: str) -> str:
    error = {"code": code, "message": message}
    line = {"id": _id(), "custom_id": custom_id, "response": None, "error": error}
    return json.dumps(line, separators=(",", ":")) + "\n"


def _succeeded(text: str) -> str | None:
    """The custom_id of a complete success line, else None."""
    if not text.endswith("\n"):
        return None
    try:
        data = json.loads(text)
    except ValueError:
        return None
    if not isinstance(data, dict) or data.get("error") is not None:
        return None
    response = data.get("response")
    custom_id = data.get("custom_id")
    ok = isinstance(response, dict) and response.get("status_code") == 200
    return custom_id if ok and isinstance(custom_id, str) else None


def _is_json_line(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return text.endswith("\n")


def keep_successes(path: Path, wanted: Container[str]) -> set[str]:
    """Rewrite ``path`` (atomically) keeping one success line per custom_id in ``wanted``;
    failure lines are dropped (those lines are sent again). A torn line (a killed run's last
    write) goes to ``PATH.torn``. Returns the custom_ids already done."""
    done: set[str] = set()
    if not path.exists():
        return done
    temp = path.with_name(path.name + ".tmp")
    torn = 0
    with path.open(encoding="utf-8", newline="") as old, temp.open("w", encoding="utf-8") as new:
        for text in old:
            custom_id = _succeeded(text)
            if custom_id is not None:
                if custom_id in wanted and custom_id not in done:
                    done.add(custom_id)
                    new.write(text)
            elif not _is_json_line(text):
                torn += 1
                with path.with_name(path.name + ".torn").open("a", encoding="utf-8") as aside:
                    aside.write(text if text.endswith("\n") else text + "\n")
        new.flush()
        os.fsync(new.fileno())
    os.replace(temp, path)
    if torn:
        log.warning("%d torn line(s) in %s set aside in %s.torn", torn, path, path.name)
    return done
