"""What a bench run found, and the plain-text report of it (printed even after a timeout)."""

from __future__ import annotations

import math
import platform
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from bench.load import Burst, Outcome
from bench.stats import ms, percentile, table

OURS, REFERENCE = "crypto-helper", "reference"
BURST_COLUMNS = ["bot", "replies", "seconds", "replies/s", "p99 ms", "bot CPU ms/reply"]
BURST_COLUMNS += ["bench CPU", "bot RSS MB"]
Load = dict[str, Any]  # a phase: seconds, bot_cpu, bench_cpu (s), rss (MB before, after)


@dataclass
class Flood:
    """The flood phase: the others' latencies (s) without and with the flood."""

    quiet: list[float]
    rss_before: float
    flooded: list[float] = field(default_factory=list)
    rss_peak: float = math.nan
    drain: float = math.nan  # s from queueing the flood to the fake's queue first empty
    timeouts: int = 0
    answered: int = 0  # the flooder's taps answered
    notices: int = 0  # "too fast" pop-ups


@dataclass
class Report:
    args: dict[str, Any]
    work: Path | None = None
    problems: list[str] = field(default_factory=list)
    startup: dict[str, float] = field(default_factory=dict)  # bot → seconds
    rss: dict[str, dict[str, float]] = field(default_factory=dict)  # bot → checkpoint → MB
    ready_seconds: float = math.nan
    dialogs: Outcome | None = None
    dialog_load: Load = field(default_factory=dict)
    bursts: list[tuple[str, Burst, Load]] = field(default_factory=list)
    flood: Flood | None = None
    refused: dict[str, Counter[str]] = field(default_factory=dict)
    exit_codes: dict[str, int | None] = field(default_factory=dict)
    bot_log: str = ""
    verdicts: list[str] = field(default_factory=list)

    def verdict(self, target: str, ok: bool, figures: str) -> str:
        self.verdicts.append(f"  {target}: {'PASS' if ok else 'FAIL'} ({figures})")
        return "PASS" if ok else "FAIL"


def _counts(counter: Mapping[str, object]) -> str:
    return ", ".join(f"{k} ×{v}" for k, v in counter.items()) or "none"


def _share(part: float, whole: float) -> str:
    return f"{100 * part / whole:.0f}%" if whole > 0 else "-"


def _header(r: Report) -> list[str]:
    a = r.args
    versions = [f"{p} {metadata.version(p)}" for p in ("aiogram", "aiogram-dialog")]
    return [
        "Crypto Helper bench: the real `crypto-helper run` (polling) against fakes on 127.0.0.1",
        f"Python {platform.python_version()}, {', '.join(versions)}; providers "
        f"+{a['latency'] * 1000:.0f} ms; cache TTL and preload interval {a['ttl']:g} s "
        f"(shipped: 60); LOG_LEVEL {a['log_level']}; seed {a['seed']}",
    ]


def _startup_section(r: Report) -> list[str]:
    busy = f"at {r.args['admins']} busy admins"
    columns = list(dict.fromkeys(c for rss in r.rss.values() for c in rss))
    rows = [
        (name, f"{r.startup[name]:.2f}", *(f"{rss.get(c, math.nan):.1f}" for c in columns))
        for name, rss in r.rss.items()
    ]
    ours, ref = r.rss.get(OURS, {}).get("busy"), r.rss.get(REFERENCE, {}).get("busy", math.inf)
    if ours is not None:
        figures = f"{ours:.1f} MB" + (f" vs {ref:.1f} MB" if ref < math.inf else "")
        r.verdict(f"RSS {busy} ≤ 110 MB and below the reference", ours <= min(110, ref), figures)
    if OURS in r.startup:
        figures = ", ".join(f"{name} {s:.2f} s" for name, s in r.startup.items())
        r.verdict("start → first getUpdates ≤ 1.2 s", r.startup[OURS] <= 1.2, figures)
    return [
        "",
        f"1. Start-up and memory (start: from just before the spawn; VmRSS in MB; busy: {busy}",
        "   after the dialogs; the reference answers /admin_bot from the same admins, its one "
        "screen being all it serves)",
        "",
        table(["bot", "start → first getUpdates s", *(f"RSS {c}" for c in columns)], rows),
        "",
        f"crypto-helper: /health/ready with every direction cached {r.ready_seconds:.2f} s "
        "after its first getUpdates",
    ]


def _dialog_section(r: Report) -> list[str]:
    out, a, load = r.dialogs, r.args, r.dialog_load
    if out is None:
        return []
    rows = [
        (step, len(v), *(ms(percentile(v, p)) for p in (50, 95, 99)), ms(max(v, default=math.nan)))
        for step, v in out.latencies.items()
    ]
    quotes = out.latencies["result"]
    p99, slow = percentile(quotes, 99), sum(1 for q in quotes if q >= a["latency"])
    verdict = r.verdict(
        "quote step p99 ≤ 30 ms, no admin waits on upstream",
        bool(quotes) and p99 <= 0.030 and not slow,
        f"p50 {ms(percentile(quotes, 50))}, p95 {ms(percentile(quotes, 95))}, p99 {ms(p99)} ms "
        f"at {a['admins']} admins; {slow} quotes ≥ {a['latency'] * 1000:.0f} ms",
    )
    return [
        "",
        f"2. Dialog step latency: {a['admins']} admins × {a['rounds']} dialogs at once, "
        f"thinking {a['think']:g} s × U(0.5, 1.5) between steps (update queued in the fake →",
        "   the bot's sendMessage/editMessageText for that chat arriving at it)",
        "",
        table(["step", "n", "p50 ms", "p95 ms", "p99 ms", "max ms"], rows),
        "",
        f"{out.dialogs}/{a['admins'] * a['rounds']} dialogs in {out.seconds:.1f} s, "
        f"{out.updates} updates; 'rate unavailable' cards: {out.unavailable}; timeouts: "
        f"{_counts(out.timeouts)}; errors: {_counts(out.errors)}",
        f"CPU: bot {_share(load['bot_cpu'], load['seconds'])} of a core, bench "
        f"{_share(load['bench_cpu'], load['seconds'])}; quote step (amount → result card) "
        f"p99 {ms(p99)} ms, {slow} waited on upstream → {verdict}",
    ]


def _burst_section(r: Report) -> list[str]:
    if not r.bursts:
        return []
    rows: list[list[str]] = []
    runs: dict[str, list[tuple[float, float]]] = {}
    for name, b, load in r.bursts:
        cpu = load["bot_cpu"] / max(len(b.latencies), 1)
        runs.setdefault(name, []).append((b.rate, cpu))
        replies, p99 = f"{len(b.latencies)}/{b.sent}", ms(percentile(b.latencies, 99))
        bench, rss = (
            _share(load["bench_cpu"], load["seconds"]),
            "{:.1f} → {:.1f}".format(*load["rss"]),
        )
        rows.append([name, replies, f"{b.seconds:.2f}", f"{b.rate:.0f}", p99, f"{1000 * cpu:.2f}"])
        rows[-1] += [bench, rss]
    lines = [
        "",
        f"3. Burst: {r.args['burst']} × /admin_bot from admins never seen before, queued at "
        "once, to each bot in turn (≤ 100",
        "   updates per getUpdates; seconds: first update queued → last reply arrived)",
        "",
        table(BURST_COLUMNS, rows),
    ]
    if OURS in runs and REFERENCE in runs:
        rate, cpu = ({n: percentile([v[i] for v in runs[n]], 50) for n in runs} for i in (0, 1))
        complete = all(b.sent == len(b.latencies) for n, b, _ in r.bursts if n == OURS)
        ratio = rate[OURS] / rate[REFERENCE]
        figures = f"median {rate[OURS]:.0f} vs {rate[REFERENCE]:.0f} replies/s, ×{ratio:.2f}"
        verdict = r.verdict("burst throughput ≥ the reference", ratio >= 1 and complete, figures)
        lines += [
            "",
            f"{figures} → {verdict}; median bot CPU per reply {1000 * cpu[OURS]:.2f} vs "
            f"{1000 * cpu[REFERENCE]:.2f} ms (×{cpu[OURS] / cpu[REFERENCE]:.2f}, steadier)",
        ]
    return lines


def _flood_section(r: Report) -> list[str]:
    f, a = r.flood, r.args
    if f is None:
        return []
    rows = [
        (name, ms(percentile(v, 50)), ms(percentile(v, 99)), ms(max(v, default=math.nan)))
        for name, v in (("no flood", f.quiet), (f"{a['flood']} taps queued", f.flooded))
    ]
    added = percentile(f.flooded, 99) - percentile(f.quiet, 99)
    r.verdict(
        "another admin's p99 delayed by a 5 000-tap flood ≤ 100 ms",
        added <= 0.100 and not f.timeouts,
        f"+{ms(added)} ms; {f.timeouts} timeouts",
    )
    return [
        "",
        f"4. Flood: one admin queues {a['flood']} taps at once; five others take turns sending "
        f"/admin_bot every 50 ms ({a['probes']} probes)",
        "",
        table(["", "others p50 ms", "others p99 ms", "max ms"], rows),
        "",
        f"p99 added by the flood {ms(added)} ms; the fake's queue empty after {f.drain:.2f} s; "
        f"RSS {f.rss_before:.0f} → {f.rss_peak:.0f} MB; the flooder's taps answered "
        f"{f.answered}, told 'too fast' {f.notices}×",
    ]


def render(r: Report) -> str:
    lines = _header(r)
    for section in (_startup_section, _dialog_section, _burst_section, _flood_section):
        lines += section(r)
    log = r.bot_log.splitlines()
    found = {k: sum(1 for line in log if f" {k} " in line) for k in ("ERROR", "WARNING")}
    found["Traceback"] = sum(1 for line in log if line.startswith("Traceback"))
    lines += ["", "5. Sanity"]
    lines += [f"calls the fake refused ({n}): {_counts(c)}" for n, c in r.refused.items()]
    lines += [f"crypto-helper log: {len(log)} lines, {_counts(found)}"]
    lines += [f"exit codes: {_counts(r.exit_codes)}", "", "Targets (issue 14; 2 shared CPUs)"]
    lines += r.verdicts or ["  (none measured)"]
    if r.problems:
        lines += ["", "PROBLEMS:"] + [f"  {p}" for p in r.problems]
    return "\n".join(lines)
