"""What a bench run found, and the plain-text report of it (printed even after a timeout)."""

from __future__ import annotations

import argparse
import math
import platform
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

from bench.bots import RunningBot
from bench.load import Outcome

OURS, REFERENCE = "crypto-helper", "reference"
BURST_COLUMNS = "bot|replies|seconds|replies/s|p99 ms|bot CPU ms/reply|bench CPU|bot RSS MB"
Load = tuple[dict[str, float], dict[str, float]]  # a phase: RunningBot.meter() before, after


def percentile(values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile (``p`` in 0..100, 100 is the maximum); NaN when empty."""
    return sorted(values)[max(math.ceil(p / 100 * len(values)), 1) - 1] if values else math.nan


def ms(seconds: float) -> str:
    return "-" if math.isnan(seconds) else f"{seconds * 1000:.1f}"


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """Columns padded to their widest cell; the first column left-aligned, others right."""
    cells = [[str(cell) for cell in row] for row in (headers, *rows)]
    widths = [max(map(len, column)) for column in zip(*cells, strict=True)]
    cells.insert(1, ["-" * w for w in widths])
    pads = [str.ljust, *[str.rjust] * (len(widths) - 1)]
    return "\n".join(
        "  ".join(pad(c, w) for pad, c, w in zip(pads, row, widths, strict=True)).rstrip()
        for row in cells
    )


@dataclass
class Flood:
    """The flood phase: the others' latencies (s) without and with the flood."""

    quiet: list[float]
    rss_before: float
    flooded: list[float] = field(default_factory=list)
    rss_peak: float = math.nan
    drain: float = math.nan  # s from queueing the flood to the fake's queue first empty
    timeouts: int = 0
    answers: list[str] = field(default_factory=list)  # to the flooder's taps: pop-up texts


@dataclass
class Report:
    args: argparse.Namespace
    work: Path | None = None
    problems: list[str] = field(default_factory=list)
    bots: list[RunningBot] = field(default_factory=list)  # as started; stopped by the end
    rss: dict[str, dict[str, float]] = field(default_factory=dict)  # bot → checkpoint → MB
    ready_seconds: float = math.nan
    dialogs: tuple[Outcome, Load] | None = None
    bursts: list[tuple[str, Outcome, Load]] = field(default_factory=list)
    flood: Flood | None = None
    verdicts: list[str] = field(default_factory=list)

    def verdict(self, target: str, ok: bool, figures: str) -> str:
        self.verdicts.append(f"  {target}: {'PASS' if ok else 'FAIL'} ({figures})")
        return "PASS" if ok else "FAIL"


def _counts(counter: Mapping[str, object]) -> str:
    return ", ".join(f"{k} ×{v}" for k, v in counter.items()) or "none"


def _share(load: Load, cpu: str) -> str:
    """The ``cpu`` meter's seconds over a phase, as a share of one core."""
    (before, after), seconds = load, load[1]["seconds"] - load[0]["seconds"]
    return f"{100 * (after[cpu] - before[cpu]) / seconds:.0f}%" if seconds > 0 else "-"


def _header(r: Report) -> list[str]:
    a = r.args
    versions = [f"{p} {metadata.version(p)}" for p in ("aiogram", "aiogram-dialog")]
    return [
        "Crypto Helper bench: the real `crypto-helper run` (polling) against fakes on 127.0.0.1",
        f"Python {platform.python_version()}, {', '.join(versions)}; providers "
        f"+{a.latency * 1000:.0f} ms; cache TTL and preload interval {a.ttl:g} s "
        f"(shipped: 60); LOG_LEVEL {a.log_level}; seed {a.seed}",
    ]


def _startup_section(r: Report) -> list[str]:
    busy = f"at {r.args.admins} busy admins"
    startup = {bot.name: bot.startup for bot in r.bots}
    columns = list(dict.fromkeys(c for rss in r.rss.values() for c in rss))
    rows = [
        (name, f"{startup[name]:.2f}", *(f"{rss.get(c, math.nan):.1f}" for c in columns))
        for name, rss in r.rss.items()
    ]
    ours, ref = r.rss.get(OURS, {}).get("busy"), r.rss.get(REFERENCE, {}).get("busy", math.inf)
    if ours is not None:
        figures = f"{ours:.1f} MB" + (f" vs {ref:.1f} MB" if ref < math.inf else "")
        r.verdict(f"RSS {busy} ≤ 110 MB and below the reference", ours <= min(110, ref), figures)
    if OURS in startup:
        figures = ", ".join(f"{name} {s:.2f} s" for name, s in startup.items())
        r.verdict("start → first getUpdates ≤ 1.2 s", startup[OURS] <= 1.2, figures)
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
    if r.dialogs is None:
        return []
    (out, load), a = r.dialogs, r.args
    rows = [
        (step, len(v), *(ms(percentile(v, p)) for p in (50, 95, 99, 100)))
        for step, v in out.latencies.items()
    ]
    quotes = out.latencies["result"]
    p99, slow = percentile(quotes, 99), sum(1 for q in quotes if q >= a.latency)
    verdict = r.verdict(
        "quote step p99 ≤ 30 ms, no admin waits on upstream",
        bool(quotes) and p99 <= 0.030 and not slow,
        f"p50 {ms(percentile(quotes, 50))}, p95 {ms(percentile(quotes, 95))}, p99 {ms(p99)} ms "
        f"at {a.admins} admins; {slow} quotes ≥ {a.latency * 1000:.0f} ms",
    )
    return [
        "",
        f"2. Dialog step latency: {a.admins} admins × {a.rounds} dialogs at once, "
        f"thinking {a.think:g} s × U(0.5, 1.5) between steps (update queued in the fake →",
        "   the bot's sendMessage/editMessageText for that chat arriving at it)",
        "",
        table(["step", "n", "p50 ms", "p95 ms", "p99 ms", "max ms"], rows),
        "",
        f"{out.dialogs}/{a.admins * a.rounds} dialogs in {out.seconds:.1f} s, "
        f"{out.updates} updates; 'rate unavailable' cards: {out.unavailable}; timeouts: "
        f"{_counts(out.timeouts)}; errors: {_counts(out.errors)}",
        f"CPU: bot {_share(load, 'bot_cpu')} of a core, bench {_share(load, 'bench_cpu')}; quote "
        f"step (amount → result card) p99 {ms(p99)} ms, {slow} waited on upstream → {verdict}",
    ]


def _burst_section(r: Report) -> list[str]:
    if not r.bursts:
        return []
    rows: list[list[str]] = []
    runs: dict[str, list[tuple[float, float]]] = {}  # bot → (replies/s, CPU s per reply)
    for name, b, load in r.bursts:
        replies = b.latencies["source"]
        rate = len(replies) / b.seconds if b.seconds > 0 else 0.0
        before, after = load
        cpu = (after["bot_cpu"] - before["bot_cpu"]) / max(len(replies), 1)
        runs.setdefault(name, []).append((rate, cpu))
        figures = [f"{b.seconds:.2f}", f"{rate:.0f}", ms(percentile(replies, 99))]
        rss, bench = f"{before['rss']:.1f} → {after['rss']:.1f}", _share(load, "bench_cpu")
        rows.append(
            [name, f"{len(replies)}/{b.updates}", *figures, f"{1000 * cpu:.2f}", bench, rss]
        )
    lines = [
        "",
        f"3. Burst: {r.args.burst} × /admin_bot from admins never seen before, queued at "
        "once, to each bot in turn (≤ 100",
        "   updates per getUpdates; seconds: first update queued → last reply arrived)",
        "",
        table(BURST_COLUMNS.split("|"), rows),
    ]
    if OURS in runs and REFERENCE in runs:
        rate, cpu = ({n: percentile([v[i] for v in runs[n]], 50) for n in runs} for i in (0, 1))
        complete = all(not b.timeouts["source"] for n, b, _ in r.bursts if n == OURS)
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
        (name, *(ms(percentile(v, p)) for p in (50, 99, 100)))
        for name, v in (("no flood", f.quiet), (f"{a.flood} taps queued", f.flooded))
    ]
    added = percentile(f.flooded, 99) - percentile(f.quiet, 99)
    r.verdict(
        "another admin's p99 delayed by a 5 000-tap flood ≤ 100 ms",
        added <= 0.100 and not f.timeouts,
        f"+{ms(added)} ms; {f.timeouts} timeouts",
    )
    return [
        "",
        f"4. Flood: one admin queues {a.flood} taps at once; five others take turns sending "
        f"/admin_bot every 50 ms ({a.probes} probes)",
        "",
        table(["", "others p50 ms", "others p99 ms", "max ms"], rows),
        "",
        f"p99 added by the flood {ms(added)} ms; the fake's queue empty after {f.drain:.2f} s; "
        f"RSS {f.rss_before:.0f} → {f.rss_peak:.0f} MB; the flooder's taps answered "
        f"{len(f.answers)}, told 'too fast' {sum('Слишком быстро' in t for t in f.answers)}×",
    ]


def _sanity_section(r: Report) -> list[str]:
    """Calls refused, the bot log's ERROR/WARNING/tracebacks, exit codes (ours first)."""
    bots = r.bots[::-1]
    log = next((bot.process.log() for bot in bots if bot.name == OURS), "").splitlines()
    found = {k: sum(1 for line in log if f" {k} " in line) for k in ("ERROR", "WARNING")}
    found["Traceback"] = sum(1 for line in log if line.startswith("Traceback"))
    return [
        "",
        "5. Sanity",
        *(f"calls the fake refused ({bot.name}): {_counts(bot.tg.refused())}" for bot in bots),
        f"crypto-helper log: {len(log)} lines, {_counts(found)}",
        f"exit codes: {_counts({bot.name: bot.process.returncode for bot in bots})}",
    ]


def render(r: Report) -> str:
    sections = (_startup_section, _dialog_section, _burst_section, _flood_section, _sanity_section)
    lines = _header(r) + [line for section in sections for line in section(r)]
    lines += ["", "Targets (issue 14; 2 shared CPUs)", *(r.verdicts or ["  (none measured)"])]
    if r.problems:
        lines += ["", "PROBLEMS:"] + [f"  {p}" for p in r.problems]
    return "\n".join(lines)
