"""``python -m bench.run``: load the real ``crypto-helper run`` process and print a report.

Everything runs on 127.0.0.1: two fake Bot APIs (:mod:`bench.telegram`, the e2e fake adapted
for load), the fake Rapira and APILayer of ``tests/e2e`` with latency injected, the bot as a
subprocess in polling mode, and the hand-written reference bot (:mod:`bench.reference_bot`).
Phases, each bounded in updates and time, all under ``--timeout``:

0. start both bots; wait until crypto-helper's ``/health/ready`` shows every direction cached
   (the preloader's work); warm-up: one whole dialog per direction, a few ``/admin_bot`` for
   the reference;
1. dialogs: ``--admins`` admins walk ``--rounds`` whole dialogs each, thinking between steps;
2. burst: ``--burst`` × ``/admin_bot`` from admins never seen before, to the reference and to
   crypto-helper in turn, ``--burst-repeats`` times (the idle one only long-polls meanwhile);
3. soak: ``--soak`` updates of back-to-back dialogs, VmRSS sampled throughout;
then the report: step latencies, burst throughput, upstream calls per TTL window, memory.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import random
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

if __package__ in (None, ""):  # run as a script: python bench/run.py
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import yaml

from bench.bots import (
    STOP_GRACE,
    Meter,
    RunningBot,
    Wrapper,
    directions_of,
    effective_ttl,
    heap_census,
    start_crypto_helper,
    start_reference,
    wait_ready,
)
from bench.e2e import ROOT, FakeProviders
from bench.load import Direction, burst, dialogs, soak, warm_up
from bench.process import Child, rss_mb
from bench.profile import py_spy_child, summarize
from bench.report import REFERENCE, Report, render
from bench.stats import LoopLag

WARM_IDS = 9_000_001
DIALOG_IDS = 10_000_001
BURST_IDS = 20_000_001
REFERENCE_WARM = 50


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.run",
        description="Load the real crypto-helper bot on 127.0.0.1 and print a report.",
    )
    add = parser.add_argument
    add("--admins", type=int, default=200, help="concurrent admins in the dialog phase")
    add("--rounds", type=int, default=3, help="whole dialogs per admin in the dialog phase")
    add("--think", type=float, default=1.0, help="mean seconds an admin thinks between steps")
    add("--burst", type=int, default=2000, help="/admin_bot from this many distinct admins")
    add("--burst-repeats", type=int, default=3, help="bursts per bot, taken in turn")
    add("--soak", type=int, default=20_000, help="updates in the memory soak (target: 100k)")
    add("--latency", type=float, default=0.3, help="seconds of latency in the fake providers")
    add("--ttl", type=float, default=10.0, help="cache.ttl_seconds and preload interval")
    add("--timeout", type=float, default=900.0, help="stop everything after this many seconds")
    add("--step-timeout", type=float, default=30.0, help="longest wait for one reply")
    add("--seed", type=int, default=1, help="seed of the admins' choices and pauses")
    add("--log-level", default="INFO", help="LOG_LEVEL of both bots (INFO is the default)")
    add("--skip-reference", action="store_true", help="do not run the reference bot")
    add("--profile", metavar="FILE", type=Path, help="py-spy the bot in phases 1-3, raw output")
    add("--trace", metavar="FILE", type=Path, help="write every dialog step as CSV here")
    add("--keep", action="store_true", help="keep the work folder (bot logs, config)")
    add("--gc-probe", action="store_true", help="time the bot's GC (via bench/gc_probe.py)")
    add(
        "--gc-freeze",
        action="store_true",
        help="what-if: --gc-probe plus gc.freeze() after the bot's imports (not the shipped bot)",
    )
    add(
        "--pin-generics",
        action="store_true",
        help="what-if: --gc-probe plus aiogram's Response[...] classes built once and kept",
    )
    args = parser.parse_args(argv)
    for name in ("admins", "rounds", "burst", "soak", "burst_repeats"):
        if getattr(args, name) < 0:
            parser.error(f"--{name.replace('_', '-')} must not be negative")
    if min(args.ttl, args.timeout, args.step_timeout) <= 0 or args.think < 0:
        parser.error("--ttl, --timeout and --step-timeout must be positive, --think not negative")
    return args


def settle() -> None:
    """Collect and freeze the bench's own heap, so its GC does not pause the next phase."""
    gc.collect()
    gc.freeze()


def say(text: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


class Bench:
    """One run: the phases, in order, filling :attr:`report` as they go."""

    def __init__(self, args: argparse.Namespace, report: Report, work: Path) -> None:
        self.args = args
        self.report = report
        self.work = work
        self.config = yaml.safe_load((ROOT / "config.yaml").read_text(encoding="utf-8"))
        self.directions: list[Direction] = directions_of(self.config)
        self.rng = random.Random(args.seed)
        self.lag = LoopLag()
        self.warm_ids = list(range(WARM_IDS, WARM_IDS + max(len(self.directions), REFERENCE_WARM)))
        self.dialog_ids = list(range(DIALOG_IDS, DIALOG_IDS + args.admins))
        self.burst_ids = [
            list(range(BURST_IDS + i * args.burst, BURST_IDS + (i + 1) * args.burst))
            for i in range(args.burst_repeats if args.burst else 0)
        ]

    async def run(self, providers: FakeProviders) -> None:
        args, report = self.args, self.report
        all_burst_ids = [uid for ids in self.burst_ids for uid in ids]
        report.ttl = {p: effective_ttl(self.config, p, args.ttl) for p in ("rapira", "apilayer")}
        self.lag.start()
        reference: RunningBot | None = None
        bot: RunningBot | None = None
        spy: Child | None = None
        started = time.monotonic()
        try:
            if self.burst_ids and not args.skip_reference:
                say("reference bot: start, warm-up")
                reference = await start_reference(
                    self.work,
                    self.warm_ids + all_burst_ids,
                    args.log_level,
                    self.warm_ids[:REFERENCE_WARM],
                    args.step_timeout,
                )
            say("crypto-helper: start")
            wrapper = None
            if args.gc_probe or args.gc_freeze or args.pin_generics:
                wrapper = Wrapper(self.work / "gc.json", args.gc_freeze, args.pin_generics)
                report.wrapper = "bench/gc_probe.py"
                report.wrapper += " + gc.freeze()" if args.gc_freeze else ""
                report.wrapper += " + pinned Response[...] classes" if args.pin_generics else ""
            started = time.monotonic()
            bot = await start_crypto_helper(
                self.work,
                providers,
                self.warm_ids + self.dialog_ids + all_burst_ids,
                ttl=args.ttl,
                log_level=args.log_level,
                wrapper=wrapper,
            )
            report.pid = bot.pid
            report.rss["started (first getUpdates)"] = rss_mb(bot.pid)
            say("crypto-helper: waiting for /health/ready with every direction cached")
            report.ready_seconds = await wait_ready(bot)
            say(f"crypto-helper: warm-up, one dialog per direction ({len(self.directions)})")
            report.warm_up = await warm_up(
                bot.tg, self.warm_ids[: len(self.directions)], self.directions, args.step_timeout
            )
            settle()
            report.rss["after warm-up"] = rss_mb(bot.pid)
            metrics_before = await bot.metrics()
            if args.profile is not None:
                spy = py_spy_child(bot.pid, args.profile.resolve(), self.work / "py-spy.log")
                if spy is None:
                    say("py-spy not found: no profile")
                else:
                    spy.start()
                    await asyncio.sleep(1.0)
            await self.dialog_phase(bot)
            await self.burst_phase(bot, reference)
            await self.soak_phase(bot)
            metrics_after = await bot.metrics()
            report.metrics = {
                k: metrics_after.get(k, 0.0) - metrics_before.get(k, 0.0) for k in metrics_after
            }
            report.metrics_total = metrics_after
            report.rss["end"] = rss_mb(bot.pid)
        finally:
            await self.lag.stop()
            report.upstream_seconds = time.monotonic() - started
            report.upstream = {
                name: [c.at - started for c in providers.calls(name) if c.at >= started]
                for name in report.ttl
            }
            if spy is not None:
                await spy.stop(STOP_GRACE, signal.SIGINT)  # py-spy writes its file on Ctrl-C
            if reference is not None:
                report.reference_refused = sum(reference.tg.refused.values())
                report.exit_codes[reference.name] = await reference.stop()
            if bot is not None:
                report.polls = bot.tg.poll_stats
                report.refused = dict(bot.tg.refused)
                report.exit_codes[bot.name] = await bot.stop()
                report.bot_log = bot.child.log()
            gc_log = self.work / "gc.json"
            if gc_log.exists():
                report.gc = json.loads(gc_log.read_text(encoding="utf-8"))

    async def dialog_phase(self, bot: RunningBot) -> None:
        args = self.args
        if not (args.admins and args.rounds):
            return
        say(f"dialogs: {args.admins} admins × {args.rounds} dialogs, think {args.think:g} s")
        meter = Meter(bot.pid, self.lag)
        self.report.dialogs = await dialogs(
            bot.tg,
            self.dialog_ids,
            rounds=args.rounds,
            think=args.think,
            directions=self.directions,
            rng=self.rng,
            step_timeout=args.step_timeout,
            trace=args.trace is not None,
        )
        self.report.dialog_load = meter.read()
        self.report.phases["dialogs"] = (meter.started, time.monotonic())
        settle()
        self.report.rss["after dialogs"] = rss_mb(bot.pid)

    async def burst_phase(self, bot: RunningBot, reference: RunningBot | None) -> None:
        if not self.burst_ids:
            return
        started = time.monotonic()
        for round_, ids in enumerate(self.burst_ids, 1):
            for target in (reference, bot):
                if target is None:
                    continue
                name = REFERENCE if target is reference else target.name
                say(f"burst {round_}/{len(self.burst_ids)}: {len(ids)} × /admin_bot → {name}")
                meter = Meter(target.pid, self.lag)
                result = await burst(target.tg, ids, self.args.step_timeout * 4)
                self.report.bursts.append((name, result, meter.read()))
                settle()
        self.report.phases["burst"] = (started, time.monotonic())
        self.report.rss["after bursts"] = rss_mb(bot.pid)

    async def soak_phase(self, bot: RunningBot) -> None:
        args, report = self.args, self.report
        if not args.soak:
            return
        admins = self.dialog_ids or self.warm_ids[: len(self.directions)]
        say(f"soak: {args.soak} updates from {len(admins)} admins, back to back")
        census = self.report.wrapper is not None
        if census:
            report.heap.append(await heap_census(bot, self.work / "gc.json"))
        delivered0 = bot.tg.poll_stats.delivered
        samples: list[tuple[float, float]] = [(0.0, rss_mb(bot.pid))]
        report.rss["soak start"] = samples[0][1]
        step = max(args.soak // 10, 1)

        async def sample() -> None:
            next_say = step
            while True:
                await asyncio.sleep(0.5)
                done = bot.tg.poll_stats.delivered - delivered0
                samples.append((float(done), rss_mb(bot.pid)))
                if done >= next_say:
                    say(f"soak: {done} updates, RSS {samples[-1][1]:.1f} MB")
                    next_say += step

        sampler = asyncio.create_task(sample())
        started = time.monotonic()
        try:
            report.soak = await soak(
                bot.tg,
                admins,
                updates=args.soak,
                directions=self.directions,
                rng=self.rng,
                step_timeout=args.step_timeout,
            )
        finally:
            sampler.cancel()
            await asyncio.gather(sampler, return_exceptions=True)
            samples.append((float(bot.tg.poll_stats.delivered - delivered0), rss_mb(bot.pid)))
            report.rss["soak end"] = samples[-1][1]
            report.soak_samples = samples
            report.phases["soak"] = (started, time.monotonic())
        if census:
            report.heap.append(await heap_census(bot, self.work / "gc.json"))


async def main_async(args: argparse.Namespace, report: Report) -> int:
    main_task = asyncio.current_task()
    assert main_task is not None
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):  # stop the children first, then exit
        loop.add_signal_handler(sig, main_task.cancel)
    work = Path(tempfile.mkdtemp(prefix="crypto-helper-bench-"))
    report.work = work
    providers = FakeProviders().start()
    for name in ("rapira", "apilayer"):
        providers.latency(name, args.latency)
    try:
        async with asyncio.timeout(args.timeout):
            await Bench(args, report, work).run(providers)
    except TimeoutError:
        report.problems.append(f"stopped by --timeout after {args.timeout:g} s")
        return 1
    except asyncio.CancelledError:
        report.problems.append("interrupted (SIGINT/SIGTERM); subprocesses stopped")
        return 130
    except RuntimeError as exc:
        report.problems.append(str(exc))
        return 1
    finally:
        providers.stop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
    report.complete = True
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    return 0


def write_trace(path: Path, rows: list[tuple[float, int, str, float]]) -> None:
    """CSV of the dialog steps: queued (monotonic s), admin, step, latency ms."""
    lines = ["queued_at,admin,step,latency_ms"]
    lines += [f"{at:.6f},{admin},{step},{1000 * s:.3f}" for at, admin, step, s in sorted(rows)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    report = Report(args=vars(args), cpus=os.cpu_count() or 0)
    try:
        code = asyncio.run(main_async(args, report))
    except KeyboardInterrupt:
        report.problems.append("interrupted (Ctrl-C)")
        code = 130
    if args.trace is not None and report.dialogs is not None and report.dialogs.trace:
        write_trace(args.trace, report.dialogs.trace)
    if args.profile is not None and args.profile.exists():
        report.profile = summarize(args.profile)
    print(render(report))
    if report.work is not None and report.work.exists():
        print(f"\nwork folder (bot logs, config): {report.work}")
    return code


if __name__ == "__main__":
    sys.exit(main())
