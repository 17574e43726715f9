"""The import statement that defines each client (timed by the import benchmark).

Deliberately imports nothing: ``clients.py`` times these first thing in a fresh process.
"""

IMPORTS = {
    "httpx": "import httpx",
    "openai": "from openai import OpenAI",
    "langchain_openai": "from langchain_openai import ChatOpenAI",
    "openai_like": "from llama_index.llms.openai_like import OpenAILike",
    "relay": "from holysheep_relay import RelayClient",
    "langchain_holysheep": "from langchain_holysheep import ChatHolySheep",
    "llama_index_holysheep": "from llama_index_holysheep import HolySheep",
    "floor_langchain": "from langchain_core.language_models import BaseChatModel",
    "floor_llama_index": "from llama_index.core.llms.function_calling import FunctionCallingLLM",
}

# Run as ``python -c PROBE <statement>``: time one import in an interpreter that has loaded
# nothing but sys and time; print JSON; skip interpreter teardown.
PROBE = """\
import sys, time
c0, w0 = time.process_time(), time.perf_counter()
exec(sys.argv[1])
cpu, wall = time.process_time() - c0, time.perf_counter() - w0
import json, os
try:
    with open("/proc/self/statm") as f:
        rss = int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
except OSError:
    import resource
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**10
sys.stdout.write(json.dumps({"cpu": cpu, "wall": wall, "rss_mb": rss}) + "\\n")
sys.stdout.flush()
os._exit(0)
"""
