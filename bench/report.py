"""What a bench run found, and the plain-text report of it (printed even after a timeout)."""

from __future__ import annotations

import itertools
import math
import platform
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from bench.load import STEPS, Burst, Outcome
from bench.stats import ms, percentile, slope, table, verdict
from bench.telegram import PollStats

QUOTE_STEP = "result"
QUOTE_P99_TARGET = 0.030
RSS_TARGET_MB = 2.0
PER_UPDATES = 100_000
REFERENCE = "reference (aiogram FSM)"
OURS = "crypto-helper"
GAP_TOLERANCE = 0.9


@dataclass
class Report:
    args: dict[str, Any]
    cpus: int
    work: Path | None = None
    complete: bool = False
    problems: list[str] = field(default_factory=list)
    pid: int | None = None
    ready_seconds: float | None = None
    rss: dict[str, float] = field(default_factory=dict)
    warm_up: Outcome | None = None
    dialogs: Outcome | None = None
    dialog_load: dict[str, Any] | None = None
    bursts: list[tuple[str, Burst, dict[str, Any]]] = field(default_factory=list)
    soak: Outcome | None = None
    soak_samples: list[tuple[float, float]] = field(default_factory=list)
    metrics: dict[str, float] = field(default_factory=dict)
    metrics_total: dict[str, float] = field(default_factory=dict)
    ttl: dict[str, float] = field(default_factory=dict)
    upstream: dict[str, list[float]] = field(default_factory=dict)
    upstream_seconds: float = 0.0
    exit_codes: dict[str, int | None] = field(default_factory=dict)
    bot_log: str = ""
    polls: PollStats | None = None
    refused: dict[str, int] = field(default_factory=dict)
    reference_refused: int = 0
    profile: str | None = None
    verdicts: dict[str, str] = field(default_factory=dict)
    wrapper: str | None = None
    phases: dict[str, tuple[float, float]] = field(default_factory=dict)
    gc: dict[str, Any] | None = None
    heap: list[dict[str, Any]] = field(default_factory=list)


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "?"


def _pct(part: float, whole: float) -> str:
    return f"{100 * part / whole:.0f}%" if whole > 0 else "-"


def _lag(load: dict[str, Any]) -> str:
    lag = load.get("lag") or []
    return f"p99 {ms(percentile(lag, 99))} ms, max {ms(max(lag, default=math.nan))} ms"


def _counts(counter: dict[str, int]) -> str:
    return ", ".join(f"{k} ×{v}" for k, v in counter.items()) or "none"


def _header(r: Report) -> list[str]:
    a = r.args
    return [
        "=" * 99,
        "Crypto Helper bench — the real `crypto-helper run` (polling) against fakes on 127.0.0.1",
        "=" * 99,
        f"machine: {r.cpus} CPUs shared by the bench and the bot; Python "
        f"{platform.python_version()}; aiogram {_version('aiogram')}, aiogram-dialog "
        f"{_version('aiogram-dialog')}",
        f"setup: fake providers +{a['latency'] * 1000:.0f} ms; cache.ttl_seconds and "
        f"preload.interval_seconds {a['ttl']:g} s (shipped: 60); LOG_LEVEL {a['log_level']}; "
        f"seed {a['seed']}" + (f"; bot pid {r.pid}" if r.pid else ""),
    ] + (
        [f"bot started through {r.wrapper} (a diagnosis run, not the shipped start-up)"]
        if r.wrapper
        else []
    )


def _dialog_section(r: Report) -> list[str]:
    out = r.dialogs
    if out is None:
        return []
    a = r.args
    rows = []
    for step in STEPS:
        values = out.latencies[step]
        rows.append(
            (
                step,
                len(values),
                ms(percentile(values, 50)),
                ms(percentile(values, 95)),
                ms(percentile(values, 99)),
                ms(max(values, default=math.nan)),
            )
        )
    lines = [
        "",
        f"1. Dialog step latency — {a['admins']} admins × {a['rounds']} dialogs at once, "
        f"thinking {a['think']:g} s × U(0.5, 1.5) between steps",
        "   (update queued in the fake → the bot's sendMessage/editMessageText for that chat "
        "arriving; after warm-up)",
        "",
        table(["step", "n", "p50 ms", "p95 ms", "p99 ms", "max ms"], rows),
        "",
        f"dialogs: {out.dialogs}/{a['admins'] * a['rounds']} completed in {out.seconds:.1f} s; "
        f"{out.updates} updates ({out.updates / out.seconds:.0f}/s offered); "
        f"'rate unavailable' cards: {out.unavailable}; timeouts: {_counts(out.timeouts)}; "
        f"errors: {_counts(out.errors)}",
    ]
    load = r.dialog_load
    if load:
        lines.append(
            f"CPU: bot {_pct(load['bot_cpu'], load['seconds'])} of a core, bench "
            f"{_pct(load['bench_cpu'], load['seconds'])}; bench loop lag {_lag(load)}; "
            f"bot CPU per update {1000 * load['bot_cpu'] / max(out.updates, 1):.2f} ms"
        )
    quotes = out.latencies[QUOTE_STEP]
    p99 = percentile(quotes, 99)
    slow = sum(1 for q in quotes if q >= a["latency"])
    ok = bool(quotes) and p99 <= QUOTE_P99_TARGET and slow == 0
    r.verdicts["quote step p99 ≤ 30 ms, no admin waits on upstream"] = (
        f"{verdict(ok)} (p99 {ms(p99)} ms at {a['admins']} admins; {slow} quotes ≥ "
        f"{a['latency'] * 1000:.0f} ms)"
    )
    m = r.metrics
    lines.append(
        f"quote step (amount → result card): p99 {ms(p99)} ms, target ≤ 30 ms → "
        f"{verdict(p99 <= QUOTE_P99_TARGET)}; quotes that took ≥ the provider latency: {slow}"
    )
    if m:
        lines.append(
            "bot rate cache over phases 1-3 (/metrics): "
            f"{m.get('crypto_helper_cache_hits_total', 0):.0f} fresh hits, "
            f"{m.get('crypto_helper_cache_stale_hits_total', 0):.0f} stale hits (served at "
            f"once, refreshed behind), {m.get('crypto_helper_cache_misses_total', 0):.0f} "
            "misses (a miss = a quote waited on upstream)"
        )
    return lines


def _burst_section(r: Report) -> list[str]:
    if not r.bursts:
        return []
    rows = []
    for name, b, load in r.bursts:
        rows.append(
            (
                name,
                f"{len(b.latencies)}/{b.sent}",
                f"{b.seconds:.2f}",
                f"{b.rate:.0f}",
                ms(percentile(b.latencies, 50)),
                ms(percentile(b.latencies, 99)),
                f"{1000 * load['bot_cpu'] / max(len(b.latencies), 1):.2f}",
                _pct(load["bench_cpu"], load["seconds"]),
                ms(percentile(load["lag"], 99)),
                "{:.1f} → {:.1f}".format(*load["rss"]),
            )
        )
    lines = [
        "",
        f"2. Burst — {r.args['burst']} × /admin_bot from admins never seen before, queued at "
        "once, to each bot in turn",
        "   (the fake hands out ≤ 100 updates per getUpdates; seconds: first update queued → "
        "last first-screen reply arrived)",
        "",
        table(
            [
                "bot",
                "replies",
                "seconds",
                "replies/s",
                "p50 ms",
                "p99 ms",
                "bot CPU ms/reply",
                "bench CPU",
                "bench lag p99",
                "bot RSS MB",
            ],
            rows,
        ),
    ]

    def medians(name: str) -> tuple[float, float]:
        runs = [(b, load) for n, b, load in r.bursts if n == name]
        rate = percentile([b.rate for b, _ in runs], 50)
        cpu = percentile([load["bot_cpu"] / max(len(b.latencies), 1) for b, load in runs], 50)
        return rate, cpu

    names = {n for n, _, _ in r.bursts}
    if {OURS, REFERENCE} <= names:
        (ours, ours_cpu), (ref, ref_cpu) = medians(OURS), medians(REFERENCE)
        ratio = ours / ref if ref else math.nan
        missing = sum(b.timeouts for n, b, _ in r.bursts if n == OURS)
        ok = ratio >= 1.0 and not missing
        lines += [
            "",
            f"median replies/s: crypto-helper {ours:.0f}, reference {ref:.0f} → ratio "
            f"{ratio:.2f} (target ≥ 1.00) → {verdict(ok)}",
            f"median bot CPU per reply: crypto-helper {1000 * ours_cpu:.2f} ms, reference "
            f"{1000 * ref_cpu:.2f} ms (×{ours_cpu / ref_cpu:.2f}; CPU time is less sensitive to "
            "a noisy neighbour than wall time)",
        ]
        r.verdicts["burst throughput ≥ hand-written reference"] = (
            f"{verdict(ok)} (median {ours:.0f} vs {ref:.0f} replies/s, ×{ratio:.2f})"
        )
    return lines


def _upstream_section(r: Report) -> list[str]:
    if not r.upstream:
        return []
    rows = []
    verdicts = []
    for name, calls in r.upstream.items():
        ttl = r.ttl[name]
        elapsed = r.upstream_seconds
        first = calls[0] if calls else 0.0
        windows = math.floor((elapsed - first) / ttl) + 1
        gaps = [b - a for a, b in itertools.pairwise(calls)]
        min_gap = min(gaps, default=math.inf)
        verdicts.append(len(calls) <= windows and min_gap >= GAP_TOLERANCE * ttl)
        bot_count = r.metrics_total.get(f'crypto_helper_upstream_calls_total{{provider="{name}"}}')
        rows.append(
            (
                name,
                f"{ttl:g}",
                f"{elapsed:.1f}",
                windows,
                len(calls),
                f"{min_gap:.2f}" if gaps else "-",
                "-" if bot_count is None else f"{bot_count:.0f}",
            )
        )
    ok = all(verdicts)
    r.verdicts["≤ 1 upstream call per provider per TTL window"] = (
        f"{verdict(ok)} ("
        + "; ".join(f"{name} {len(calls)} calls" for name, calls in r.upstream.items())
        + ")"
    )
    return [
        "",
        "3. Upstream calls — the fake providers' counters, from the bot's start to its stop",
        "   (TTL: cache.ttl_seconds stretched to monthly_budget as the bot does; windows: "
        "TTL-long windows begun since the first call)",
        "",
        table(
            [
                "provider",
                "TTL s",
                "elapsed s",
                "TTL windows",
                "calls",
                "min gap s",
                "bot's own count",
            ],
            rows,
        ),
        "",
        f"≤ 1 call per provider per TTL window (calls ≤ windows, every gap ≥ "
        f"{GAP_TOLERANCE:g} × TTL for timer jitter) → {verdict(ok)}",
    ]


def _memory_section(r: Report) -> list[str]:
    if not r.rss:
        return []
    lines = [
        "",
        "4. Memory — VmRSS of the bot process (/proc/<pid>/status)",
        "",
        table(["checkpoint", "VmRSS MB"], [(k, f"{v:.1f}") for k, v in r.rss.items()]),
    ]
    samples = r.soak_samples
    if r.soak is not None and len(samples) >= 2:
        updates = samples[-1][0]
        start, end = samples[0][1], samples[-1][1]
        growth = end - start
        per = growth / updates * PER_UPDATES if updates else math.nan
        fit = slope(samples) * PER_UPDATES
        second = [s for s in samples if s[0] >= updates / 2]
        fit2 = slope(second) * PER_UPDATES
        out = r.soak
        quotes = out.latencies[QUOTE_STEP]
        ok = per <= RSS_TARGET_MB
        lines += [
            "",
            f"soak: {updates:.0f} updates delivered in {out.seconds:.1f} s "
            f"({updates / out.seconds:.0f}/s), {out.dialogs} whole dialogs, back to back; "
            f"timeouts: {_counts(out.timeouts)}; errors: {_counts(out.errors)}",
            f"soak latency (closed loop): quote step p50 {ms(percentile(quotes, 50))} ms, "
            f"p99 {ms(percentile(quotes, 99))} ms",
            f"RSS {start:.1f} → {end:.1f} MB: {growth:+.2f} MB over {updates:.0f} updates = "
            f"{per:+.2f} MB per 100k (extrapolated; target ≤ {RSS_TARGET_MB:g}) → {verdict(ok)}",
            f"least-squares slope over {len(samples)} samples: {fit:+.2f} MB per 100k "
            f"(second half only: {fit2:+.2f})",
        ]
        scale = "" if updates >= PER_UPDATES else f", extrapolated from {updates:.0f}"
        r.verdicts["RSS growth ≤ 2 MB per 100k updates after warm-up"] = (
            f"{verdict(ok)} ({per:+.2f} MB per 100k{scale})"
        )
    return lines


def _checks_section(r: Report) -> list[str]:
    lines = ["", "5. Sanity"]
    if r.warm_up is not None:
        w = r.warm_up
        lines.append(
            f"warm-up: /health/ready with every direction cached after "
            f"{r.ready_seconds or 0:.1f} s; {w.dialogs} dialogs (one per direction), "
            f"'rate unavailable' {w.unavailable}, timeouts {_counts(w.timeouts)}"
        )
    if r.polls is not None:
        p = r.polls
        lines.append(
            f"getUpdates (crypto-helper): {p.polls} calls, {p.delivered} updates, "
            f"{p.delivered / max(p.polls, 1):.1f} per call on average, {p.largest_batch} at most"
        )
    lines.append(f"calls the fake Telegram refused (crypto-helper): {_counts(r.refused)}")
    if "reference bot" in r.exit_codes:
        lines.append(f"calls the fake Telegram refused (reference): {r.reference_refused}")
    log = r.bot_log.splitlines()
    errors = sum(1 for line in log if " ERROR " in line)
    warnings = sum(1 for line in log if " WARNING " in line)
    tracebacks = sum(1 for line in log if line.startswith("Traceback"))
    lines.append(
        f"bot log: {len(log)} lines, {errors} ERROR, {warnings} WARNING, {tracebacks} tracebacks"
    )
    lines.append(f"exit codes: {_counts({k: v for k, v in r.exit_codes.items()})}")
    return lines


def _gc_section(r: Report) -> list[str]:
    if not r.gc:
        return []
    totals = r.gc["totals"]
    rows = [
        (
            f"gen {g}",
            t["count"],
            f"{1000 * t['seconds']:.0f}",
            ms(t["seconds"] / t["count"]) if t["count"] else "-",
            ms(t["max"]),
        )
        for g, t in sorted(totals.items())
    ]
    lines = [
        "",
        f"GC of the bot (bench/gc_probe.py; objects frozen at start: {r.gc['frozen']})",
        "",
        table(["collections", "count", "total ms", "mean ms", "max ms"], rows),
        "",
    ]
    builds = r.gc.get("generic_builds")
    if builds:
        lines.append(
            f"pydantic generic classes built (aiogram's Response[...] per API call, cached "
            f"weakly): {builds['count']}, {1000 * builds['seconds']:.0f} ms in all"
        )
    if len(r.heap) >= 2:
        first, last = r.heap[0], r.heap[-1]
        dialogs = r.soak.dialogs if r.soak else 0
        grown = {
            t: last["types"].get(t, 0) - first["types"].get(t, 0)
            for t in set(first["types"]) | set(last["types"])
        }
        top = sorted(grown.items(), key=lambda kv: -kv[1])[:6]
        lines.append(
            f"heap over the soak ({dialogs} dialogs): objects {first['objects']} → "
            f"{last['objects']}; MemoryStorage records {first['storage_records']} → "
            f"{last['storage_records']} (empty: no state, no data: "
            f"{first['empty_storage_records']} → {last['empty_storage_records']})"
        )
        lines.append("  types that grew most: " + ", ".join(f"{t} +{n}" for t, n in top))
    for phase, (start, end) in r.phases.items():
        pauses = [seconds for at, seconds, _ in r.gc["full"] if start <= at <= end]
        lines.append(
            f"full (gen 2) collections during {phase}: {len(pauses)}"
            + (f", {ms(min(pauses))}-{ms(max(pauses))} ms each" if pauses else "")
        )
    return lines


def render(r: Report) -> str:
    lines = _header(r)
    for section in (
        _dialog_section,
        _burst_section,
        _upstream_section,
        _memory_section,
        _checks_section,
        _gc_section,
    ):
        lines += section(r)
    if r.profile:
        lines += ["", "6. Where the bot's time goes (py-spy, phases 1-3)", "", r.profile]
    lines += ["", "Targets (2 CPUs, bench and bot together)"]
    lines += [f"  {name}: {text}" for name, text in r.verdicts.items()] or ["  (none measured)"]
    if r.problems:
        lines += ["", "PROBLEMS:"] + [f"  {p}" for p in r.problems]
    return "\n".join(lines)
