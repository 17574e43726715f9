"""Turn raw per-client results into figures, ratios, target checks and markdown tables."""

from __future__ import annotations

import math
from typing import Any

from drivers import SPECS

# metric -> (scenario, field)
_METRICS = {
    "request": ("request", "median"),
    "tool": ("tool", "median"),
    "chunk": ("stream", "median"),
    "achunk": ("astream", "median"),
    "trickle": ("trickle", "median"),
    "burst": ("burst", "median"),
    "burst_wall": ("burst", "wall_s"),
}
CPU_METRICS = ("request", "tool", "chunk", "achunk", "trickle", "burst")

# Rows derived from two measured processes: raw httpx + a framework's no-network model.
FLOORS = {
    "floor+langchain": ("floor_langchain", "langchain_openai", "floor: httpx + langchain-core"),
    "floor+llama_index": (
        "floor_llama_index",
        "openai_like",
        "floor: httpx + llama-index-core",
    ),
}
ROWS = (
    "httpx",
    "openai",
    "relay",
    "langchain_openai",
    "langchain_holysheep",
    "floor+langchain",
    "openai_like",
    "llama_index_holysheep",
    "floor+llama_index",
)

# (client, metric, peer, max ratio)
TARGETS: tuple[tuple[str, str, str, float], ...] = (
    ("langchain_holysheep", "chunk", "langchain_openai", 0.35),
    ("langchain_holysheep", "achunk", "langchain_openai", 0.35),
    ("langchain_holysheep", "request", "langchain_openai", 0.55),
    ("langchain_holysheep", "burst", "langchain_openai", 0.5),
    ("langchain_holysheep", "import", "langchain_openai", 0.3),
    ("llama_index_holysheep", "chunk", "openai_like", 0.5),
    ("llama_index_holysheep", "achunk", "openai_like", 0.5),
    ("llama_index_holysheep", "request", "openai_like", 0.6),
    ("llama_index_holysheep", "import", "openai_like", 0.85),
    ("relay", "request", "httpx", 1.3),
    ("relay", "chunk", "httpx", 1.3),
    ("relay", "achunk", "httpx", 1.3),
    ("relay", "import", "httpx", 1.5),
)
OURS = ("relay", "langchain_holysheep", "llama_index_holysheep")
POOL_SIZE = 100
FLAT_MB = 1.0  # RSS growth allowed between 10 % and 100 % of the memory run

_NAMES = {
    "request": "CPU per request",
    "tool": "CPU per tool-call request",
    "chunk": "CPU per streamed chunk (sync)",
    "achunk": "CPU per streamed chunk (async)",
    "burst": "async burst CPU per request",
    "import": "import time (CPU)",
}


def _get(result: dict[str, Any], scenario: str, field: str) -> float | None:
    value = result.get("scenarios", {}).get(scenario, {}).get(field)
    return float(value) if isinstance(value, (int, float)) else None


def summarize(results: dict[str, Any], imports: dict[str, Any]) -> dict[str, Any]:
    """Per row: every metric, plus connection counts, memory and import figures."""
    rows: dict[str, dict[str, Any]] = {}
    for key, res in results.items():
        row: dict[str, Any] = {m: _get(res, s, f) for m, (s, f) in _METRICS.items()}
        for m in CPU_METRICS:  # the best repeat: what the code costs without interference
            values = res.get("scenarios", {}).get(_METRICS[m][0], {}).get("values")
            row[f"{m}_min"] = min(values) if values else None
        scen = res.get("scenarios", {})
        burst = scen.get("burst", {})
        per_burst = burst.get("connections_per_burst") or []
        row["conns_burst"] = max(per_burst) if per_burst else None
        row["burst_requests"] = burst.get("requests")
        row["burst_concurrency"] = burst.get("concurrency")
        row["bursts"] = len(burst.get("connections_per_burst", []))
        row["conns_streams"] = sum(
            scen.get(s, {}).get("connections", 0) for s in ("stream", "astream")
        )
        row["streams"] = sum(len(scen.get(s, {}).get("values", [])) for s in ("stream", "astream"))
        mem = scen.get("memory", {})
        row["mem_growth"] = mem.get("growth_mb")
        row["mem_streams"] = mem.get("streams")
        row["mem_from"] = mem.get("from_stream")
        row["conns_memory"] = mem.get("connections")
        row["rss_end"] = res.get("rss_end_mb")
        row["errors"] = res.get("errors")
        rows[key] = row
    for key, imp in imports.items():
        rows.setdefault(key, {})
        rows[key]["import"] = imp["cpu_ms"]
        rows[key]["import_min"] = min(imp["cpu_ms_values"]) if imp.get("cpu_ms_values") else None
        rows[key]["import_wall"] = imp["wall_ms"]
        rows[key]["rss_import"] = imp["rss_mb"]
    base = rows.get("httpx", {})
    for floor_key, (model_key, _peer, _label) in FLOORS.items():
        model = rows.get(model_key)
        if not model or not base:
            continue
        row = {}
        for m in CPU_METRICS:
            for suffix in ("", "_min"):
                fw = model.get(("chunk" if m == "trickle" else m) + suffix)
                b = base.get(m + suffix)
                row[m + suffix] = b + fw if b is not None and fw is not None else None
            row[f"{m}_framework"] = model.get("chunk" if m == "trickle" else m)
        row["import"] = model.get("import")
        row["rss_import"] = model.get("rss_import")
        rows[floor_key] = row
    return {"rows": rows, "targets": check_targets(rows)}


def _ratio(rows: dict[str, Any], key: str, peer: str, metric: str) -> float | None:
    a, b = rows.get(key, {}).get(metric), rows.get(peer, {}).get(metric)
    if a is None or b is None or b == 0:
        return None
    return float(a) / float(b)


def check_targets(rows: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for key, metric, peer, limit in TARGETS:
        ratio = _ratio(rows, key, peer, metric)
        best = _ratio(rows, key, peer, f"{metric}_min")
        out.append(
            {
                "what": f"{SPECS[key].label} vs {SPECS[peer].label}: {_NAMES[metric]}",
                "limit": f"<= {limit:g}x",
                "measured": None if ratio is None else round(ratio, 3),
                "best": None if best is None else round(best, 3),
                "met": None if ratio is None else ratio <= limit,
            }
        )
    for key in OURS:
        row = rows.get(key)
        if not row or row.get("conns_burst") is None:
            out.append(
                {
                    "what": f"{SPECS[key].label}: connections",
                    "met": None,
                    "limit": "",
                    "measured": None,
                }
            )
            continue
        checks = [
            (
                "most connections opened by one burst",
                f"<= pool size {POOL_SIZE}",
                row["conns_burst"],
                row["conns_burst"] <= POOL_SIZE,
            ),
            (
                f"new connections over {row['streams']} sequential streams after warm-up",
                "0 (reused from the pool)",
                row["conns_streams"],
                row["conns_streams"] == 0,
            ),
            (
                f"new connections over {row['mem_streams']} short streams",
                "0 (reused from the pool)",
                row["conns_memory"],
                row["conns_memory"] == 0,
            ),
            (
                f"RSS growth from stream {row['mem_from']} to {row['mem_streams']}",
                f"<= {FLAT_MB} MB (flat)",
                None if row["mem_growth"] is None else round(row["mem_growth"], 2),
                row["mem_growth"] is not None and row["mem_growth"] <= FLAT_MB,
            ),
        ]
        for what, limit_text, measured, met in checks:
            out.append(
                {
                    "what": f"{SPECS[key].label}: {what}",
                    "limit": limit_text,
                    "measured": measured,
                    "met": met,
                }
            )
    return out


# --- markdown ------------------------------------------------------------------------------


def _label(key: str) -> str:
    return FLOORS[key][2] if key in FLOORS else SPECS[key].label


def _peer(key: str) -> str | None:
    return FLOORS[key][1] if key in FLOORS else SPECS[key].peer


def _num(value: float | None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if isinstance(value, int):
        return str(value)
    if value >= 100:
        return f"{value:,.0f}"
    if value >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def _cell(rows: dict[str, Any], key: str, metric: str) -> str:
    value = rows.get(key, {}).get(metric)
    if value is None:
        return "-"
    parts = []
    r = _ratio(rows, key, "httpx", metric)
    if r is not None:
        parts.append(f"{r:.2f}x")
    peer = _peer(key)
    if peer and peer != "httpx":
        r = _ratio(rows, key, peer, metric)
        if r is not None:
            parts.append(f"**{r:.2f}x**")
    return f"{_num(value)} ({', '.join(parts)})" if parts else _num(value)


def _streams(rows: dict[str, Any], present: list[str]) -> int:
    return max((rows[k].get("streams") or 0 for k in present), default=0)


def render(summary: dict[str, Any], meta: dict[str, Any], missing: dict[str, str]) -> str:
    rows = summary["rows"]
    present = [k for k in ROWS if k in rows]
    lines = [
        f"Run {meta['date']}, {meta['mode']} mode, {meta['seconds']} s: `{meta['command']}`  ",
        f"Machine: {meta['cores']} cores, {meta['cpu']}, {meta['platform']}, "
        f"Python {meta['python']}; load average at start "
        f"{', '.join(f'{x:.2f}' for x in meta.get('load_avg_at_start') or [])}.  ",
        "Versions: " + ", ".join(f"{k} {v}" for k, v in meta["versions"].items()) + ".",
        "",
        "Client CPU time in microseconds (process CPU, all threads; median of repeats). "
        "In brackets: ratio to raw httpx, and **in bold** to the matching peer "
        "(ChatOpenAI for LangChain rows, OpenAILike for LlamaIndex rows). "
        "Chunk figures are per content chunk of 2,000-chunk streams read at full speed; "
        "'trickled' is per chunk of 200-chunk streams sent 1 ms apart (one event per read, "
        "as from a real relay).",
        "",
        "| client | per request | per tool-call request | per chunk, sync "
        "| per chunk, async | per chunk, trickled | async burst, per request |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for key in present:
        cells = [_cell(rows, key, m) for m in CPU_METRICS]
        err = rows[key].get("errors")
        suffix = f" (failed: {', '.join(err)})" if err else ""
        lines.append(f"| {_label(key)}{suffix} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "Floor rows add raw httpx to a no-network fake model of the framework yielding the "
        "same chunks (`bench/floor.py`): the least any adapter on that framework can cost.",
        "",
        "| client | import, ms CPU | RSS after import, MB | RSS at end, MB "
        "| RSS growth over memory run, MB | burst wall, s | connections: burst "
        "| connections: sequential streams |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for key in present:
        row = rows[key]
        growth = row.get("mem_growth")
        lines.append(
            f"| {_label(key)} | {_cell(rows, key, 'import')} | {_num(row.get('rss_import'))} "
            f"| {_num(row.get('rss_end'))} "
            f"| {'-' if growth is None else f'{growth:+.2f}'} "
            f"| {_num(row.get('burst_wall'))} | {_num(row.get('conns_burst'))} "
            f"| {_num(row.get('conns_streams')) if key in SPECS else '-'} |"
        )
    mem_rows = [rows[k] for k in present if rows[k].get("mem_streams")]
    n_mem = mem_rows[0]["mem_streams"] if mem_rows else 0
    b_rows = [rows[k] for k in present if rows[k].get("burst_requests")]
    b = b_rows[0] if b_rows else {"burst_requests": 0, "burst_concurrency": 0, "bursts": 0}
    lines += [
        "",
        f"Burst: {b['burst_requests']:,} async requests at concurrency "
        f"{b['burst_concurrency']} (CPU and wall: median of {b['bursts']} bursts); connections: "
        f"the most any one burst opened, counted by the fake relay (the pools hold 100; "
        f"fewer are opened when the client cannot keep 100 requests in flight). Sequential "
        f"streams: new connections opened while reading the measured 2,000-chunk streams "
        f"one after another ({_streams(rows, present)} of them, sync and async; 0 = each "
        f"connection went back to the pool). Memory run: {n_mem:,} streams of 20 chunks, "
        f"RSS growth from 10 % to 100 % of them. Import: median over fresh interpreters "
        f"(floor rows: the framework core alone).",
        "",
        "Targets are judged on the medians. 'Best repeats' is the same ratio between the "
        "fastest repeat of each side: on a noisy shared machine it is the steadier figure; "
        "where the two disagree, the verdict is within noise.",
        "",
        "| target | limit | measured (medians) | best repeats | met |",
        "| --- | --- | ---: | ---: | :---: |",
    ]
    for t in summary["targets"]:
        met = {True: "yes", False: "**NO**", None: "n/a"}[t["met"]]
        measured = t["measured"]
        shown = (
            f"{measured:.2f}x"
            if isinstance(measured, float) and t["limit"].endswith("x")
            else _num(measured)
            if isinstance(measured, (int, float))
            else "-"
        )
        best = t.get("best")
        best_text = f"{best:.2f}x" if isinstance(best, float) else "-"
        if isinstance(best, float) and t["met"] is not None:
            best_met = best <= float(t["limit"].removeprefix("<= ").removesuffix("x"))
            if best_met != t["met"]:
                met += " (best repeats: " + ("yes" if best_met else "no") + ")"
        lines.append(f"| {t['what']} | {t['limit']} | {shown} | {best_text} | {met} |")
    if missing:
        lines.append("")
        for key, err in missing.items():
            lines.append(f"- {SPECS[key].label}: not importable in this environment ({err}).")
    return "\n".join(lines)
