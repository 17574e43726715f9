"""Start and stop a real LiteLLM proxy on 127.0.0.1, with mocked upstreams, for the suite.

:class:`ProxyProcess` writes ``config.yaml`` (JSON, which YAML reads), ``scenarios.json`` and
a copy of ``litellm_hooks.py`` to a temporary directory, starts ``litellm`` as its own
process group on a free port, waits for ``GET /health/liveliness`` and stops it (SIGTERM to
the group, then SIGKILL). The proxy's output goes to ``proxy.log`` in that directory.

Nothing leaves the machine: every ``LITELLM_LOCAL_*`` switch in LiteLLM's source makes it
use the data it ships instead of fetching it at start-up, telemetry is vetoed, the
inherited environment is stripped of database / cache / licence settings, and every upstream
is a mock (``mock_response`` / ``mock_tool_calls``), so no provider is ever called.
:func:`outbound_attempts` reads the log for the warnings LiteLLM writes when it tries.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

HERE = Path(__file__).resolve().parent
KEY = "sk-fake-gateway-master-0123456789"
BAD_KEY = "sk-fake-gateway-wrong-key-0123456789"
FALLBACK_BINARY = Path("/root/litellm-venv/bin/litellm")
PROVISION = (
    "python -m venv .litellm && .litellm/bin/pip install -c constraints/litellm-proxy.txt "
    "'litellm[proxy]'  then  HOLYSHEEP_LITELLM=.litellm/bin/litellm pytest tests/gateway"
)

# Model groups. Names are the ids clients send; every upstream is a LiteLLM mock.
GPT = "gpt-4.1"
DEEPSEEK = "deepseek-chat"  # our catalog aliases it to deepseek-v3.2: must be sent as written
CLAUDE = "claude-sonnet-4-5"  # our catalog aliases it to claude-sonnet-4.5
RATE_LIMITED = "gw-rate-limited"
CONTEXT_WINDOW = "gw-context-window"
SERVER_ERROR = "gw-server-error"
TOOLS = "gw-tools"
LATE_429 = "gw-late-429"  # keep-alive pings, then a 429 frame, before any content
LATE_400 = "gw-late-400"  # keep-alive pings, then a 400 frame
MID_429 = "gw-mid-429"  # a 429 frame after two content chunks
EMBEDDING_MODEL = "text-embedding-3-small"

GPT_TEXT = "Hello from the gateway mock."
DEEPSEEK_TEXT = "DeepSeek answered through the gateway."
CLAUDE_TEXT = "Claude answered through the gateway."
LATE_TEXT = "Late, but here."
TOOLS_TEXT = "Let me look that up."  # LiteLLM sends it next to the mocked tool call
MID_TEXT = "These words stream before the failure arrives."
WEATHER_CALL = {
    "id": "call_gw_weather_1",
    "type": "function",
    "function": {"name": "get_weather", "arguments": '{"city": "Paris", "unit": "celsius"}'},
}
# What clients send for it (an OpenAI tool schema) and the arguments they must get back.
WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather in a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}, "unit": {"type": "string"}},
            "required": ["city"],
        },
    },
}
WEATHER_ARGS = {"city": "Paris", "unit": "celsius"}
GPT_MAX_INPUT, GPT_MAX_OUTPUT = 1_047_576, 32_768
KEEPALIVE_SECONDS = 0.05  # the late-error models' TTFT keep-alive interval
LATE_DELAY = 0.2  # how long the late errors wait: a few keep-alive intervals
TIMEOUT = 30.0  # client timeout in the tests: a hang fails, it does not stall the suite

# Everything LiteLLM would otherwise fetch from GitHub at start-up or on first use, and its
# telemetry veto (``--telemetry`` is a deprecated no-op in 1.108: LITELLM_TELEMETRY_* rules).
OFFLINE_ENV = {
    "LITELLM_LOCAL_MODEL_COST_MAP": "True",
    "LITELLM_LOCAL_ANTHROPIC_BETA_HEADERS": "True",
    "LITELLM_LOCAL_BLOG_POSTS": "True",
    "LITELLM_LOCAL_POLICY_TEMPLATES": "True",
    "LITELLM_LOCAL_AUTOROUTER_PRESETS": "True",
    "LITELLM_TELEMETRY_DISABLED": "True",
    "LITELLM_DONT_SHOW_FEEDBACK_BOX": "True",
    "HF_HUB_OFFLINE": "1",
    "DO_NOT_TRACK": "1",
}
# Inherited settings that could point the proxy at a database, a cache or a licence server.
_STRIPPED_PREFIXES = ("LITELLM_", "DATABASE_", "DIRECT_URL", "REDIS_", "OTEL_", "PYROSCOPE_")

# LiteLLM's own words when it could not fetch something (see get_model_cost_map.py,
# anthropic_beta_headers_manager.py, get_blog_posts.py).
_OUTBOUND = re.compile(
    r"fetch attempt|Failed to fetch|Falling back to local|ConnectError|Name or service not known"
    r"|Temporary failure in name resolution",
    re.IGNORECASE,
)


def _mock(model: str, **params: Any) -> dict[str, Any]:
    return {
        "model_name": model,
        "litellm_params": {"model": f"openai/{model}", "api_key": "sk-fake-upstream", **params},
    }


def model_list() -> list[dict[str, Any]]:
    gpt = _mock(GPT, mock_response=GPT_TEXT)
    gpt["model_info"] = {"max_input_tokens": GPT_MAX_INPUT, "max_output_tokens": GPT_MAX_OUTPUT}
    return [
        gpt,
        _mock(DEEPSEEK, mock_response=DEEPSEEK_TEXT),
        _mock(CLAUDE, mock_response=CLAUDE_TEXT),
        _mock(RATE_LIMITED, mock_response="litellm.RateLimitError"),
        _mock(CONTEXT_WINDOW, mock_response="litellm.ContextWindowExceededError"),
        _mock(SERVER_ERROR, mock_response="litellm.InternalServerError"),
        _mock(TOOLS, mock_response=TOOLS_TEXT, mock_tool_calls=[WEATHER_CALL]),
        _mock(LATE_429, mock_response=LATE_TEXT, keepalive_seconds=KEEPALIVE_SECONDS),
        _mock(LATE_400, mock_response=LATE_TEXT, keepalive_seconds=KEEPALIVE_SECONDS),
        _mock(MID_429, mock_response=MID_TEXT),
        _mock(EMBEDDING_MODEL, mock_response=[0.1, 0.2, 0.3]),
    ]


def proxy_config() -> dict[str, Any]:
    return {
        "model_list": model_list(),
        "litellm_settings": {"callbacks": "litellm_hooks.hooks", "num_retries": 0},
        # The proxy's router retries failed upstream calls itself (twice by default): off, so
        # every attempt the tests count is one our client made.
        "router_settings": {"num_retries": 0},
        "general_settings": {"master_key": KEY, "custom_auth": "litellm_hooks.custom_auth"},
    }


def scenarios() -> dict[str, Any]:
    return {
        "key": KEY,
        "parent_pid": os.getpid(),  # the proxy stops itself if this process goes away
        "late_delay": LATE_DELAY,
        "late_errors": {LATE_429: 429, LATE_400: 400},
        "mid_errors": {MID_429: {"status": 429, "after": 2}},
        "stream_tools": {TOOLS: [WEATHER_CALL]},
    }


def find_litellm() -> tuple[str | None, str]:
    """(binary or None, where it came from / why none)."""
    configured = os.environ.get("HOLYSHEEP_LITELLM")
    if configured:
        return (configured if Path(configured).is_file() else None), "HOLYSHEEP_LITELLM"
    on_path = shutil.which("litellm")
    if on_path:
        return on_path, "PATH"
    if FALLBACK_BINARY.is_file():
        return str(FALLBACK_BINARY), str(FALLBACK_BINARY)
    return None, "not found"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def outbound_attempts(log: str) -> list[str]:
    """Log lines in which LiteLLM says it tried to reach the internet."""
    return [line for line in log.splitlines() if _OUTBOUND.search(line)]


@dataclass
class Probe:
    """A tag to put in a prompt; the proxy's hook records every attempt that carries it."""

    key: str
    calls_dir: Path
    fail: int | None = None

    @property
    def tag(self) -> str:
        return f"[gw:{self.key}]" if self.fail is None else f"[gw:{self.key} fail={self.fail}]"

    def prompt(self, text: str = "Hi") -> str:
        return f"{text} {self.tag}"

    @property
    def calls(self) -> list[str]:
        """``litellm_call_id`` of every attempt so far (= their ``x-litellm-call-id``)."""
        path = self.calls_dir / self.key
        return path.read_text("utf-8").split() if path.exists() else []


@dataclass
class Gateway:
    """The running proxy, as the tests see it."""

    url: str
    key: str
    workdir: Path
    startup_seconds: float

    @property
    def base_url(self) -> str:
        return f"{self.url}/v1"

    @property
    def log_path(self) -> Path:
        return self.workdir / "proxy.log"

    def log(self) -> str:
        return self.log_path.read_text("utf-8", "replace")

    def probe(self, fail: int | None = None) -> Probe:
        return Probe(uuid.uuid4().hex[:16], self.workdir / "calls", fail)


class ProxyProcess:
    """One ``litellm`` subprocess: :meth:`launch`, :meth:`wait_ready`, :meth:`stop`."""

    def __init__(self, binary: str) -> None:
        self.binary = binary
        self.workdir = Path(tempfile.mkdtemp(prefix="holysheep-gateway-"))
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None
        self.launched_at = 0.0
        self._log_file: Any = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.workdir / "proxy.log"

    def _env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(_STRIPPED_PREFIXES)}
        env.update(OFFLINE_ENV)
        env["HOLYSHEEP_GATEWAY_STATE"] = str(self.workdir)
        env["PYTHONUNBUFFERED"] = "1"
        env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost"
        return env

    def launch(self) -> None:
        if self.process is not None:
            return
        (self.workdir / "calls").mkdir()
        (self.workdir / "config.yaml").write_text(json.dumps(proxy_config(), indent=1), "utf-8")
        (self.workdir / "scenarios.json").write_text(json.dumps(scenarios()), "utf-8")
        shutil.copy(HERE / "litellm_hooks.py", self.workdir / "litellm_hooks.py")
        self.port = _free_port()
        self._log_file = self.log_path.open("wb")
        command = [
            self.binary,
            "--config",
            str(self.workdir / "config.yaml"),
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--num_workers",
            "1",
        ]
        self.launched_at = time.perf_counter()
        self.process = subprocess.Popen(
            command,
            cwd=self.workdir,
            env=self._env(),
            stdin=subprocess.DEVNULL,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: stop() reaches every child
        )

    def log_tail(self, lines: int = 60) -> str:
        with contextlib.suppress(OSError):
            text = self.log_path.read_text("utf-8", "replace")
            return "\n".join(text.splitlines()[-lines:])
        return "(no log)"

    def exited(self) -> bool:
        """Has the proxy exited? (Not reaped: its pid keeps naming its process group.)"""
        if self.process is None:
            return True
        info = os.waitid(os.P_PID, self.process.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
        return info is not None

    def wait_ready(self, timeout: float) -> float:
        """Seconds from launch until ``/health/liveliness`` answered 200; raises RuntimeError."""
        assert self.process is not None, "launch() first"
        deadline = self.launched_at + timeout
        with httpx.Client(timeout=2.0, trust_env=False) as http:
            while True:
                if self.exited():
                    raise RuntimeError("litellm exited during start-up")
                try:
                    if http.get(f"{self.url}/health/liveliness").status_code == 200:
                        return time.perf_counter() - self.launched_at
                except httpx.TransportError:
                    pass
                if time.perf_counter() > deadline:
                    raise RuntimeError(f"litellm did not become healthy within {timeout:.0f} s")
                time.sleep(0.05)  # start-up polling: the proxy takes seconds to import

    def _wait_exit(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while not self.exited():
            if time.monotonic() > deadline:
                return False
            time.sleep(0.05)  # shutdown polling (uvicorn exits in well under a second)
        return True

    def stop(self, grace: float = 10.0) -> None:
        """SIGTERM the process group, SIGKILL it after ``grace`` s; leave no process behind.

        The leader is reaped last: until then its pid names the group, so the signals can
        only reach processes this fixture started.
        """
        process = self.process
        if process is not None:
            if not self.exited():
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGTERM)
                if not self._wait_exit(grace):
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(process.pid, signal.SIGKILL)
                    self._wait_exit(grace)
            # anything left in the group (workers the proxy forked) goes too
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=grace)
            self.process = None
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None

    def cleanup(self) -> None:
        """Remove the working directory (config, log, call records) of a stopped proxy;
        ``HOLYSHEEP_GATEWAY_KEEP=1`` keeps it for a look at ``proxy.log``."""
        if self.process is None and not os.environ.get("HOLYSHEEP_GATEWAY_KEEP"):
            shutil.rmtree(self.workdir, ignore_errors=True)

    def gateway(self, startup_seconds: float) -> Gateway:
        return Gateway(self.url, KEY, self.workdir, startup_seconds)
